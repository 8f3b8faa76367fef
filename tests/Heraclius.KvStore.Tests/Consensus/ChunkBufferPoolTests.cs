using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// The state's pool of chunk buffers: a retired capture's buffers serve any bucket of a later capture that fits in
/// them, never one that does not, and the pool keeps no more than a whole state's chunks.
/// </summary>
public sealed class ChunkBufferPoolTests
{
    [Fact]
    public void AFreeBufferServesAnyRequestItFits_AndNeverASmallerOne()
    {
        var pool = new ChunkBufferPool { MaxFreeBytes = 1 << 20 };
        var small = pool.Rent(100);
        var large = pool.Rent(5000);
        Assert.True(small.Array.Length >= 100);
        pool.Return(small);
        pool.Return(large);

        // 4,000 bytes do not fit the small one: the large one serves them, though it was rented for another size.
        var again = pool.Rent(4000);
        Assert.Same(large, again);
        Assert.Equal(1, again.Holders);
        var fresh = pool.Rent(small.Array.Length + 1);
        Assert.NotSame(small, fresh);
        Assert.True(fresh.Array.Length > small.Array.Length);
        Assert.Equal(1, pool.Reused);
        Assert.Equal(small.Array.Length, pool.FreeBytes);
    }

    [Fact]
    public void AHugeFreeBuffer_DoesNotServeATinyChunk()
    {
        var pool = new ChunkBufferPool { MaxFreeBytes = 1 << 24 };
        var huge = pool.Rent(1 << 20);
        pool.Return(huge);
        var tiny = pool.Rent(64);
        Assert.NotSame(huge, tiny);
        Assert.Equal(0, pool.Reused);
    }

    [Fact]
    public void BuffersBeyondTheCap_GoToTheCollector()
    {
        var pool = new ChunkBufferPool();
        var a = pool.Rent(1000);
        var b = pool.Rent(1000);
        pool.MaxFreeBytes = a.Array.Length;
        pool.Return(a);
        pool.Return(b);
        Assert.Equal(a.Array.Length, pool.FreeBytes);
        Assert.Same(a, pool.Rent(1000));
        Assert.NotSame(b, pool.Rent(1000));
    }

    /// <summary>
    /// A replica holds a capture for two checkpoints (its root pending, then served), every fourth one two more (its
    /// save), and retires them as they go: two at one checkpoint, none at another. Its state grows a little at each
    /// checkpoint, as bench kv's does. Once the first captures are retired, every bucket a capture encodes goes into
    /// a buffer a retired capture gave back: with one kept buffer per bucket (the larger of those given back), the
    /// second of two given back at once was dropped, and the capture after a checkpoint that retired none
    /// allocated.
    /// </summary>
    [Fact]
    public void CapturesOfAGrowingState_EncodeIntoRetiredCapturesBuffers()
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

        Add(Buckets * 200);
        var captures = new List<StateCapture>();
        long encoded = 0;
        long recycledBefore = 0;
        const int WarmUp = 8;
        for (var k = 0; k < 40; k++)
        {
            // Every bucket written (the chance that one is left alone is e^-9 per bucket and checkpoint), a few entries more.
            for (var i = 0; i < Buckets * 8; i++)
            {
                var value = new byte[32];
                random.NextBytes(value);
                state.Set(keys[random.Next(keys.Count)], value);
            }

            Add(Buckets);
            var capture = state.Capture((ulong)(k + 1) * 8, captures.Count > 0 ? captures[^1] : null);
            capture.Root();
            captures.Add(capture);
            if (k >= WarmUp)
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

            if (k == WarmUp - 1)
            {
                recycledBefore = state.RecycledChunkBuffers;
            }
        }

        Assert.Equal(encoded, state.RecycledChunkBuffers - recycledBefore);
        Assert.Equal(state.ComputeRoot(), captures[^1].Root());
        Assert.Equal(captures[^3].Root(), captures[^3].Root());
    }
}
