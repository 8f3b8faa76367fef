using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Simulation;

/// <summary>
/// The cost of one operation as clusters are added: C coordinator and S shard clusters of real
/// replicas on the in-memory network, a fixed modest load, and the messages, bytes and signature
/// checks per completed operation, counted after a warm-up. The load is the same for every cluster
/// whatever their number: one client per coordinator with one operation in flight, C = S, and
/// client c's k-th operation goes to shard (c + k) mod S (a random 32-byte key of that shard, half
/// GETs, half PUTs), so every shard serves one operation at a time. With sparse fan-out the cost per
/// operation then does not depend on how many clusters there are; the paper's all-pairs exchange grows
/// with them.
/// </summary>
public static class ScalingBenchmark
{
    public static ScalingResult Run(int coordinators, int shards, int opsPerClient = 40, int warmupPerClient = 5, int seed = 1)
    {
        var topology = new SimulatedTopology(coordinators, shards, clients: coordinators);
        var options = new ReplicaOptions { BatchDelayMs = 1, CheckpointInterval = 64, RetainDecisions = 192, ViewChangeTimeoutMs = 2000, ResendIntervalMs = 200, StateBuckets = 16 };
        var sim = new InMemoryClusters(topology.Topology, topology.NodeKeys, options);
        var random = new Random(seed);
        var router = new Routing.ShardRouter(topology.Topology);
        var clients = Enumerable.Range(0, coordinators).Select(c => new LoadClient($"client-{c}", $"c{c}", c, topology.ClientKeys[c], router)).ToArray();
        var byId = clients.ToDictionary(c => c.Id, StringComparer.Ordinal);
        var measuring = false;
        long verifies0 = 0, messages0 = 0, bytes0 = 0, start = 0, completed = 0;

        sim.OnReply = (client, reply) =>
        {
            var c = byId[client];
            if (reply.Seq != c.InFlight || reply.Status != ReplyStatus.Executed)
            {
                return;
            }

            c.Done++;
            if (measuring)
            {
                completed++;
            }

            if (c.Done < warmupPerClient + opsPerClient)
            {
                c.Next(sim, random);
            }
        };

        foreach (var c in clients)
        {
            c.Next(sim, random);
        }

        if (!sim.RunUntil(() => clients.All(c => c.Done >= warmupPerClient), 600_000))
        {
            throw new InvalidOperationException($"{coordinators}+{shards}: warm-up did not complete");
        }

        measuring = true;
        verifies0 = CryptoCounters.Verifies;
        messages0 = sim.Traffic.Messages;
        bytes0 = sim.Traffic.Bytes;
        start = sim.Now;
        if (!sim.RunUntil(() => clients.All(c => c.Done >= warmupPerClient + opsPerClient), 3_600_000))
        {
            throw new InvalidOperationException($"{coordinators}+{shards}: the load did not complete");
        }

        var ops = Math.Max(1, completed);
        return new ScalingResult(coordinators, shards, completed,
            (double)(sim.Traffic.Messages - messages0) / ops,
            (double)(sim.Traffic.Bytes - bytes0) / ops,
            (double)(CryptoCounters.Verifies - verifies0) / ops,
            sim.Now - start);
    }

    /// <summary>A closed-loop client: one operation in flight, sent to node 1 of its coordinator (so it is forwarded, as most are).</summary>
    private sealed class LoadClient(string id, string coordinator, int index, SigningKey key, Routing.ShardRouter router)
    {
        private ulong _seq;

        public string Id { get; } = id;

        public ulong InFlight { get; private set; }

        public int Done { get; set; }

        public void Next(InMemoryClusters sim, Random random)
        {
            var shard = router.Shards[(index + Done) % router.Shards.Count];
            var k = new byte[32];
            do
            {
                random.NextBytes(k);
            }
            while (router.ShardOf(k) != shard);

            var op = random.Next(2) == 0 ? KvOperation.Get(k) : KvOperation.Put(k, k);
            InFlight = ++_seq;
            var batch = ClientBatch.Create(Id, coordinator, [new ClientRequest(InFlight, op.ToBytes())], key);
            sim.Submit(coordinator, 1, batch);
        }
    }
}
