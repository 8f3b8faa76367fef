using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.KeyValue;

/// <summary>
/// The shard side of the sharded store: executes each operation a coordinator routed here when this
/// shard's decision processes the coordinator's group (the operation's linearization point) and
/// sends the result back to that coordinator (round 2). Clients never talk to a shard directly.
/// </summary>
public sealed class KvShardService : IReplicatedService
{
    public RequestOutcome ExecuteRequest(IStateAccess state, in StateMachine.ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs) =>
        RequestOutcome.Answered(KvEngine.Execute(state, null));

    public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
        if (KvRouteMessage.TryParse(message) is not { Kind: KvRouteKind.Request } request)
        {
            return;
        }

        var result = KvEngine.Execute(state, KvOperation.TryParse(request.Body));
        outputs.Send(context.SourceCluster, new KvRouteMessage(KvRouteKind.Response, request.ClientId, request.Seq, request.RequestHash, result).ToBytes());
    }
}
