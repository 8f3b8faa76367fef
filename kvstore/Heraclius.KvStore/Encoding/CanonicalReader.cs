using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Encoding;

/// <summary>Reads the canonical encoding; any short read, oversize length or trailing byte is malformed input.</summary>
public ref struct CanonicalReader
{
    // Thread-safe and stateless; one instance, not one (with its fallback objects) per string read.
    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, true);

    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public CanonicalReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

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
