namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// Executes one proposal's writes straight into the state while remembering what they replaced,
/// so a proposal that is not decided (a view change chose another) can be rolled back exactly.
/// At most one is open at a time, since at most one height is undecided.
/// </summary>
public sealed class StateTransaction : IStateAccess
{
    private readonly ReplicatedState _state;
    private readonly UndoLog _undo;

    public StateTransaction(ReplicatedState state)
    {
        _state = state;
        _undo = state.TakeUndoLog();
    }

    public bool IsOpen { get; private set; } = true;

    public byte[]? Get(byte[] key) => _state.Get(key);

    public byte[]? Get(ReadOnlySpan<byte> key) => _state.Get(key);

    public bool TryRead(ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value) => _state.TryRead(key, out value);

    public byte[]? Get(ReadOnlySpan<byte> key, out byte[]? storedKey) => _state.Get(key, out storedKey);

    public void Put(byte[] key, byte[] value) => Write(key, value, delete: false);

    /// <summary>Sets a key given as bytes anywhere (the state copies key and value in).</summary>
    public void Put(ReadOnlySpan<byte> key, byte[] value) => Write(key, value, delete: false);

    /// <summary>Sets a key to a value both given as bytes anywhere (reused buffers: the state copies them in).</summary>
    /// <remarks>
    /// Not an overload of <c>Put</c>: with a value of <c>ReadOnlySpan</c>, a call passing an array key and a
    /// collection literal value (<c>Put(key, [7])</c>) matches this and <see cref="Put(byte[], byte[])"/> equally well.
    /// </remarks>
    public void PutSpan(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => Write(key, value, delete: false);

    public void Delete(byte[] key) => Write(key, default, delete: true);

    private void Write(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool delete)
    {
        if (!IsOpen)
        {
            throw new InvalidOperationException("transaction closed");
        }

        _state.Set(key, value, delete, _undo);
    }

    public void Complete()
    {
        if (!IsOpen)
        {
            return;
        }

        IsOpen = false;
        _state.ReturnUndoLog(_undo);
    }

    public void Rollback()
    {
        if (!IsOpen)
        {
            return;
        }

        for (var i = _undo.Count - 1; i >= 0; i--)
        {
            var existed = _undo.Entry(i, out var key, out var old);
            _state.Set(key, old, delete: !existed, undo: null);
        }

        IsOpen = false;
        _state.ReturnUndoLog(_undo);
    }
}
