using System.Buffers.Binary;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// What an open transaction's writes replaced, in order, packed in one buffer the state reuses: per write,
/// u32 key length ‖ key ‖ i32 old value length (−1: the key was absent) ‖ old value.
/// </summary>
internal sealed class UndoLog
{
    private readonly List<int> _starts = [];
    private byte[] _buffer = new byte[4096];
    private int _used;

    public int Count => _starts.Count;

    public void Record(ReadOnlySpan<byte> key, ReadOnlySpan<byte> old) => Add(key, old, existed: true);

    public void RecordAbsent(ReadOnlySpan<byte> key) => Add(key, default, existed: false);

    /// <summary>Write <paramref name="index"/>'s key and what it replaced; false when the key was absent.</summary>
    public bool Entry(int index, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> old)
    {
        var at = _starts[index];
        var keyLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(at));
        key = _buffer.AsSpan(at + 4, keyLength);
        var oldLength = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(at + 4 + keyLength));
        old = oldLength < 0 ? default : _buffer.AsSpan(at + 8 + keyLength, oldLength);
        return oldLength >= 0;
    }

    public void Clear()
    {
        _starts.Clear();
        _used = 0;
        // An exceptional proposal's buffer is not worth keeping at its size.
        if (_buffer.Length > 1 << 24)
        {
            _buffer = new byte[4096];
        }
    }

    private void Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> old, bool existed)
    {
        var size = 8 + key.Length + old.Length;
        if (_buffer.Length - _used < size)
        {
            var grown = new byte[Math.Max(_buffer.Length * 2L, _used + (long)size)];
            _buffer.AsSpan(0, _used).CopyTo(grown);
            _buffer = grown;
        }

        var span = _buffer.AsSpan(_used);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)key.Length);
        key.CopyTo(span[4..]);
        BinaryPrimitives.WriteInt32LittleEndian(span[(4 + key.Length)..], existed ? old.Length : -1);
        old.CopyTo(span[(8 + key.Length)..]);
        _starts.Add(_used);
        _used += size;
    }
}
