using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>
/// The allocation-free views replicas parse with must accept and refuse exactly the bytes the
/// record parsers do (written out here as they were before the views), or replicas of one
/// cluster that took different paths would diverge.
/// </summary>
public sealed class KvWireViewTests
{
    [Fact]
    public void OperationView_AgreesWithTheRecordParse_OnValidAndMangledBytes()
    {
        var random = new Random(7);
        foreach (var bytes in Samples(random, ValidOperations(random)))
        {
            var expected = ReferenceOperation(bytes);
            var ok = KvOperationView.TryParse(bytes, out var view);
            Assert.Equal(expected is not null, ok);
            if (expected is not null)
            {
                Assert.Equal(expected.Op, view.Op);
                Assert.Equal(expected.Key, view.Key.ToArray());
                Assert.Equal(expected.Value ?? [], view.Value.ToArray());
                Assert.Equal(expected.ExpectedVersion, view.ExpectedVersion);
            }
        }
    }

    [Fact]
    public void RouteView_AgreesWithTheRecordParse_OnValidAndMangledBytes()
    {
        var random = new Random(8);
        var valid = new List<byte[]>();
        foreach (var id in new[] { "client-1", "ü", string.Empty })
        {
            valid.Add(new KvRouteMessage(KvRouteKind.Request, id, 5, Hash32.Of([1]), KvOperation.Get([1, 2]).ToBytes()).ToBytes());
            valid.Add(new KvRouteMessage(KvRouteKind.Response, id, 6, Hash32.Of([2]), [9]).ToBytes());
        }

        var badUtf8 = new CanonicalWriter();
        badUtf8.U8((byte)KvRouteKind.Request);
        badUtf8.Bytes([0xC3, 0x28]);
        badUtf8.U64(1);
        badUtf8.Hash(Hash32.Zero);
        badUtf8.Bytes([1]);
        valid.Add(badUtf8.ToArray());

        foreach (var bytes in Samples(random, valid))
        {
            var expected = ReferenceRoute(bytes);
            var ok = KvRouteView.TryParse(bytes, out var view);
            Assert.Equal(expected is not null, ok);
            if (expected is not null)
            {
                Assert.Equal(expected.Kind, view.Kind);
                Assert.Equal(expected.ClientId, view.ClientId);
                Assert.Equal(expected.Seq, view.Seq);
                Assert.Equal(expected.RequestHash, view.RequestHash);
                Assert.Equal(expected.Body, view.Body.ToArray());
                Assert.Equal(bytes, KvRouteMessage.Encode(view.Kind, view.ClientIdUtf8, view.Seq, view.RequestHash, view.Body));
            }
        }
    }

    private static List<byte[]> ValidOperations(Random random)
    {
        var key = new byte[5];
        random.NextBytes(key);
        return
        [
            KvOperation.Get(key).ToBytes(),
            KvOperation.Delete(key).ToBytes(),
            KvOperation.Put(key, [1, 2, 3]).ToBytes(),
            KvOperation.Cas(key, 4, [5]).ToBytes(),
            KvOperation.Put(key, []).ToBytes(),
            new KvOperation(KvOpCode.Get, []).ToBytes(),
            new KvOperation((KvOpCode)9, key).ToBytes(),
        ];
    }

    /// <summary>Each sample as is, truncated, extended, and with single bytes changed.</summary>
    private static IEnumerable<byte[]> Samples(Random random, List<byte[]> valid)
    {
        foreach (var bytes in valid)
        {
            yield return bytes;
            for (var cut = 0; cut < bytes.Length; cut++)
            {
                yield return bytes[..cut];
            }

            yield return [.. bytes, 0];
            for (var i = 0; i < 200; i++)
            {
                var copy = (byte[])bytes.Clone();
                copy[random.Next(copy.Length)] = (byte)random.Next(256);
                yield return copy;
            }
        }
    }

    private static KvOperation? ReferenceOperation(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var r = new CanonicalReader(bytes);
            var op = (KvOpCode)r.U8();
            var key = r.Bytes(KvOperation.MaxKeyBytes);
            if (key.Length == 0)
            {
                return null;
            }

            KvOperation result;
            switch (op)
            {
                case KvOpCode.Get:
                    result = KvOperation.Get(key);
                    break;
                case KvOpCode.Delete:
                    result = KvOperation.Delete(key);
                    break;
                case KvOpCode.Put:
                    result = KvOperation.Put(key, r.Bytes(KvOperation.MaxValueBytes));
                    break;
                case KvOpCode.Cas:
                    var value = r.Bytes(KvOperation.MaxValueBytes);
                    result = KvOperation.Cas(key, r.U64(), value);
                    break;
                default:
                    return null;
            }

            r.End();
            return result;
        }
        catch (MalformedMessageException)
        {
            return null;
        }
    }

    private static KvRouteMessage? ReferenceRoute(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var r = new CanonicalReader(bytes);
            var kind = (KvRouteKind)r.U8();
            var message = new KvRouteMessage(kind, r.String(KvRouteMessage.MaxClientIdBytes), r.U64(), r.Hash(), r.Bytes(KvRouteMessage.MaxBodyBytes));
            r.End();
            return kind is KvRouteKind.Request or KvRouteKind.Response ? message : null;
        }
        catch (MalformedMessageException)
        {
            return null;
        }
    }
}
