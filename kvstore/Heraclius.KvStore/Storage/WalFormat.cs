using System.Buffers.Binary;

namespace Heraclius.KvStore.Storage;

/// <summary>
/// The WAL file format, shared by writer, reader and tail search.
/// File: "HWAL" (4 bytes) ‖ format version (u32 LE), then records back to back.
/// Record: payloadLength (u32 LE) ‖ type (u8) ‖ payload ‖ CRC-32C (u32 LE) over (payloadLength ‖ type ‖ payload).
/// A flush of two or more records is one record of type <see cref="BatchType"/> whose payload is those records,
/// each framed as above; a flush of one record is that record alone.
/// </summary>
internal static class WalFormat
{
    /// <summary>
    /// 3: several records flushed together are one batch record (<see cref="BatchType"/>), so a crash during
    /// a flush loses that flush whole; and the version keeps earlier builds off logs written under one fsync
    /// per decision (docs/proposals/one-fsync-per-decision.md), where a missing prepare record no longer means
    /// no prepare was sent. 2: a checkpoint height's header certifies the root of the state an interval
    /// earlier (1 certified its own).
    /// </summary>
    public const uint Version = 3;

    /// <summary>
    /// Reserved by the storage layer for the record that frames a flush of several records. Every other
    /// type is the caller's (consensus numbers its own from 1); Append and Rewrite refuse this one, since a
    /// caller's record of this type would be read back as a batch.
    /// </summary>
    public const byte BatchType = 255;

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

    public static void ThrowIfReservedType(byte type, string? paramName)
    {
        if (type == BatchType)
        {
            throw new ArgumentException($"WAL record type {BatchType} is reserved by the storage layer for the record that frames a flush", paramName);
        }
    }

    /// <summary>
    /// Refuses a record that would make the flush it joins a batch longer than <see cref="MaxPayloadLength"/>,
    /// which the reader would take for damage. A record that is alone in its flush is never a batch.
    /// </summary>
    public static void ThrowIfBatchFull(int pendingRecords, long pendingRecordBytes, int recordSize)
    {
        if (pendingRecords > 0 && pendingRecordBytes + recordSize > MaxPayloadLength)
        {
            throw new InvalidOperationException(
                $"a WAL flush is written as one batch of at most {MaxPayloadLength} bytes and {pendingRecordBytes} are pending: flush before appending this {recordSize}-byte record");
        }
    }

    /// <summary>
    /// What a flush of <paramref name="records"/> records totalling <paramref name="recordBytes"/> (framing
    /// included) writes: the records alone if there is one, wrapped in a batch record if there are more.
    /// </summary>
    public static long FlushSize(int records, long recordBytes) => records switch
    {
        0 => 0,
        1 => recordBytes,
        _ => recordBytes + RecordOverhead,
    };

    /// <summary>
    /// Frames records already encoded at <c>buffer[RecordHeaderSize..recordsEnd]</c> as one batch record,
    /// writing its header into the <see cref="RecordHeaderSize"/> bytes left free before them and its checksum
    /// after them (so the buffer needs <see cref="ChecksumSize"/> bytes of room past
    /// <paramref name="recordsEnd"/>); returns the length of the batch record, which starts at buffer[0].
    /// </summary>
    public static int FrameBatch(Span<byte> buffer, int recordsEnd)
    {
        var payloadLength = recordsEnd - RecordHeaderSize;
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)payloadLength);
        buffer[4] = BatchType;
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[recordsEnd..], Crc32C.Compute(buffer[..recordsEnd]));
        return recordsEnd + ChecksumSize;
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

    /// <summary>
    /// Reads the records inside the valid batch record [<paramref name="batchStart"/>, <paramref name="batchEnd"/>),
    /// adding them to <paramref name="records"/> when it is given. They must fill its payload exactly, each valid
    /// and none a batch; otherwise returns what is wrong (with its byte offset), else null.
    /// </summary>
    public static string? ReadBatch(PositionalReader reader, long batchStart, long batchEnd, List<WalRecord>? records)
    {
        var payloadEnd = batchEnd - ChecksumSize;
        for (var at = batchStart + RecordHeaderSize; at < payloadEnd;)
        {
            var status = ReadRecord(reader, at, payloadEnd, materialize: records is not null, out var record, out var next);
            if (status != WalRecordStatus.Valid)
            {
                return $"its inner record at byte offset {at} is not valid ({status})";
            }

            if (record.Type == BatchType)
            {
                return $"its inner record at byte offset {at} is itself a batch";
            }

            records?.Add(record);
            at = next;
        }

        return null;
    }
}
