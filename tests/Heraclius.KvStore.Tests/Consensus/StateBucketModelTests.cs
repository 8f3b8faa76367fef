using System.Buffers.Binary;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// The packed state against a plain sorted map: after random puts (same and other lengths, empty values),
/// deletes, and rolled-back and completed transactions, every read, every chunk's bytes and the root are what the
/// map's entries give when encoded by the format's rule (u32 count ‖ per entry in key order: u32 key length ‖
/// key ‖ u32 value length ‖ value).
/// </summary>
public sealed class StateBucketModelTests
{
    [Theory]
    [InlineData(1, 4)]
    [InlineData(2, 16)]
    [InlineData(3, 1)]
    [InlineData(4, 64)]
    [InlineData(5, 256)]
    public void RandomWritesAndRollbacks_MatchASortedMap(int seed, int buckets)
    {
        var random = new Random(seed);
        var state = new ReplicatedState(buckets);
        var model = new SortedDictionary<byte[], byte[]>(ByteArrayComparer.Instance);
        // Few distinct keys, so that keys are overwritten and deleted often; some share 8-byte prefixes.
        // The empty key too: it sorts before the engine's band of keys starting with 0x00, which a bucket keeps apart.
        var keys = Enumerable.Range(0, 100 + (buckets * 4)).Select(i => Key(random, i)).Append([]).ToArray();

        for (var round = 0; round < 60; round++)
        {
            var tx = new StateTransaction(state);
            var shadow = new SortedDictionary<byte[], byte[]>(model, ByteArrayComparer.Instance);
            for (var op = 0; op < 200; op++)
            {
                var key = keys[random.Next(keys.Length)];
                switch (random.Next(4))
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
                    default:
                        var value = new byte[random.Next(0, 3) == 0 ? 0 : random.Next(1, 300)];
                        random.NextBytes(value);
                        tx.Put(key, value);
                        shadow[key] = value;
                        break;
                }

                var probe = keys[random.Next(keys.Length)];
                Assert.Equal(shadow.GetValueOrDefault(probe), tx.Get(probe));
            }

            model = EndRandomly(random, tx, model, shadow);

            Assert.Equal(model.Count, state.Count);
            if (round % 5 == 0)
            {
                AssertEncodesLike(model, state);
            }
        }

        AssertEncodesLike(model, state);
    }

    [Fact]
    public void ValuesCopiedFromTheStateItself_SurviveTheCompactionsTheirWritesCause()
    {
        // One bucket: every write lands in the slab the copied value is a view of. Values of changing lengths leave
        // garbage, so the appends below fill the slab and compact it (in place when the arguments are not views into
        // it, into a new slab when they are) while the model says what every key must hold.
        var random = new Random(11);
        var state = new ReplicatedState(1);
        var model = new SortedDictionary<byte[], byte[]>(ByteArrayComparer.Instance);
        var keys = Enumerable.Range(0, 40).Select(i => Key(random, i)).Distinct(ByteArrayComparer.Instance).ToArray();
        for (var round = 0; round < 3000; round++)
        {
            var tx = new StateTransaction(state);
            var key = keys[random.Next(keys.Length)];
            var source = keys[random.Next(keys.Length)];
            if (random.Next(3) == 0 && state.TryRead(source, out var view))
            {
                tx.PutSpan(key, view);
                model[key] = model[source];
            }
            else
            {
                var value = new byte[random.Next(1, 200)];
                random.NextBytes(value);
                tx.Put(key, value);
                model[key] = value;
            }

            Assert.Equal(model[key], tx.Get(key));
            tx.Complete();
        }

        AssertEncodesLike(model, state);
    }

    [Fact]
    public void ChunksWrittenIntoAnEmptyState_ReadBackEveryEntry()
    {
        var random = new Random(9);
        var state = new ReplicatedState(8);
        var model = new SortedDictionary<byte[], byte[]>(ByteArrayComparer.Instance);
        for (var i = 0; i < 500; i++)
        {
            var key = Key(random, i);
            var value = new byte[random.Next(0, 50)];
            random.NextBytes(value);
            state.Set(key, value);
            model[key] = value;
        }

        // And the empty key, which a chunk holds before the band of keys starting with 0x00.
        state.Set([], [7]);
        model[[]] = [7];
        var copy = new ReplicatedState(8);
        for (var b = 0; b < 8; b++)
        {
            copy.WriteChunk(b, state.ReadChunk(b));
        }

        Assert.Equal(state.ComputeRoot(), copy.ComputeRoot());
        foreach (var (key, value) in model)
        {
            Assert.Equal(value, copy.Get(key));
        }

        // The copy keeps working as a map: delete half, overwrite the rest.
        foreach (var key in model.Keys.Where((_, i) => i % 2 == 0).ToList())
        {
            copy.Set(key, null);
            model.Remove(key);
        }

        foreach (var key in model.Keys.ToList())
        {
            copy.Set(key, [1, 2, 3]);
            model[key] = [1, 2, 3];
        }

        AssertEncodesLike(model, copy);
    }

    [Fact]
    public void LongRunsOfKeysWithACommonPrefix_EncodeInKeyOrder()
    {
        // One bucket holding what a ledger shard holds: a type byte and a 128-bit big-endian number, so hundreds of
        // keys share their first 8 bytes (and up to 256 their first 16); another type whose run holds keys that end
        // inside the shared prefix and one that is exactly 8 bytes of it; numbers that differ only in the lowest bits
        // of bytes 8-15. Deletes
        // and writes of other lengths leave garbage, which the encoding must skip.
        var random = new Random(17);
        var state = new ReplicatedState(1);
        var model = new SortedDictionary<byte[], byte[]>(ByteArrayComparer.Instance);
        var keys = new List<byte[]>();
        for (var i = 0; i < 700; i++)
        {
            keys.Add(Numbered(0x11, (UInt128)i));
            keys.Add(Numbered(0x12, (UInt128)i << 8));
            keys.Add(Numbered(0x13, (UInt128)random.NextInt64() << 64));
        }

        for (var i = 0; i < 100; i++)
        {
            keys.Add(Numbered(0x14, (UInt128)i));
        }

        for (var length = 1; length <= 24; length++)
        {
            var key = new byte[length];
            key[0] = 0x14;
            keys.Add(key);
        }

        for (var round = 0; round < 4; round++)
        {
            foreach (var key in keys)
            {
                if (random.Next(5) == 0)
                {
                    state.Set(key, null);
                    model.Remove(key);
                }
                else
                {
                    var value = new byte[random.Next(0, 24)];
                    random.NextBytes(value);
                    state.Set(key, value);
                    model[key] = value;
                }
            }

            AssertEncodesLike(model, state);
        }
    }

    private static byte[] Numbered(byte type, UInt128 number)
    {
        var key = new byte[17];
        key[0] = type;
        BinaryPrimitives.WriteUInt128BigEndian(key.AsSpan(1), number);
        return key;
    }

    internal static byte[] Key(Random random, int i)
    {
        var key = new byte[random.Next(1, 40)];
        random.NextBytes(key);
        key[0] = (byte)(1 + (i % 3));
        if (i % 4 == 0 && key.Length > 10)
        {
            // A shared 8-byte prefix: the order falls to the bytes after it.
            key.AsSpan(0, 8).Fill(0x42);
        }
        else if (i % 4 == 1 && key.Length > 8)
        {
            // Prefixes that differ only in their lowest byte, which the encoding's sort replaces by the record's index.
            key.AsSpan(0, 7).Fill(0x43);
        }

        if (i % 5 == 2)
        {
            // Keys of the engine's band (its session slots and cursors start with 0x00), some sharing prefixes too.
            key[0] = 0x00;
        }

        return key;
    }

    internal static void AssertEncodesLike(SortedDictionary<byte[], byte[]> model, ReplicatedState state)
    {
        // The root first: with 64 or more written buckets it encodes and hashes them on every core.
        var root = state.ComputeRoot();
        var leaves = new Heraclius.KvStore.Crypto.Hash32[state.BucketCount];
        for (var b = 0; b < state.BucketCount; b++)
        {
            var expected = ExpectedChunk(model, state, b);
            Assert.Equal(expected, state.ReadChunk(b));
            leaves[b] = MerkleTree.LeafHash(expected);
        }

        Assert.Equal(MerkleTree.Root(leaves), root);
        foreach (var (key, value) in model)
        {
            Assert.Equal(value, state.Get(key));
            Assert.True(state.TryRead(key, out var inPlace));
            Assert.Equal(value, inPlace.ToArray());
        }

        Assert.False(state.TryRead([0xEE, 0xEE], out _));
    }

    /// <summary>The format's chunk of bucket <paramref name="bucket"/> for the map's entries: u32 count ‖ per entry in key order u32 key length ‖ key ‖ u32 value length ‖ value.</summary>
    /// <summary>Rolls a third of the transactions back (the model stays as it was) and completes the rest (it becomes <paramref name="shadow"/>).</summary>
    internal static SortedDictionary<byte[], byte[]> EndRandomly(Random random, StateTransaction tx,
        SortedDictionary<byte[], byte[]> model, SortedDictionary<byte[], byte[]> shadow)
    {
        if (random.Next(3) == 0)
        {
            tx.Rollback();
            return model;
        }

        tx.Complete();
        return shadow;
    }

    internal static byte[] ExpectedChunk(SortedDictionary<byte[], byte[]> model, ReplicatedState state, int bucket)
    {
        var entries = model.Where(e => state.BucketOf(e.Key) == bucket).ToList();
        var expected = new List<byte>();
        expected.AddRange(U32(entries.Count));
        foreach (var (key, value) in entries)
        {
            expected.AddRange(U32(key.Length));
            expected.AddRange(key);
            expected.AddRange(U32(value.Length));
            expected.AddRange(value);
        }

        return [.. expected];
    }

    private static byte[] U32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)value);
        return bytes;
    }
}
