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
    /// <summary>The start of a valid record lying wholly inside [from, end), or -1 when there is none.</summary>
    public static long FindValidRecord(PositionalReader reader, long from, long end)
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
                if (rangeCrc == BinaryPrimitives.ReadUInt32LittleEndian(bytes))
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
}
