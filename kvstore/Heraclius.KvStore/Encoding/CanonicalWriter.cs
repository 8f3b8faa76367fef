using System.Buffers;
using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Encoding;

/// <summary>
/// Writes the canonical binary encoding: fixed field order, little-endian fixed-width integers,
/// u32 length prefixes, no maps. Equal values give equal bytes on every node, which is what
/// lets replicas sign and compare the bytes instead of objects.
/// </summary>
public sealed class CanonicalWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    public CanonicalWriter(int initialCapacity = 256)
    {
        _buffer = new ArrayBufferWriter<byte>(initialCapacity);
    }

    public int Length => _buffer.WrittenCount;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.WrittenMemory;

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public void Clear() => _buffer.ResetWrittenCount();

    public void U8(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }

    public void Bool(bool value) => U8(value ? (byte)1 : (byte)0);

    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void I32(int value) => U32(unchecked((uint)value));

    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    public void I64(long value) => U64(unchecked((ulong)value));

    public void Hash(Hash32 value)
    {
        value.WriteTo(_buffer.GetSpan(Hash32.Size));
        _buffer.Advance(Hash32.Size);
    }

    /// <summary>Raw bytes with no length prefix, for fixed-size fields such as signatures.</summary>
    public void Fixed(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        U32((uint)value.Length);
        Fixed(value);
    }

    public void String(string value)
    {
        var count = System.Text.Encoding.UTF8.GetByteCount(value);
        U32((uint)count);
        var span = _buffer.GetSpan(count);
        System.Text.Encoding.UTF8.GetBytes(value, span);
        _buffer.Advance(count);
    }
}
