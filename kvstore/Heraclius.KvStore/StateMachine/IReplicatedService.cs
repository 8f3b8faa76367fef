namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// A deterministic service replicated by a cluster (the key-value store; later the ledger).
/// It reads and writes only through the state access it is given (keys starting with a byte
/// other than 0x00, which belongs to the engine), turns business refusals into result bytes, and
/// talks to other clusters and answers clients only through <see cref="IServiceOutputs"/>.
/// </summary>
public interface IReplicatedService
{
    /// <summary>A client's request, executed once (the engine keeps the session window).</summary>
    RequestOutcome ExecuteRequest(IStateAccess state, in ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs);

    /// <summary>One message from a certified group of another cluster, executed once, in the source's order.</summary>
    void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs);
}
