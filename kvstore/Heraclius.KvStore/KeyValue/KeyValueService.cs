using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.KeyValue;

/// <summary>The single-cluster key-value store (a topology without shard clusters): every key lives here.</summary>
public sealed class KeyValueService : IReplicatedService
{
    public RequestOutcome ExecuteRequest(IStateAccess state, in StateMachine.ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs) =>
        RequestOutcome.Answered(KvEngine.Execute(state, operation));

    public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
        // A lone cluster exchanges no groups, so execution never calls this.
    }
}
