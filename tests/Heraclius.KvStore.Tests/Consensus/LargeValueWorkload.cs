using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;

using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Requests whose answers are many times their size, for the tests of the output budget and lean catch-up: four keys
/// holding 64 KiB values, and Gets of them, all from one client.
/// </summary>
internal static class LargeValueWorkload
{
    public const string ClientId = "client-0";

    public static readonly byte[][] Keys = [.. Enumerable.Range(0, 4).Select(i => new[] { (byte)'k', (byte)i })];

    /// <summary>The 64 KiB value key <paramref name="key"/> holds after <see cref="Puts"/>.</summary>
    public static byte[] ValueOf(int key) => [.. Enumerable.Repeat((byte)(key + 1), KvOperation.MaxValueBytes)];

    public static ClientBatch BatchOf(ulong firstSeq, IEnumerable<KvOperation> operations) =>
        ClientBatch.Create(ClientId, T.ClusterId, [.. operations.Select((o, i) => new ClientRequest(firstSeq + (ulong)i, o.ToBytes()))], T.ClientKeys[0]);

    /// <summary>Requests 1..4: a 64 KiB value under each key.</summary>
    public static ClientBatch Puts() => BatchOf(1, Keys.Select((k, i) => KvOperation.Put(k, ValueOf(i))));

    /// <summary><paramref name="count"/> Gets of the 64 KiB values, from request <paramref name="firstSeq"/> on; request i reads key i mod 4.</summary>
    public static ClientBatch Gets(ulong firstSeq, int count) => BatchOf(firstSeq, Enumerable.Range(0, count).Select(i => KvOperation.Get(Keys[i % Keys.Length])));

    /// <summary>Submits <paramref name="batch"/> to leader 0 at <paramref name="now"/> and runs every member until all decided <paramref name="height"/>.</summary>
    public static long RunUntilDecided(ReplicaFixture f, long now, ulong height, ClientBatch batch)
    {
        f.Replicas[0].SubmitBatch(batch.Bytes, now);
        return f.RunUntil(now, () => f.Replicas.All(r => r.DecidedHeight >= height));
    }
}
