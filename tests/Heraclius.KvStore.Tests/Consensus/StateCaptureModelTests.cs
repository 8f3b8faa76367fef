using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A capture is the state as of the moment it was taken, whatever the state does after: random writes of every kind
/// (overwrites in place, other lengths, deletes, compactions, values copied out of the state itself, rollbacks) follow
/// each capture, its buckets are encoded at random moments on the test's thread, in the background, or only when its
/// root is asked for, and its chunks and root are still what a sorted map of the entries at that moment gives. Each
/// capture is retired once checked, as a replica retires those it no longer holds: later captures encode into its
/// buffers, and the captures still open, which may share them, must not see it.
/// </summary>
public sealed class StateCaptureModelTests
{
    [Theory]
    [InlineData(1, 4, false)]
    [InlineData(2, 16, true)]
    [InlineData(3, 1, false)]
    [InlineData(4, 64, true)]
    [InlineData(5, 256, false)]
    public void Captures_HoldTheirMomentsState_WhateverIsWrittenAfter(int seed, int buckets, bool background)
    {
        var random = new Random(seed);
        var state = new ReplicatedState(buckets);
        var model = new SortedDictionary<byte[], byte[]>(ByteArrayComparer.Instance);
        var keys = Enumerable.Range(0, 60 + (buckets * 3)).Select(i => StateBucketModelTests.Key(random, i)).Append([]).ToArray();
        StateCapture? previous = null;
        var open = new List<(StateCapture Capture, SortedDictionary<byte[], byte[]> Model)>();
        var reused = 0;
        for (var round = 0; round < 80; round++)
        {
            var tx = new StateTransaction(state);
            var shadow = new SortedDictionary<byte[], byte[]>(model, ByteArrayComparer.Instance);
            // Some rounds write little, so that later captures reuse the chunks of buckets nobody wrote.
            var ops = random.Next(4) == 0 ? random.Next(0, 4) : random.Next(20, 150);
            for (var op = 0; op < ops; op++)
            {
                var key = keys[random.Next(keys.Length)];
                var source = keys[random.Next(keys.Length)];
                switch (random.Next(5))
                {
                    case 0:
                        tx.Delete(key);
                        shadow.Remove(key);
                        break;
                    case 1 when shadow.TryGetValue(key, out var old):
                        var same = new byte[old.Length];
                        random.NextBytes(same);
                        tx.Put(key.AsSpan(), same);
                        shadow[key] = same;
                        break;
                    case 2 when state.TryRead(source, out var view) && shadow.ContainsKey(source):
                        // A value that is a view into the state: it may sit in the very slab a capture shares.
                        var copied = shadow[source];
                        tx.PutSpan(key, view);
                        shadow[key] = copied;
                        break;
                    default:
                        var value = new byte[random.Next(0, 3) == 0 ? 0 : random.Next(1, 300)];
                        random.NextBytes(value);
                        tx.Put(key, value);
                        shadow[key] = value;
                        break;
                }

                if (open.Count > 0 && random.Next(10) == 0)
                {
                    open[random.Next(open.Count)].Capture.EncodeSome(random.Next(1, 4));
                }
            }

            model = StateBucketModelTests.EndRandomly(random, tx, model, shadow);
            if (random.Next(3) == 0)
            {
                // Between decisions, as a replica takes one at a checkpoint height; the one before is usually complete
                // by then (a replica finishes it an interval after taking it), and only then lends its chunks.
                if (random.Next(3) != 0)
                {
                    previous?.Root();
                }

                var capture = state.Capture((ulong)round, previous);
                reused += buckets - capture.EncodedBuckets;
                if (background)
                {
                    capture.StartInBackground();
                }

                open.Add((capture, new SortedDictionary<byte[], byte[]>(model, ByteArrayComparer.Instance)));
                previous = capture;
            }

            if (open.Count > 3 || (open.Count > 0 && random.Next(4) == 0))
            {
                var (capture, atCapture) = open[0];
                open.RemoveAt(0);
                AssertHolds(capture, atCapture, state);
                capture.Retire();
                Assert.True(capture.IsRetired);
            }
        }

        foreach (var (capture, atCapture) in open)
        {
            AssertHolds(capture, atCapture, state);
        }

        StateBucketModelTests.AssertEncodesLike(model, state);
        if (buckets >= 16)
        {
            Assert.True(reused > 0, "no capture reused a chunk of the one before");
            Assert.True(state.RecycledChunkBuffers > 0, "no capture encoded into a retired capture's buffer");
        }
    }

    [Fact]
    public void ARetiredCapturesBuffers_AreEncodedIntoAgain_ButNotWhileALaterCaptureSharesThem()
    {
        var state = new ReplicatedState(2);
        // Key 0 and key 1 sit in different buckets (checked below), so one can be written and the other left alone.
        var keys = Enumerable.Range(0, 64).Select(i => new[] { (byte)i, (byte)(i >> 8) }).ToArray();
        var inBucket0 = keys.First(k => state.BucketOf(k) == 0);
        var inBucket1 = keys.First(k => state.BucketOf(k) == 1);
        state.Set(inBucket0, [1]);
        state.Set(inBucket1, [2]);
        var first = state.Capture(8, previous: null);
        first.Root();

        // Only bucket 0 is written: the second capture shares bucket 1's chunk with the first.
        state.Set(inBucket0, [3]);
        var second = state.Capture(16, first);
        second.Root();
        Assert.Equal(1, second.EncodedBuckets);
        var secondChunks = second.Chunks().Chunks.Select(c => c.ToArray()).ToArray();

        first.Retire();
        // Bucket 0's buffer went back (nobody else held it); bucket 1's is still the second capture's.
        state.Set(inBucket0, [4, 4, 4]);
        state.Set(inBucket1, [5, 5, 5]);
        var third = state.Capture(24, second);
        third.Root();
        Assert.Equal(1, state.RecycledChunkBuffers);
        var (after, _) = second.Chunks();
        Assert.Equal(secondChunks[0], after[0].ToArray());
        Assert.Equal(secondChunks[1], after[1].ToArray());
        Assert.Equal(state.ComputeRoot(), third.Root());
    }

    [Fact]
    public void ARetiredCapture_ServesNoChunks_AndAnIncompleteOneIsNotRetired()
    {
        var state = new ReplicatedState(4);
        state.Set([1, 2, 3], [4]);
        var incomplete = state.Capture(1, previous: null);
        incomplete.Retire();
        Assert.False(incomplete.IsRetired);

        incomplete.Root();
        incomplete.Retire();
        Assert.True(incomplete.IsRetired);
        Assert.Throws<ObjectDisposedException>(() => incomplete.Chunks());
    }

    [Fact]
    public void ACaptureOfAnotherState_SharesNothing()
    {
        var state = new ReplicatedState(4);
        state.Set([1, 2, 3], [4]);
        var capture = state.Capture(1, previous: null);
        Assert.Equal(state.ComputeRoot(), capture.Root());

        // Another state whose write counters happen to match: nothing of the first capture may stand for it.
        var other = new ReplicatedState(4);
        other.Set([1, 2, 3], [5]);
        var second = other.Capture(2, capture);
        Assert.Equal(4, second.EncodedBuckets);
        Assert.Equal(other.ComputeRoot(), second.Root());
        Assert.NotEqual(capture.Root(), second.Root());
    }

    private static void AssertHolds(StateCapture capture, SortedDictionary<byte[], byte[]> atCapture, ReplicatedState state)
    {
        var (chunks, hashes) = capture.Chunks();
        var leaves = new Hash32[capture.BucketCount];
        for (var b = 0; b < capture.BucketCount; b++)
        {
            var expected = StateBucketModelTests.ExpectedChunk(atCapture, state, b);
            Assert.Equal(expected, chunks[b].ToArray());
            leaves[b] = MerkleTree.LeafHash(expected);
            Assert.Equal(leaves[b], hashes[b]);
        }

        Assert.Equal(MerkleTree.Root(leaves), capture.Root());
        Assert.True(capture.IsComplete);
    }
}
