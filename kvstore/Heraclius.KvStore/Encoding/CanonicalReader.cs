using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Encoding;

/// <summary>Reads the canonical encoding; any short read, oversize length or trailing byte is malformed input.</summary>
public ref struct CanonicalReader
{
    // Thread-safe and stateless; one instance, not one (with its fallback objects) per string read.
    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, true);

    private readonly ReadOnlySpan<byte> _data;

    // Set only by Over: the same bytes as _data, for fields read as slices instead of copies.
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly bool _hasMemory;
    private int _position;

    public CanonicalReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _memory = default;
        _hasMemory = false;
        _position = 0;
    }

    private CanonicalReader(ReadOnlyMemory<byte> data)
    {
        _data = data.Span;
        _memory = data;
        _hasMemory = true;
        _position = 0;
    }

    /// <summary>
    /// A reader whose <see cref="BytesMemory"/> returns slices of <paramref name="data"/> instead of
    /// copies. Only for bytes the caller owns for good: what was parsed keeps the whole buffer alive
    /// and sees any later write to it, so never a transport's or a pool's reused buffer.
    /// </summary>
    public static CanonicalReader Over(ReadOnlyMemory<byte> data) => new(data);

    public readonly int Remaining => _data.Length - _position;

    public readonly int Position => _position;

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > Remaining)
        {
            throw new MalformedMessageException($"truncated: wanted {count} bytes, {Remaining} left");
        }

        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }

    /// <summary>The bytes read since <paramref name="start"/> (a <see cref="Position"/>), for keeping the exact encoding of what was read.</summary>
    public readonly ReadOnlySpan<byte> Since(int start) => _data[start.._position];

    public byte U8() => Take(1)[0];

    public bool Bool()
    {
        var b = U8();
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw new MalformedMessageException("boolean out of range"),
        };
    }

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public int I32() => unchecked((int)U32());

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public long I64() => unchecked((long)U64());

    public Hash32 Hash() => Hash32.Parse(Take(Hash32.Size));

    public ReadOnlySpan<byte> Fixed(int count) => Take(count);

    public ReadOnlySpan<byte> BytesSpan(int maxLength)
    {
        var length = U32();
        if (length > (uint)maxLength)
        {
            throw new MalformedMessageException($"field of {length} bytes exceeds the limit of {maxLength}");
        }

        return Take((int)length);
    }

    public byte[] Bytes(int maxLength) => BytesSpan(maxLength).ToArray();

    /// <summary>
    /// A length-prefixed field as a slice of the reader's memory when it was made by <see cref="Over"/>
    /// (no copy), otherwise as a copy: a reader over a span cannot tell whether its bytes stay unchanged.
    /// </summary>
    public ReadOnlyMemory<byte> BytesMemory(int maxLength)
    {
        var span = BytesSpan(maxLength);
        return _hasMemory ? _memory.Slice(_position - span.Length, span.Length) : span.ToArray();
    }

    public string String(int maxBytes)
    {
        var span = BytesSpan(maxBytes);
        try
        {
            return StrictUtf8.GetString(span);
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new MalformedMessageException("invalid UTF-8", e);
        }
    }

    /// <summary>A count of items that follow, bounded so a hostile length cannot make us allocate.</summary>
    public int Count(int max)
    {
        var count = U32();
        if (count > (uint)max)
        {
            throw new MalformedMessageException($"count {count} exceeds the limit of {max}");
        }

        return (int)count;
    }

    public readonly void End()
    {
        if (Remaining != 0)
        {
            throw new MalformedMessageException($"{Remaining} trailing bytes");
        }
    }
}
