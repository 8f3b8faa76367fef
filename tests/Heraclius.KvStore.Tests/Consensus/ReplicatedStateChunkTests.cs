using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>A bucket's chunk: its entries in byte order, and what rebuilds the same state and root elsewhere.</summary>
public sealed class ReplicatedStateChunkTests
{
    [Fact]
    public void ChunksWrittenIntoAnotherState_RebuildTheSameRoot()
    {
        var state = Filled(16, 1000, seed: 3);
        var copy = new ReplicatedState(16);
        for (var i = 0; i < state.BucketCount; i++)
        {
            copy.WriteChunk(i, state.ReadChunk(i));
        }

        Assert.Equal(state.ComputeRoot(), copy.ComputeRoot());
        Assert.Equal(state.Count, copy.Count);
    }

    /// <summary>
    /// Entries are sorted by their first 8 bytes first: short keys, keys ending in zero bytes and keys
    /// equal in their first 8 bytes must still come out in plain byte order.
    /// </summary>
    [Fact]
    public void ChunkEntries_AreInByteOrder_ForShortKeysZeroTailsAndSharedPrefixes()
    {
        byte[][] keys =
        [
            [], [0], [0, 0], [1], [1, 0], [1, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0, 0],
            [1, 0, 0, 0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0, 0, 1], [1, 2, 3, 4, 5, 6, 7, 8, 9],
            [1, 2, 3, 4, 5, 6, 7, 8, 8], [1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7],
            [255, 255, 255, 255, 255, 255, 255, 255, 255], [255, 255, 255, 255, 255, 255, 255, 255], [128],
        ];
        var state = new ReplicatedState(1);
        foreach (var key in keys.Reverse())
        {
            state.Set(key, [7]);
        }

        var r = new Heraclius.KvStore.Encoding.CanonicalReader(state.ReadChunk(0));
        var count = r.Count(100);
        var read = new List<byte[]>();
        for (var i = 0; i < count; i++)
        {
            read.Add(r.Bytes(100));
            r.Bytes(100);
        }

        r.End();
        Assert.Equal(keys.Order(ByteArrayComparer.Instance).ToList(), read);
    }

    private static ReplicatedState Filled(int buckets, int entries, int seed)
    {
        var state = new ReplicatedState(buckets);
        Mutate(state, entries, seed);
        return state;
    }

    /// <summary>Random puts of values of random size (0 to 300 bytes), and some deletions, over a small key space.</summary>
    private static void Mutate(ReplicatedState state, int writes, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < writes; i++)
        {
            var key = new byte[1 + random.Next(20)];
            key[0] = (byte)random.Next(4);
            if (key.Length > 1)
            {
                key[1] = (byte)random.Next(64);
            }

            if (random.Next(5) == 0)
            {
                state.Set(key, null);
            }
            else
            {
                var value = new byte[random.Next(300)];
                random.NextBytes(value);
                state.Set(key, value);
            }
        }
    }

    /// <summary>A new state holding the same entries, chunk by chunk.</summary>
    private static ReplicatedState Rebuilt(ReplicatedState state)
    {
        var copy = new ReplicatedState(state.BucketCount);
        for (var i = 0; i < state.BucketCount; i++)
        {
            copy.WriteChunk(i, state.ReadChunk(i));
        }

        return copy;
    }
}
