using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// The state's pool of chunk buffers: a retired capture's buffers serve any bucket of a later capture that fits in
/// them, never one that does not, and the pool keeps no more than a whole state's chunks.
/// </summary>
public sealed class ChunkBufferPoolTests
{
    // New buffers are cut from large arenas, which the collector keeps on the large object heap and never copies;
    // they never overlap one another.
    [Fact]
    public void NewBuffersAreDisjointSlicesOfALargeObjectHeapArena()
    {
        var pool = new ChunkBufferPool { MaxFreeBytes = 1 << 20 };
        var a = pool.Rent(30_000, 30_000);
        var b = pool.Rent(30_000, 30_000);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(a.Memory, out var sa));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(b.Memory, out var sb));
        Assert.Same(sa.Array, sb.Array);
        Assert.True(sa.Offset + sa.Count <= sb.Offset || sb.Offset + sb.Count <= sa.Offset);
        Assert.Equal(2, GC.GetGeneration(sa.Array!));
    }

    [Fact]
    public void AFreeBufferServesAnyRequestItFits_AndNeverASmallerOne()
    {
        var pool = new ChunkBufferPool { MaxFreeBytes = 1 << 20 };
        var small = pool.Rent(100, 100);
        var large = pool.Rent(5000, 5000);
        Assert.True(small.Memory.Length >= 100);
        pool.Return(small);
        pool.Return(large);

        // 4,000 bytes do not fit the small one: the large one serves them, though it was rented for another size.
        var again = pool.Rent(4000, 4000);
        Assert.Same(large, again);
        Assert.Equal(1, again.Holders);
        var fresh = pool.Rent(small.Memory.Length + 1, small.Memory.Length + 1);
        Assert.NotSame(small, fresh);
        Assert.True(fresh.Memory.Length > small.Memory.Length);
        Assert.Equal(1, pool.Reused);
        Assert.Equal(small.Memory.Length, pool.FreeBytes);
    }

    [Fact]
    public void AHugeFreeBuffer_DoesNotServeATinyChunk()
    {
        var pool = new ChunkBufferPool { MaxFreeBytes = 1 << 24 };
        var huge = pool.Rent(1 << 20, 1 << 20);
        pool.Return(huge);
        var tiny = pool.Rent(64, 64);
        Assert.NotSame(huge, tiny);
        Assert.Equal(0, pool.Reused);
    }

    [Fact]
    public void BuffersBeyondTheCap_GoToTheCollector()
    {
        var pool = new ChunkBufferPool();
        var a = pool.Rent(1000, 1000);
        var b = pool.Rent(1000, 1000);
        pool.MaxFreeBytes = a.Memory.Length;
        pool.Return(a);
        pool.Return(b);
        Assert.Equal(a.Memory.Length, pool.FreeBytes);
        Assert.Same(a, pool.Rent(1000, 1000));
        Assert.NotSame(b, pool.Rent(1000, 1000));
    }

    [Fact]
    public void ANewBuffer_HasRoomForHalfAgain_OrAsMuchAgainWhenItsBucketGrewByMoreThanAnEighth()
    {
        var pool = new ChunkBufferPool { MaxFreeBytes = 1 << 24 };
        Assert.Equal(1000 + 500 + 64, pool.Rent(1000, 1100).Memory.Length);
        Assert.Equal(1000 + 500 + 64, pool.Rent(1000, 1000).Memory.Length);
        Assert.Equal(1125 + 562 + 64, pool.Rent(1125, 1000).Memory.Length);
        Assert.Equal(1126 + 1126 + 64, pool.Rent(1126, 1000).Memory.Length);
    }

    /// <summary>
    /// A state that grows a little at each checkpoint, as bench kv's does. Once the first captures are retired, every
    /// bucket a capture encodes goes into a buffer a retired capture gave back: with one kept buffer per bucket (the
    /// larger of those given back), the second of two given back at once was dropped, and the capture after a
    /// checkpoint that retired none allocated.
    /// </summary>
    [Fact]
    public void CapturesOfAGrowingState_EncodeIntoRetiredCapturesBuffers()
    {
        var rotation = RotateCaptures(initialEntries: 200, addedPerBucket: 1, intervals: 40, warmUp: 8);
        Assert.Equal(rotation.Encoded, rotation.Reused);
    }

    /// <summary>
    /// A state that grows by as much as it held at first at each checkpoint, as the shards of `bench transfers` do (by
    /// a transfer record and its history entries per side): with half again each chunk as room, most buckets outgrew
    /// the buffers their older captures gave back (246 of 768 encoded into one); with as much again for a bucket that
    /// grew by more than an eighth, 420. A buffer a capture held for a save comes back seven intervals after it was
    /// sized, so no room short of the state's growth over them serves every bucket.
    /// </summary>
    [Fact]
    public void CapturesOfAFastGrowingState_EncodeIntoRetiredCapturesBuffersMoreOftenThanNot()
    {
        var rotation = RotateCaptures(initialEntries: 20, addedPerBucket: 20, intervals: 16, warmUp: 4);
        Assert.True(rotation.Reused >= rotation.Encoded * 0.5, $"{rotation.Reused} of {rotation.Encoded} buckets encoded into a free buffer");
    }

    private readonly record struct Rotation(long Encoded, long Reused);

    /// <summary>
    /// Captures as a replica takes them: it holds each for two checkpoints (its root pending, then served), every
    /// fourth one two more (its save), and retires them as they go: two at one checkpoint, none at another. Every
    /// bucket is written in each interval (the chance that one is left alone is e^-9 per bucket and checkpoint) and
    /// gains <paramref name="addedPerBucket"/> entries on average. Counts the buckets encoded after
    /// <paramref name="warmUp"/> captures, and how many of them went into a buffer a retired capture gave back.
    /// </summary>
    private static Rotation RotateCaptures(int initialEntries, int addedPerBucket, int intervals, int warmUp)
    {
        const int Buckets = 64;
        var state = new ReplicatedState(Buckets);
        var random = new Random(7);
        var keys = new List<byte[]>();
        void Add(int entries)
        {
            for (var i = 0; i < entries; i++)
            {
                var key = new byte[32];
                random.NextBytes(key);
                keys.Add(key);
                state.Set(key, key);
            }
        }

        Add(Buckets * initialEntries);
        var captures = new List<StateCapture>();
        var rootsAtCapture = new List<Hash32>();
        long encoded = 0, recycledBefore = 0;
        for (var k = 0; k < intervals; k++)
        {
            for (var i = 0; i < Buckets * 8; i++)
            {
                var value = new byte[32];
                random.NextBytes(value);
                state.Set(keys[random.Next(keys.Count)], value);
            }

            Add(Buckets * addedPerBucket);
            var capture = state.Capture((ulong)(k + 1) * 8, captures.Count > 0 ? captures[^1] : null);
            rootsAtCapture.Add(state.ComputeRoot());
            Assert.Equal(rootsAtCapture[^1], capture.Root());
            captures.Add(capture);
            if (k >= warmUp)
            {
                encoded += capture.EncodedBuckets;
            }

            if (k >= 2 && (k - 2) % 4 != 0)
            {
                captures[k - 2].Retire();
            }

            if (k >= 4 && (k - 4) % 4 == 0)
            {
                captures[k - 4].Retire();
            }

            if (k == warmUp - 1)
            {
                recycledBefore = state.RecycledChunkBuffers;
            }
        }

        Assert.Equal(state.ComputeRoot(), captures[^1].Root());
        // Every capture still held reads the state of its own height from its buffers, although later captures were
        // encoded into buffers that retired ones gave back: its chunks, hashed again, give the root taken back then.
        var held = captures.Where(c => !c.IsRetired).ToList();
        Assert.True(held.Count >= 3);
        foreach (var c in held)
        {
            var (chunks, _) = c.Chunks();
            var leaves = chunks.Select(chunk => MerkleTree.LeafHash(chunk.Span)).ToArray();
            Assert.Equal(rootsAtCapture[captures.IndexOf(c)], MerkleTree.Root(leaves));
        }

        return new Rotation(encoded, state.RecycledChunkBuffers - recycledBefore);
    }
}
