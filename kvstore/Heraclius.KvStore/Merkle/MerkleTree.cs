using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Merkle;

/// <summary>
/// Binary Merkle tree of RFC 9162 shape: leaf = H(0x00 ‖ data), node = H(0x01 ‖ left ‖ right),
/// a tree of n leaves splits at the largest power of two below n (no duplicated leaves, so no
/// two leaf lists share a root). The empty tree's root is H("").
/// </summary>
public static class MerkleTree
{
    private const byte LeafPrefix = 0x00;
    private const byte NodePrefix = 0x01;

    public static Hash32 EmptyRoot { get; } = Hash32.Of([]);

    public static Hash32 LeafHash(ReadOnlySpan<byte> data) => LeafHash(data, []);

    /// <summary>The leaf hash of <paramref name="head"/> ‖ <paramref name="tail"/>, without joining them into one buffer.</summary>
    public static Hash32 LeafHash(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail)
    {
        // The thread's hasher (a fresh hasher, with its native context, per leaf showed in profiles).
        var hash = Hash32.ThreadHasher;
        ReadOnlySpan<byte> prefix = [LeafPrefix];
        hash.AppendData(prefix);
        hash.AppendData(head);
        hash.AppendData(tail);
        return hash.GetHashAndReset();
    }

    public static Hash32 NodeHash(Hash32 left, Hash32 right)
    {
        Span<byte> buffer = stackalloc byte[1 + (2 * Hash32.Size)];
        buffer[0] = NodePrefix;
        left.WriteTo(buffer[1..]);
        right.WriteTo(buffer[(1 + Hash32.Size)..]);
        return Hash32.Of(buffer);
    }

    public static Hash32 Root(IReadOnlyList<Hash32> leafHashes)
    {
        if (leafHashes.Count == 0)
        {
            return EmptyRoot;
        }

        var level = new Hash32[leafHashes.Count];
        for (var i = 0; i < level.Length; i++)
        {
            level[i] = leafHashes[i];
        }

        for (var count = level.Length; count > 1;)
        {
            count = PairUp(level.AsSpan(0, count), level);
        }

        return level[0];
    }

    /// <summary>
    /// Writes the level above <paramref name="below"/> into <paramref name="above"/> (which may be the same array:
    /// each node is written after the pair it hashes is read) and returns its length. Bottom-up, pairing left to
    /// right and carrying an odd last node up unchanged gives the same tree as RFC 9162's largest-power-of-two split.
    /// </summary>
    internal static int PairUp(ReadOnlySpan<Hash32> below, Span<Hash32> above)
    {
        var next = 0;
        for (var i = 0; i + 1 < below.Length; i += 2)
        {
            above[next++] = NodeHash(below[i], below[i + 1]);
        }

        if ((below.Length & 1) == 1)
        {
            above[next++] = below[^1];
        }

        return next;
    }

    /// <summary>The audit path of leaf <paramref name="index"/>, leaf side first (to prove many leaves of one tree, build <see cref="MerkleLevels"/> once).</summary>
    public static MerkleProof Prove(IReadOnlyList<Hash32> leafHashes, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, leafHashes.Count);
        return new MerkleLevels(leafHashes).Prove(index);
    }
}
