using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Chunk buffers are reused between checkpoints, so what matters is that a capture's bytes never
/// change until the next capture, and that reuse never changes an encoding or a root.
/// </summary>
public sealed class ReplicatedStateChunkTests
{
    [Fact]
    public void CapturedChunks_StayUnchanged_WhileTheStateChangesAndIsHashedAgain()
    {
        var state = Filled(16, 500, seed: 1);
        var (chunks, hashes) = state.CaptureChunks();
        var copies = chunks.Select(c => c.ToArray()).ToArray();

        for (var round = 0; round < 3; round++)
        {
            Mutate(state, 300, seed: 10 + round);
            state.ComputeRoot();
        }

        for (var i = 0; i < chunks.Length; i++)
        {
            Assert.Equal(copies[i], chunks[i].ToArray());
            Assert.Equal(hashes[i], Heraclius.KvStore.Merkle.MerkleTree.LeafHash(chunks[i].Span));
        }
    }

    [Fact]
    public void ReusedBuffers_GiveTheSameChunksAndRoot_AsAFreshStateWithTheSameEntries()
    {
        var reused = Filled(16, 500, seed: 2);
        var fresh = Filled(16, 500, seed: 2);
        for (var round = 0; round < 6; round++)
        {
            // Shrinking and growing buckets, captures in between: every buffer path is taken.
            Mutate(reused, 400, seed: 20 + round);
            Mutate(fresh, 400, seed: 20 + round);
            reused.ComputeRoot();
            if (round % 2 == 0)
            {
                reused.CaptureChunks();
            }

            var recomputed = Rebuilt(fresh);
            Assert.Equal(recomputed.ComputeRoot(), reused.ComputeRoot());
            var (chunks, _) = reused.CaptureChunks();
            for (var i = 0; i < chunks.Length; i++)
            {
                Assert.Equal(recomputed.ReadChunk(i), chunks[i].ToArray());
            }
        }
    }

    [Fact]
    public void ChunksWrittenIntoAnotherState_RebuildTheSameRoot()
    {
        var state = Filled(16, 1000, seed: 3);
        var (chunks, _) = state.CaptureChunks();
        var copy = new ReplicatedState(16);
        for (var i = 0; i < chunks.Length; i++)
        {
            copy.WriteChunk(i, chunks[i].Span);
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
