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
    private byte[] _buffer;
    private int _length;

    /// <param name="initialCapacity">
    /// The expected size: when the caller knows it exactly, <see cref="Detach"/> hands over the buffer
    /// itself, so a message of hundreds of kilobytes is allocated once instead of grown and copied.
    /// </param>
    public CanonicalWriter(int initialCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        _buffer = initialCapacity == 0 ? [] : GC.AllocateUninitializedArray<byte>(initialCapacity);
    }

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    public byte[] ToArray() => WrittenSpan.ToArray();

    /// <summary>
    /// The written bytes as an array of exactly that length, and the writer left empty: the buffer
    /// itself when it is exactly full (no copy), otherwise a copy.
    /// </summary>
    public byte[] Detach()
    {
        var result = _length == _buffer.Length ? _buffer : WrittenSpan.ToArray();
        _buffer = [];
        _length = 0;
        return result;
    }

    /// <summary>Forgets what was written and keeps the buffer, so a writer reused per message stops allocating.</summary>
    public void Clear() => _length = 0;

    private Span<byte> Take(int count)
    {
        if (_buffer.Length - _length < count)
        {
            Grow(count);
        }

        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    private void Grow(int count)
    {
        var needed = (long)_length + count;
        if (needed > Array.MaxLength)
        {
            throw new InvalidOperationException($"a canonical encoding of {needed} bytes is too large");
        }

        var size = (int)Math.Min(Array.MaxLength, Math.Max(needed, Math.Max(256L, 2L * _buffer.Length)));
        var grown = GC.AllocateUninitializedArray<byte>(size);
        WrittenSpan.CopyTo(grown);
        _buffer = grown;
    }

    /// <summary>Overwrites a u32 written earlier at <paramref name="position"/> (a <see cref="Length"/> taken before writing it): a count known only at the end.</summary>
    public void PatchU32(int position, uint value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, _length - 4);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(position, 4), value);
    }

    /// <summary>The buffer's size: what the writer holds on to between uses after <see cref="Clear"/>.</summary>
    public int Capacity => _buffer.Length;

    public void U8(byte value) => Take(1)[0] = value;

    public void Bool(bool value) => U8(value ? (byte)1 : (byte)0);

    public void U16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), value);

    public void U32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);

    public void I32(int value) => U32(unchecked((uint)value));

    public void U64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);

    public void I64(long value) => U64(unchecked((ulong)value));

    public void Hash(Hash32 value) => value.WriteTo(Take(Hash32.Size));

    /// <summary>Raw bytes with no length prefix, for fixed-size fields such as signatures.</summary>
    public void Fixed(ReadOnlySpan<byte> value) => value.CopyTo(Take(value.Length));

    public void Bytes(ReadOnlySpan<byte> value)
    {
        U32((uint)value.Length);
        Fixed(value);
    }

    public void String(string value)
    {
        var count = System.Text.Encoding.UTF8.GetByteCount(value);
        U32((uint)count);
        System.Text.Encoding.UTF8.GetBytes(value, Take(count));
    }

    /// <summary>The encoded size of <paramref name="value"/> as <see cref="String"/> writes it.</summary>
    public static int StringSize(string value) => 4 + System.Text.Encoding.UTF8.GetByteCount(value);
}
