using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.KeyValue;

/// <summary>
/// The coordinator side of the sharded store: routes each client operation to its key's shard
/// (round 1), and answers the client when the shard's certified reply arrives (round 3). Keeps no
/// keys itself; the client's session slot holds the request pending in between.
/// </summary>
public sealed class KvCoordinatorService : IReplicatedService
{
    private readonly ShardRouter _router;

    public KvCoordinatorService(ShardRouter router)
    {
        _router = router;
    }

    public RequestOutcome ExecuteRequest(IStateAccess state, in StateMachine.ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs)
    {
        if (!KvOperationView.TryParse(operation, out var op))
        {
            return RequestOutcome.Answered(KvEngine.Execute(state, (KvOperation?)null));
        }

        var shard = _router.ShardOf(op.Key);
        if (!outputs.CanSend(shard))
        {
            return RequestOutcome.Overloaded;
        }

        outputs.Send(shard, KvRouteMessage.Encode(KvRouteKind.Request, context.ClientId, context.Seq, context.RequestHash, operation));
        return RequestOutcome.Deferred;
    }

    public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
        if (!KvRouteView.TryParse(message, out var response))
        {
            return;
        }

        if (response.Kind == KvRouteKind.Response)
        {
            outputs.Answer(response.ClientId, response.Seq, response.RequestHash, response.Body);
        }
        else if (response.Kind == KvRouteKind.Refused)
        {
            outputs.Refuse(response.ClientId, response.Seq, response.RequestHash);
        }
    }
}
