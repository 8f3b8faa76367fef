using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A frozen bucket copies its slab before a write in place only while its capture's twin still reads the slab; once the
/// twin is encoded and released, writes go in place again (review of the deferred root: the copy happened at the first
/// write after every capture, encoded or not).
/// </summary>
public sealed class StateBucketFreezeTests
{
    private static readonly byte[] Key = "account-7"u8.ToArray();

    private static uint Tag => StateBucket.TagOf(StableHash.Of(Key));

    private static byte[] Chunk(StateBucket twin)
    {
        var buffer = new byte[twin.EncodedSize];
        var length = twin.Encode(buffer, band: null);
        return buffer[..length];
    }

    [Fact]
    public void WriteInPlaceWhileTheTwinIsUnencoded_CopiesTheSlab_AndTheTwinKeepsItsBytes()
    {
        var live = new StateBucket();
        live.Set(Key, Tag, "balance=100"u8, delete: false, undo: null);
        var twin = live.Freeze();
        var before = Chunk(twin);

        live.Set(Key, Tag, "balance=042"u8, delete: false, undo: null);

        Assert.Equal(1, live.SlabCopies);
        Assert.Equal(before, Chunk(twin));
        Assert.True(live.TryGet(Key, Tag, out var value));
        Assert.Equal("balance=042"u8.ToArray(), value.ToArray());
    }

    [Fact]
    public void WriteInPlaceAfterTheTwinWasEncodedAndReleased_CopiesNothing()
    {
        var live = new StateBucket();
        live.Set(Key, Tag, "balance=100"u8, delete: false, undo: null);
        var twin = live.Freeze();
        var chunk = Chunk(twin);
        twin.ReleaseTwin();

        live.Set(Key, Tag, "balance=042"u8, delete: false, undo: null);
        live.Set(Key, Tag, "balance=043"u8, delete: false, undo: null);

        Assert.Equal(0, live.SlabCopies);
        Assert.Contains((byte)'1', chunk);
        Assert.True(live.TryGet(Key, Tag, out var value));
        Assert.Equal("balance=043"u8.ToArray(), value.ToArray());
    }

    [Fact]
    public void FreezingAgainWhileAnEarlierTwinIsUnencoded_CopiesFirst_SoBothTwinsKeepTheirBytes()
    {
        var live = new StateBucket();
        live.Set(Key, Tag, "balance=100"u8, delete: false, undo: null);
        var first = live.Freeze();
        var firstChunk = Chunk(first);
        var second = live.Freeze();
        live.Set(Key, Tag, "balance=042"u8, delete: false, undo: null);

        Assert.Equal(firstChunk, Chunk(first));
        Assert.Equal(firstChunk, Chunk(second));
        Assert.Equal(2, live.SlabCopies);
    }
}
