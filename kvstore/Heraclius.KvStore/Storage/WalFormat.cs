using System.Buffers.Binary;

namespace Heraclius.KvStore.Storage;

/// <summary>
/// The WAL file format, shared by writer, reader and tail search.
/// File: "HWAL" (4 bytes) ‖ format version (u32 LE), then records back to back.
/// Record: payloadLength (u32 LE) ‖ type (u8) ‖ payload ‖ CRC-32C (u32 LE) over (payloadLength ‖ type ‖ payload).
/// </summary>
internal static class WalFormat
{
    /// <summary>2: a checkpoint height's header certifies the root of the state an interval earlier (1 certified its own).</summary>
    public const uint Version = 2;
    public const int FileHeaderSize = 8;
    public const int RecordHeaderSize = 5;
    public const int ChecksumSize = 4;
    public const int RecordOverhead = RecordHeaderSize + ChecksumSize;

    /// <summary>A bigger length can only be damage, so a corrupt length field never allocates more than this.</summary>
    public const int MaxPayloadLength = 64 * 1024 * 1024;

    public static ReadOnlySpan<byte> Magic => "HWAL"u8;

    public static void WriteFileHeader(Span<byte> destination)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[Magic.Length..], Version);
    }

    public static void ThrowIfTooLong(int payloadLength)
    {
        if (payloadLength > MaxPayloadLength)
        {
            throw new ArgumentException($"WAL payload of {payloadLength} bytes exceeds the {MaxPayloadLength}-byte limit");
        }
    }

    /// <summary>Encodes one record into <paramref name="destination"/> (exactly RecordOverhead + payload.Length bytes).</summary>
    public static void Encode(Span<byte> destination, byte type, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)payload.Length);
        destination[4] = type;
        payload.CopyTo(destination[RecordHeaderSize..]);
        var checksummed = RecordHeaderSize + payload.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[checksummed..], Crc32C.Compute(destination[..checksummed]));
    }

    /// <summary>
    /// Checks the record at <paramref name="offset"/> against the region end. Lengths are checked
    /// before anything is allocated, so a damaged length costs at most the bytes that really follow it.
    /// </summary>
    public static WalRecordStatus ReadRecord(
        PositionalReader reader, long offset, long end, bool materialize, out WalRecord record, out long next)
    {
        record = default;
        next = offset;
        if (end - offset < RecordHeaderSize)
        {
            return WalRecordStatus.Truncated;
        }

        var header = reader.Peek(offset, RecordHeaderSize);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var type = header[4];
        var crc = Crc32C.Compute(header);
        if (length > MaxPayloadLength)
        {
            return WalRecordStatus.ImpossibleLength;
        }

        var payloadStart = offset + RecordHeaderSize;
        var checksumAt = payloadStart + length;
        if (checksumAt + ChecksumSize > end)
        {
            return WalRecordStatus.Truncated;
        }

        byte[]? payload = null;
        if (materialize)
        {
            payload = length == 0 ? [] : new byte[length];
            reader.Read(payloadStart, payload);
            crc = Crc32C.Append(crc, payload);
        }
        else
        {
            for (var at = payloadStart; at < checksumAt;)
            {
                var chunk = (int)Math.Min(PositionalReader.WindowSize, checksumAt - at);
                crc = Crc32C.Append(crc, reader.Peek(at, chunk));
                at += chunk;
            }
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(reader.Peek(checksumAt, ChecksumSize)) != crc)
        {
            return WalRecordStatus.BadChecksum;
        }

        record = new WalRecord(type, payload ?? []);
        next = checksumAt + ChecksumSize;
        return WalRecordStatus.Valid;
    }
}
