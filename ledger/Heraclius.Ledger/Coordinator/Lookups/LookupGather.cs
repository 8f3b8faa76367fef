using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;

namespace Heraclius.Ledger.Coordinator.Lookups;

/// <summary>
/// A lookup-transfer in progress, asked of every shard: H(request) ‖ u32 answered ‖ i32 best shard
/// (−1 none) ‖ bitmap of shards that answered (⌈S/8⌉ bytes) ‖ the best answer's bytes (the rest).
/// The best answer is the found one of the smallest shard index, so the result does not depend on
/// the order the shards' answers arrive in.
/// </summary>
internal static class LookupGather
{
    private const int AnsweredAt = Hash32.Size;
    private const int BestAt = AnsweredAt + 4;
    private const int BitmapAt = BestAt + 4;

    public static byte[] Create(Hash32 requestHash, int shards)
    {
        var r = new byte[BitmapAt + BitmapSize(shards)];
        requestHash.WriteTo(r);
        BinaryPrimitives.WriteInt32LittleEndian(r.AsSpan(BestAt), -1);
        return r;
    }

    public static Hash32 RequestHash(byte[] r) => Hash32.Parse(r.AsSpan(0, Hash32.Size));

    public static bool HasAnswered(byte[] r, int shard) => (r[BitmapAt + (shard >> 3)] & (1 << (shard & 7))) != 0;

    public static int Answered(byte[] r) => BinaryPrimitives.ReadInt32LittleEndian(r.AsSpan(AnsweredAt));

    public static int Best(byte[] r) => BinaryPrimitives.ReadInt32LittleEndian(r.AsSpan(BestAt));

    public static ReadOnlySpan<byte> BestAnswer(byte[] r, int shards) => r.AsSpan(BitmapAt + BitmapSize(shards));

    /// <summary>The record after <paramref name="shard"/> answered: a new array (the stored one is never changed in place).</summary>
    public static byte[] WithAnswer(byte[] r, int shards, int shard, bool found, ReadOnlySpan<byte> answer)
    {
        var head = BitmapAt + BitmapSize(shards);
        var best = Best(r);
        var better = found && (best < 0 || shard < best);
        var next = new byte[head + (better ? answer.Length : r.Length - head)];
        r.AsSpan(0, head).CopyTo(next);
        BinaryPrimitives.WriteInt32LittleEndian(next.AsSpan(AnsweredAt), Answered(r) + 1);
        next[BitmapAt + (shard >> 3)] |= (byte)(1 << (shard & 7));
        if (better)
        {
            BinaryPrimitives.WriteInt32LittleEndian(next.AsSpan(BestAt), shard);
            answer.CopyTo(next.AsSpan(head));
        }
        else
        {
            r.AsSpan(head).CopyTo(next.AsSpan(head));
        }

        return next;
    }

    private static int BitmapSize(int shards) => (shards + 7) >> 3;
}
