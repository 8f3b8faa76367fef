namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// Executes one proposal's writes straight into the state while remembering what they replaced,
/// so a proposal that is not decided (a view change chose another) can be rolled back exactly.
/// At most one is open at a time, since at most one height is undecided.
/// </summary>
public sealed class StateTransaction : IStateAccess
{
    private readonly ReplicatedState _state;
    private readonly List<(byte[] Key, byte[]? Old)> _undo;

    public StateTransaction(ReplicatedState state)
    {
        _state = state;
        _undo = state.TakeUndoLog();
    }

    public bool IsOpen { get; private set; } = true;

    public byte[]? Get(byte[] key) => _state.Get(key);

    public byte[]? Get(ReadOnlySpan<byte> key, out byte[]? storedKey) => _state.Get(key, out storedKey);

    public void Put(byte[] key, byte[] value) => Write(key, value);

    /// <summary>Sets a key given as bytes anywhere, with the state's own array of it when it exists (no new key array).</summary>
    public void Put(ReadOnlySpan<byte> key, byte[] value)
    {
        _ = _state.Get(key, out var stored);
        Write(stored ?? key.ToArray(), value);
    }

    public void Delete(byte[] key) => Write(key, null);

    private void Write(byte[] key, byte[]? value)
    {
        if (!IsOpen)
        {
            throw new InvalidOperationException("transaction closed");
        }

        _undo.Add((key, _state.Set(key, value)));
    }

    public void Complete()
    {
        if (!IsOpen)
        {
            return;
        }

        IsOpen = false;
        _undo.Clear();
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
            _state.Set(_undo[i].Key, _undo[i].Old);
        }

        _undo.Clear();
        IsOpen = false;
        _state.ReturnUndoLog(_undo);
    }
}
