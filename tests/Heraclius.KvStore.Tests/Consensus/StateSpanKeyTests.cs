using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Keys looked up from a reused buffer: the state hands back an array of the key, writes under it change
/// what a write under a fresh array would, and a rollback undoes them alike.
/// </summary>
public sealed class StateSpanKeyTests
{
    [Fact]
    public void SpanLookup_FindsTheStoredKey_AndWritesThroughItRollBackExactly()
    {
        var state = new ReplicatedState(16);
        byte[] key = [0x42, 1, 2, 3];
        var setup = new StateTransaction(state);
        setup.Put(key, [7]);
        setup.Complete();
        var rootBefore = state.ComputeRoot();

        Span<byte> buffer = stackalloc byte[8];
        buffer[0] = 0x42;
        buffer[1] = 1;
        buffer[2] = 2;
        buffer[3] = 3;
        Assert.Equal([7], state.Get(buffer[..4], out var stored));
        Assert.Equal(key, stored);
        Assert.Null(state.Get(buffer[..3], out var missing));
        Assert.Null(missing);

        var tx = new StateTransaction(state);
        tx.Put(buffer[..4], [8]);
        tx.Put(buffer[..3], [9]);
        Assert.Equal([8], state.Get(key));
        Assert.Equal([9], state.Get([0x42, 1, 2]));
        Assert.Equal(2, state.Count);
        tx.Rollback();

        Assert.Equal([7], state.Get(key));
        Assert.Null(state.Get([0x42, 1, 2]));
        Assert.Equal(1, state.Count);
        Assert.Equal(rootBefore, state.ComputeRoot());
    }

    [Fact]
    public void SpanWrites_GiveTheSameRootAsArrayWrites()
    {
        var viaArrays = new ReplicatedState(16);
        var viaSpans = new ReplicatedState(16);
        var a = new StateTransaction(viaArrays);
        var b = new StateTransaction(viaSpans);
        for (var i = 0; i < 200; i++)
        {
            byte[] k = [0x10, (byte)(i % 37), (byte)i];
            a.Put(k, [(byte)i]);
            b.Put(k.AsSpan(), [(byte)i]);
        }

        a.Complete();
        b.Complete();
        Assert.Equal(viaArrays.Count, viaSpans.Count);
        Assert.Equal(viaArrays.ComputeRoot(), viaSpans.ComputeRoot());
    }

    [Fact]
    public void DefaultInterfaceLookup_ReturnsAnArrayOnlyForAPresentKey()
    {
        IStateAccess access = new DictionaryAccess();
        access.Put([1, 2], [3]);
        Assert.Equal([3], access.Get([1, 2], out var stored));
        Assert.Equal([1, 2], stored);
        Assert.Null(access.Get([9], out var none));
        Assert.Null(none);
        access.Put(new ReadOnlySpan<byte>([1, 2]), [4]);
        Assert.Equal([4], access.Get([1, 2]));
    }

    private sealed class DictionaryAccess : IStateAccess
    {
        private readonly Dictionary<byte[], byte[]> _map = new(ByteArrayComparer.Instance);

        public byte[]? Get(byte[] key) => _map.GetValueOrDefault(key);

        public void Put(byte[] key, byte[] value) => _map[key] = value;

        public void Delete(byte[] key) => _map.Remove(key);
    }
}
