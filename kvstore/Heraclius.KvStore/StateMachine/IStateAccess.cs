namespace Heraclius.KvStore.StateMachine;

/// <summary>What a replicated service may do to the replicated state while it executes a request.</summary>
public interface IStateAccess
{
    byte[]? Get(byte[] key);

    void Put(byte[] key, byte[] value);

    void Delete(byte[] key);
}
