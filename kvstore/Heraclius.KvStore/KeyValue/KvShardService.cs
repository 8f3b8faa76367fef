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
        RequestOutcome.Answered(KvEngine.Execute(state, (KvOperation?)null));

    public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
        if (!KvRouteView.TryParse(message, out var request) || request.Kind != KvRouteKind.Request)
        {
            return;
        }

        if (!outputs.HasRoom)
        {
            // A coordinator's group of routed Gets is a few dozen bytes each and runs whole (it cannot be left for the next
            // decision), but each answer may be 64 KiB: past the budget the operation does not run here, and says so.
            outputs.Send(context.SourceCluster, KvRouteMessage.Encode(KvRouteKind.Refused, request.ClientIdUtf8, request.Seq, request.RequestHash, []));
            return;
        }

        var result = KvEngine.Execute(state, request.Body);
        outputs.Send(context.SourceCluster, KvRouteMessage.Encode(KvRouteKind.Response, request.ClientIdUtf8, request.Seq, request.RequestHash, result));
    }
}
