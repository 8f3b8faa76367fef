namespace Heraclius.KvStore.StateMachine;

/// <summary>The decided state for a service's read between decisions (<see cref="IReplicatedService.HasTimers"/>): writes are a bug.</summary>
internal sealed class ReadOnlyStateAccess : IStateAccess
{
    private readonly ReplicatedState _state;

    public ReadOnlyStateAccess(ReplicatedState state)
    {
        _state = state;
    }

    public byte[]? Get(byte[] key) => _state.Get(key);

    public byte[]? Get(ReadOnlySpan<byte> key) => _state.Get(key);

    public bool TryRead(ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value) => _state.TryRead(key, out value);

    public byte[]? Get(ReadOnlySpan<byte> key, out byte[]? storedKey) => _state.Get(key, out storedKey);

    public void Put(byte[] key, byte[] value) => throw new InvalidOperationException("state is read-only between decisions");

    public void Delete(byte[] key) => throw new InvalidOperationException("state is read-only between decisions");
}
