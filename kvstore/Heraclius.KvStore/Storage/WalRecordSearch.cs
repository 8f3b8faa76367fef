using System.Buffers.Binary;

namespace Heraclius.KvStore.Storage;

/// <summary>
/// Finds whether a complete, valid record starts at any byte offset of a region: the test that
/// tells a torn tail (nothing valid after the bad record) from corruption (valid data after it).
/// </summary>
/// <remarks>
/// Checking every offset directly costs O(region × length) because each plausible length field
/// needs a CRC over up to 64 MiB; over random bytes roughly one offset in 2^32 / region has one,
/// so a torn 32 MiB record would take minutes. Instead one sequential pass keeps the CRC of the
/// prefix [from, pos): a candidate at q with length L is parked until the pass reaches its checksum
/// at r = q + 5 + L, where CRC([q, r)) = CRC([from, r)) ^ Shift(CRC([from, q)), r - q). Time is
/// linear in the region plus O(log L) per candidate; memory is the candidates whose checksum lies
/// ahead (at most the plausible offsets in the last 64 MiB).
/// </remarks>
internal static class WalRecordSearch
{
    /// <summary>
    /// Given a record at <paramref name="damagedAt"/> that is not valid, the start of a valid record that
    /// shows data was written after it (so the damage is corruption), or -1 when there is none (a torn
    /// tail). The rule, and why each step is there, is on <see cref="FileWriteAheadLog"/>.
    /// </summary>
    public static long FindWrittenAfter(PositionalReader reader, long damagedAt, long end)
    {
        var wholeEnd = WholeBatchEnd(reader, damagedAt, end);
        if (wholeEnd >= 0)
        {
            return FindValidRecord(reader, wholeEnd, end);
        }

        if (end - damagedAt >= WalFormat.RecordHeaderSize)
        {
            var header = reader.Peek(damagedAt, WalFormat.RecordHeaderSize);
            var claimedLength = BinaryPrimitives.ReadUInt32LittleEndian(header);
            if (header[4] == WalFormat.BatchType && claimedLength <= WalFormat.MaxPayloadLength)
            {
                var payloadStart = damagedAt + WalFormat.RecordHeaderSize;
                var payloadEnd = Math.Min(payloadStart + claimedLength, end);
                return FindValidRecord(reader, damagedAt + 1, end, payloadStart, payloadEnd);
            }
        }

        return FindValidRecord(reader, damagedAt + 1, end);
    }

    /// <summary>The start of a valid record lying wholly inside [from, end), or -1 when there is none.</summary>
    public static long FindValidRecord(PositionalReader reader, long from, long end) =>
        FindValidRecord(reader, from, end, ignoredStart: 0, ignoredEnd: 0);

    /// <summary>
    /// The start of a valid record lying wholly inside [from, end) but not wholly inside
    /// [<paramref name="ignoredStart"/>, <paramref name="ignoredEnd"/>), or -1 when there is none.
    /// </summary>
    public static long FindValidRecord(PositionalReader reader, long from, long end, long ignoredStart, long ignoredEnd)
    {
        var parked = new PriorityQueue<(long Start, uint PrefixCrc), long>();
        uint prefixCrc = 0;
        for (var pos = from; pos < end; pos++)
        {
            var bytes = reader.Peek(pos, (int)Math.Min(sizeof(uint), end - pos));
            while (parked.TryPeek(out var candidate, out var checksumAt) && checksumAt == pos)
            {
                parked.Dequeue();
                var rangeCrc = prefixCrc ^ Crc32C.Shift(candidate.PrefixCrc, pos - candidate.Start);
                var ignored = candidate.Start >= ignoredStart && pos + WalFormat.ChecksumSize <= ignoredEnd;
                if (rangeCrc == BinaryPrimitives.ReadUInt32LittleEndian(bytes) && !ignored)
                {
                    return candidate.Start;
                }
            }

            if (end - pos >= WalFormat.RecordOverhead)
            {
                var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
                if (length <= WalFormat.MaxPayloadLength && pos + WalFormat.RecordOverhead + length <= end)
                {
                    parked.Enqueue((pos, prefixCrc), pos + WalFormat.RecordHeaderSize + length);
                }
            }

            prefixCrc = Crc32C.Append(prefixCrc, bytes[..1]);
        }

        return -1;
    }

    /// <summary>
    /// If the damaged record at <paramref name="start"/> is a complete batch whose damage lies in its 5-byte
    /// header alone, the offset just past it; else -1. Walks the records that parse validly back to back from
    /// start + 5 and asks, after each, whether the next 4 bytes are the checksum a batch header for exactly
    /// those records would give. Only damage to the header passes: a torn write that lost any of the
    /// batch's content or its checksum breaks the walk or the match (short of a 2^-32 coincidence).
    /// </summary>
    private static long WholeBatchEnd(PositionalReader reader, long start, long end)
    {
        Span<byte> header = stackalloc byte[WalFormat.RecordHeaderSize];
        header[4] = WalFormat.BatchType;
        var payloadStart = start + WalFormat.RecordHeaderSize;
        // CRC of the payload walked so far, extended record by record: CRC(A ‖ B) = Shift(CRC(A), |B|) ^ CRC(B).
        uint payloadCrc = 0;
        for (var at = payloadStart; ;)
        {
            if (WalFormat.ReadRecord(reader, at, end, materialize: false, out _, out var next) != WalRecordStatus.Valid)
            {
                return -1;
            }

            // A valid record's bytes end with their own CRC c, so the CRC of all of them is Append(c, c).
            var ownChecksum = reader.Peek(next - WalFormat.ChecksumSize, WalFormat.ChecksumSize);
            var recordCrc = Crc32C.Append(BinaryPrimitives.ReadUInt32LittleEndian(ownChecksum), ownChecksum);
            payloadCrc = Crc32C.Shift(payloadCrc, next - at) ^ recordCrc;
            at = next;

            var payloadLength = at - payloadStart;
            if (payloadLength > WalFormat.MaxPayloadLength || end - at < WalFormat.ChecksumSize)
            {
                return -1;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)payloadLength);
            var batchCrc = Crc32C.Shift(Crc32C.Compute(header), payloadLength) ^ payloadCrc;
            if (batchCrc == BinaryPrimitives.ReadUInt32LittleEndian(reader.Peek(at, WalFormat.ChecksumSize)))
            {
                return at + WalFormat.ChecksumSize;
            }
        }
    }
}
