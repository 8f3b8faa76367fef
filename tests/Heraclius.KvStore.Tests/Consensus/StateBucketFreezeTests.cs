using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A frozen bucket's write in place first gives its capture's twin a copy of the bytes it reads, or, while an encoder
/// already reads the shared slab, copies the slab for itself; once the twin is encoded and released, writes go in
/// place again (review of the deferred root: the copy happened at the first write after every capture, encoded or not).
/// Which side takes the copy is for the collector: the twin's dies once it is encoded, the live bucket's lived on.
/// </summary>
public sealed class StateBucketFreezeTests
{
    private static readonly byte[] Key = "account-7"u8.ToArray();

    private static uint Tag => StateBucket.TagOf(StableHash.Of(Key));

    private static StateBucket BucketWithBalance100()
    {
        var live = new StateBucket();
        Write(live, "balance=100"u8);
        return live;
    }

    private static void Write(StateBucket live, ReadOnlySpan<byte> value) => live.Set(Key, Tag, value, delete: false, undo: null);

    /// <summary>Asserts that the live bucket's value under <see cref="Key"/> is <paramref name="expected"/>.</summary>
    private static void AssertHolds(StateBucket live, ReadOnlySpan<byte> expected)
    {
        Assert.True(live.TryGet(Key, Tag, out var value));
        Assert.Equal(expected.ToArray(), value.ToArray());
    }

    private static byte[] Chunk(StateBucket twin)
    {
        var buffer = new byte[twin.EncodedSize];
        var length = twin.Encode(buffer, band: null);
        return buffer[..length];
    }

    [Fact]
    public void WriteInPlaceBeforeTheTwinIsRead_GivesTheTwinACopy_AndKeepsItsOwnSlab()
    {
        var live = BucketWithBalance100();
        var before = Chunk(live);
        var twin = live.Freeze();

        Write(live, "balance=042"u8);
        Write(live, "balance=043"u8);

        Assert.Equal(1, live.TwinCopies);
        Assert.Equal(0, live.SlabCopies);
        Assert.Equal(before, Chunk(twin));
        AssertHolds(live, "balance=043"u8);
    }

    [Fact]
    public void WriteInPlaceWhileAnEncoderReadsTheTwin_CopiesTheSlabForItself_AndTheTwinKeepsItsBytes()
    {
        var live = BucketWithBalance100();
        var twin = live.Freeze();
        var before = Chunk(twin);

        Write(live, "balance=042"u8);

        Assert.Equal(1, live.SlabCopies);
        Assert.Equal(0, live.TwinCopies);
        Assert.Equal(before, Chunk(twin));
        AssertHolds(live, "balance=042"u8);
    }

    [Fact]
    public void WriteInPlaceAfterTheTwinWasEncodedAndReleased_CopiesNothing()
    {
        var live = BucketWithBalance100();
        var twin = live.Freeze();
        var chunk = Chunk(twin);
        twin.ReleaseTwin();

        Write(live, "balance=042"u8);
        Write(live, "balance=043"u8);

        Assert.Equal(0, live.SlabCopies);
        Assert.Equal(0, live.TwinCopies);
        Assert.Contains((byte)'1', chunk);
        AssertHolds(live, "balance=043"u8);
    }

    [Fact]
    public void FreezingAgainWhileAnEarlierTwinIsBeingRead_CopiesFirst_SoBothTwinsKeepTheirBytes()
    {
        var live = BucketWithBalance100();
        var first = live.Freeze();
        var firstChunk = Chunk(first);
        var second = live.Freeze();
        Write(live, "balance=042"u8);

        Assert.Equal(firstChunk, Chunk(first));
        Assert.Equal(firstChunk, Chunk(second));
        // The first twin was being read when the second froze: the live bucket copied for itself; the second was not
        // read yet when the write came: it got a copy.
        Assert.Equal(1, live.SlabCopies);
        Assert.Equal(1, live.TwinCopies);
    }

    [Fact]
    public void FreezingAgainBeforeTheEarlierTwinIsRead_GivesItACopy_SoBothTwinsKeepTheirBytes()
    {
        var live = BucketWithBalance100();
        var before = Chunk(live);
        var first = live.Freeze();
        var second = live.Freeze();
        Write(live, "balance=042"u8);

        Assert.Equal(before, Chunk(first));
        Assert.Equal(before, Chunk(second));
        Assert.Equal(0, live.SlabCopies);
        Assert.Equal(2, live.TwinCopies);
    }

    [Fact]
    public void ABandTwinEncodedInsideItsBucketsChunkIsClaimedToo()
    {
        var bandKey = new byte[] { 0x00, 0x07 };
        var bandTag = StateBucket.TagOf(StableHash.Of(bandKey));
        var main = new StateBucket();
        var band = new StateBucket();
        main.Set(Key, Tag, "balance=100"u8, delete: false, undo: null);
        band.Set(bandKey, bandTag, "slot=1"u8, delete: false, undo: null);
        var mainTwin = main.Freeze();
        var bandTwin = band.Freeze();
        var buffer = new byte[StateBucket.ChunkSize(mainTwin, bandTwin)];
        var chunk = buffer[..mainTwin.Encode(buffer, bandTwin)];

        // The band was read as part of the main bucket's chunk: its live side must copy for itself, not hand the twin a copy.
        band.Set(bandKey, bandTag, "slot=2"u8, delete: false, undo: null);

        Assert.Equal(1, band.SlabCopies);
        Assert.Equal(0, band.TwinCopies);
        var again = new byte[buffer.Length];
        Assert.Equal(chunk, again[..mainTwin.Encode(again, bandTwin)]);
        bandTwin.ReleaseTwin();
        Assert.Throws<InvalidOperationException>(() => mainTwin.Encode(again, bandTwin));
    }

    [Fact]
    public void AReleasedTwinIsNeverReadAgain()
    {
        var live = BucketWithBalance100();
        var twin = live.Freeze();
        Chunk(twin);
        twin.ReleaseTwin();

        // Its slab is gone: encoding it again would write whatever it now points at, so it is refused.
        var buffer = new byte[twin.EncodedSize];
        Assert.Throws<InvalidOperationException>(() => twin.Encode(buffer, band: null));
    }

    /// <summary>
    /// An encoder on another thread reads twins while the live bucket rewrites, appends, deletes and compacts: whichever
    /// comes first (the encoder's claim or the write's copy for the twin), every twin encodes to the bytes the bucket held
    /// when it was frozen, and the live bucket ends with its own writes.
    /// </summary>
    [Fact]
    public async Task AnEncoderRacingTheLiveBucketsWrites_AlwaysReadsTheFrozenBytes()
    {
        var keys = Enumerable.Range(0, 64).Select(i => System.Text.Encoding.UTF8.GetBytes($"account-{i}")).ToArray();
        var tags = keys.Select(k => StateBucket.TagOf(StableHash.Of(k))).ToArray();
        var live = new StateBucket();
        for (var i = 0; i < keys.Length; i++)
        {
            live.Set(keys[i], tags[i], System.Text.Encoding.UTF8.GetBytes($"v{i:D4}"), delete: false, undo: null);
        }

        for (var round = 0; round < 300; round++)
        {
            var expected = Chunk(live);
            var twin = live.Freeze();
            using var start = new Barrier(2);
            var encoder = Task.Run(() =>
            {
                start.SignalAndWait(TestContext.Current.CancellationToken);
                var chunk = Chunk(twin);
                twin.ReleaseTwin();
                return chunk;
            }, TestContext.Current.CancellationToken);

            start.SignalAndWait(TestContext.Current.CancellationToken);
            for (var i = 0; i < keys.Length; i++)
            {
                // In place (same length), then longer (an append and a dead record), and every fourth deleted and put
                // back, which fills the slab with garbage and compacts it.
                live.Set(keys[i], tags[i], System.Text.Encoding.UTF8.GetBytes($"w{round % 10_000:D4}"), delete: false, undo: null);
                live.Set(keys[i], tags[i], System.Text.Encoding.UTF8.GetBytes($"value-{round}-{i}"), delete: false, undo: null);
                if (i % 4 == 0)
                {
                    live.Set(keys[i], tags[i], default, delete: true, undo: null);
                    live.Set(keys[i], tags[i], System.Text.Encoding.UTF8.GetBytes($"v{i:D4}"), delete: false, undo: null);
                }
            }

            Assert.Equal(expected, await encoder);
        }

        // No count of copies is asserted: when the encoder reads and releases its twin before the first write of a round
        // (a loaded machine wakes this thread late), that round rightly copies nothing, and a whole run may do so.
        for (var i = 0; i < keys.Length; i++)
        {
            Assert.True(live.TryGet(keys[i], tags[i], out var value));
            var want = i % 4 == 0 ? $"v{i:D4}" : $"value-299-{i}";
            Assert.Equal(want, System.Text.Encoding.UTF8.GetString(value));
        }
    }
}
