using System.Buffers.Binary;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// The packed state against a sorted map under everything that moves or marks its records: inserts, overwrites of
/// the same and other lengths (values up to 5 KB), deletes, values and keys that are views into the state's own
/// arrays, rollbacks, and the state rebuilt from its own chunks; keys of
/// every shape the encoding's sort treats apart (empty, zero bytes, prefixes of one another, 8, 16 or 24 shared
/// bytes, ledger-style numbers, prefixes differing only in their lowest bits). Every chunk must be the canonical
/// encoding of the map's entries.
/// </summary>
public sealed class StateBucketFuzzTests
{
    public static IEnumerable<object[]> Seeds() => Enumerable.Range(0, 24).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Fuzz(int seed)
    {
        var random = new Random(seed);
        var buckets = seed % 3 == 0 ? 1 : 2;
        var state = new ReplicatedState(buckets);
        var model = new SortedDictionary<byte[], byte[]>(ByteArrayComparer.Instance);
        var keys = MakeKeys(random, seed).Distinct(ByteArrayComparer.Instance).ToArray();
        var bigValues = seed % 2 == 0;

        for (var round = 0; round < 150; round++)
        {
            var tx = new StateTransaction(state);
            var shadow = new SortedDictionary<byte[], byte[]>(model, ByteArrayComparer.Instance);
            var ops = random.Next(1, 300);
            for (var op = 0; op < ops; op++)
            {
                var key = keys[random.Next(keys.Length)];
                switch (random.Next(8))
                {
                    case 0:
                    case 1:
                        tx.Delete(key);
                        shadow.Remove(key);
                        break;
                    case 2 when shadow.TryGetValue(key, out var old):
                        var same = new byte[old.Length];
                        random.NextBytes(same);
                        tx.Put(key.AsSpan(), same);
                        shadow[key] = same;
                        break;
                    case 3:
                    {
                        // A value that is a view into the slab (another key's value, or a slice of it).
                        var source = keys[random.Next(keys.Length)];
                        if (state.TryRead(source, out var view))
                        {
                            var a = random.Next(0, view.Length + 1);
                            var b = random.Next(a, view.Length + 1);
                            var slice = random.Next(2) == 0 ? view : view[a..b];
                            var copy = slice.ToArray();
                            tx.PutSpan(key, slice);
                            shadow[key] = copy;
                        }

                        break;
                    }
                    case 4:
                    {
                        // A key that is a view into the slab: a value holding a key's bytes.
                        var holder = keys[random.Next(keys.Length)];
                        var target = keys[random.Next(keys.Length)];
                        tx.Put(holder, target);
                        shadow[holder] = target;
                        Assert.True(state.TryRead(holder, out var keyView));
                        var del = random.Next(3) == 0;
                        var value = new byte[bigValues ? random.Next(0, 3000) : random.Next(0, 60)];
                        random.NextBytes(value);
                        if (del)
                        {
                            tx.Delete(target);
                            shadow.Remove(target);
                        }
                        else
                        {
                            tx.PutSpan(keyView, value);
                            shadow[target] = value;
                        }

                        break;
                    }
                    default:
                    {
                        var value = new byte[random.Next(4) == 0 ? 0 : (bigValues ? random.Next(1, 5000) : random.Next(1, 80))];
                        random.NextBytes(value);
                        tx.Put(key, value);
                        shadow[key] = value;
                        break;
                    }
                }

                if (random.Next(50) == 0)
                {
                    var b = random.Next(buckets);
                    Assert.Equal(StateBucketModelTests.ExpectedChunk(shadow, state, b), state.ReadChunk(b));
                }
            }

            model = StateBucketModelTests.EndRandomly(random, tx, model, shadow);

            Assert.Equal(model.Count, state.Count);
            for (var b = 0; b < buckets; b++)
            {
                Assert.Equal(StateBucketModelTests.ExpectedChunk(model, state, b), state.ReadChunk(b));
            }

            if (random.Next(6) == 0)
            {
                var copy = new ReplicatedState(buckets);
                for (var b = 0; b < buckets; b++)
                {
                    copy.WriteChunk(b, state.ReadChunk(b));
                }

                state = copy;
            }
        }
    }

    private static IEnumerable<byte[]> MakeKeys(Random random, int seed)
    {
        var n = 40 + random.Next(400);
        var common = new byte[24];
        random.NextBytes(common);
        for (var i = 0; i < n; i++)
        {
            var kind = random.Next(6);
            byte[] key;
            switch (kind)
            {
                case 0:
                    key = new byte[random.Next(0, 12)];
                    random.NextBytes(key);
                    for (var j = 0; j < key.Length; j++)
                    {
                        if (random.Next(2) == 0)
                        {
                            key[j] = 0;
                        }
                    }

                    break;
                case 1:
                {
                    // Shares 8 or 16 or 24 bytes, then may end or continue, zero bytes common.
                    var shared = 8 * random.Next(1, 4);
                    key = new byte[shared - random.Next(0, 4) + random.Next(0, 12)];
                    common.AsSpan(0, Math.Min(shared, key.Length)).CopyTo(key);
                    for (var j = Math.Min(shared, key.Length); j < key.Length; j++)
                    {
                        key[j] = (byte)(random.Next(3) == 0 ? 0 : random.Next(4));
                    }

                    break;
                }
                case 2:
                    key = new byte[random.Next(1, 30)];
                    random.NextBytes(key);
                    break;
                case 3:
                {
                    key = new byte[17];
                    key[0] = 0x11;
                    BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(9), (ulong)random.Next(1000));
                    break;
                }
                case 4:
                {
                    // A prefix that differs only in its low bits.
                    key = new byte[random.Next(6, 20)];
                    common.AsSpan(0, Math.Min(8, key.Length)).CopyTo(key);
                    key[Math.Min(7, key.Length - 1)] ^= (byte)random.Next(256);
                    key[Math.Min(6, key.Length - 1)] ^= (byte)random.Next(2);
                    break;
                }
                default:
                    key = new byte[random.Next(0, 9)];
                    common.AsSpan(0, key.Length).CopyTo(key);
                    break;
            }

            yield return key;
        }
    }
}
