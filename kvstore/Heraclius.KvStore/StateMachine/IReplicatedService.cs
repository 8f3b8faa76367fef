namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// A deterministic service replicated by a cluster (the key-value store; later the ledger).
/// It reads and writes only through <paramref name="state"/>, keys starting with a byte other
/// than 0x00 (0x00 belongs to the engine), and turns business refusals into result bytes.
/// </summary>
public interface IReplicatedService
{
    byte[] Execute(IStateAccess state, in ExecutionContext context, ReadOnlySpan<byte> operation);
}
