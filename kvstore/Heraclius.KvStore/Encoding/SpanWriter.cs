using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Encoding;

/// <summary>
/// Writes the canonical encoding (same rules as <see cref="CanonicalWriter"/>) into a buffer the
/// caller sized exactly: for the small records execution produces per request, where a writer
/// object per record was a measurable share of the allocations.
/// </summary>
public ref struct SpanWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public SpanWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    private Span<byte> Take(int count)
    {
        var span = _buffer.Slice(_position, count);
        _position += count;
        return span;
    }

    public void U8(byte value) => Take(1)[0] = value;

    public void U32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);

    public void U64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);

    public void Hash(Hash32 value) => value.WriteTo(Take(Hash32.Size));

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

    /// <summary>Throws unless the buffer was filled exactly: a size computed wrong is a bug, not a short message.</summary>
    public readonly void End()
    {
        if (_position != _buffer.Length)
        {
            throw new InvalidOperationException($"wrote {_position} of {_buffer.Length} bytes");
        }
    }
}
