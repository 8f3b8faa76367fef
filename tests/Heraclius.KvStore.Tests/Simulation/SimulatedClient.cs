using Heraclius.KvStore.Client;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Simulation;

/// <summary>A client that signs batches of key-value operations and accepts answers only from compact decisions it verified.</summary>
public sealed class SimulatedClient
{
    private readonly string _cluster;
    private readonly SigningKey _key;
    private ulong _nextSeq = 1;

    public SimulatedClient(string id, string cluster, SigningKey key)
    {
        Id = id;
        _cluster = cluster;
        _key = key;
    }

    public string Id { get; }

    /// <summary>Unanswered batches with the hashes of their requests.</summary>
    public Dictionary<ulong, (ClientBatch Batch, Hash32 Hash)> Pending { get; } = [];

    public Dictionary<ulong, ClientReply> Answers { get; } = [];

    public int Rejected { get; set; }

    public ClientBatch NewBatch(Random random, int requests, int keySpace)
    {
        var list = new List<ClientRequest>();
        for (var i = 0; i < requests; i++)
        {
            var key = System.Text.Encoding.UTF8.GetBytes($"k{random.Next(keySpace)}");
            var op = random.Next(3) switch
            {
                0 => KvOperation.Get(key),
                1 => KvOperation.Put(key, System.Text.Encoding.UTF8.GetBytes($"v{random.Next(1000)}")),
                _ => KvOperation.Cas(key, (ulong)random.Next(3), [1, 2, 3]),
            };
            list.Add(new ClientRequest(_nextSeq++, op.ToBytes()));
        }

        var batch = ClientBatch.Create(Id, _cluster, list, _key);
        foreach (var r in list)
        {
            Pending[r.Seq] = (batch, r.Hash(Id));
        }

        return batch;
    }

    public void Accept(ClientReply reply)
    {
        if (!Pending.TryGetValue(reply.Seq, out var pending))
        {
            return;
        }

        if (reply.RequestHash != pending.Hash)
        {
            Rejected++;
            return;
        }

        Pending.Remove(reply.Seq);
        Answers[reply.Seq] = reply;
    }
}
