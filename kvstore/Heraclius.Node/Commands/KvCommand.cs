using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.Node.Commands;

/// <summary>Key-value operations through the cluster, answered only by verified compact decisions.</summary>
internal static class KvCommand
{
    private const int OverloadedAttempts = 5;
    private static readonly TimeSpan OverloadedBackoff = TimeSpan.FromMilliseconds(100);

    private const string Usage = """
        heraclius kv get <key>
        heraclius kv put <key> <value>
        heraclius kv delete <key>
        heraclius kv cas <key> <expected-version> <value>
        options: [--dir .data] [--coordinator c0] [--node <index>]
          the request goes to node <index> (default 0) of a coordinator cluster (default c0; any
          coordinator serves any key: it routes the operation to the key's shard and answers)
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args);
        if (o.Help || o.Positional.Count < 2)
        {
            Console.WriteLine(Usage);
            return o.Help ? 0 : 2;
        }

        o.RejectUnknown("--dir", "--coordinator", "--node");
        var p = o.Positional;
        static byte[] B(string s) => System.Text.Encoding.UTF8.GetBytes(s);
        var op = (p[0], p.Count) switch
        {
            ("get", 2) => KvOperation.Get(B(p[1])),
            ("put", 3) => KvOperation.Put(B(p[1]), B(p[2])),
            ("delete", 2) => KvOperation.Delete(B(p[1])),
            ("cas", 4) => KvOperation.Cas(B(p[1]), ulong.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture), B(p[3])),
            _ => null,
        };
        if (op is null)
        {
            return Cli.Fail($"bad kv arguments\n{Usage}");
        }

        var dir = new DataDirectory(o.Get("--dir", ".data"));
        var topology = dir.LoadTopology();
        if (topology.Service != ClusterTopology.KeyValueService)
        {
            return Cli.Fail($"{dir.TopologyPath} runs the {topology.Service} service, not the key-value store; kv commands need a topology made with --service kv");
        }

        var coordinatorId = o.Get("--coordinator", TopologyShape.CoordinatorId(0));
        var coordinators = string.Join(", ", topology.Coordinators.Select(c => c.Id));
        if (!topology.TryGetCluster(coordinatorId, out var cluster))
        {
            return Cli.Fail($"no cluster {coordinatorId} in {dir.TopologyPath}; coordinators: {coordinators}");
        }

        if (cluster.Kind != ClusterKind.Coordinator)
        {
            return Cli.Fail($"{coordinatorId} is a shard cluster; clients talk to coordinators: {coordinators}");
        }

        var index = o.GetInt("--node", 0);
        if (index < 0 || index >= cluster.N)
        {
            return Cli.Fail($"--node {index}: {cluster.Id} has nodes 0..{cluster.N - 1}");
        }

        var node = cluster.Nodes[index];
        using var key = dir.LoadKey(KeygenCommand.CliClientId);
        using var grpc = new GrpcNodeClient(new Uri(node.Endpoint));
        await using var client = new BftClient(topology, cluster.Id, KeygenCommand.CliClientId, key, grpc, new BftClientOptions { BatchDelay = TimeSpan.Zero });
        await client.StartAsync();
        var reply = await client.SendAsync(op.ToBytes()).WaitAsync(TimeSpan.FromSeconds(30));

        // Overloaded means nothing ran and never will under that id (a saturated shard, or a decision whose answers reached
        // the output budget), so the operation is sent again under a new id after a back-off, as the ledger client does.
        for (var attempt = 1; reply.Status == ReplyStatus.Overloaded && attempt < OverloadedAttempts; attempt++)
        {
            await Task.Delay(OverloadedBackoff * (1 << (attempt - 1)));
            reply = await client.SendAsync(op.ToBytes()).WaitAsync(TimeSpan.FromSeconds(30));
        }

        if (reply.Status == ReplyStatus.Overloaded)
        {
            return Cli.Fail($"request refused: overloaded {OverloadedAttempts} times (a shard it needs is saturated, or the cluster's decisions are full); nothing was executed, retry later");
        }

        if (reply.Status != ReplyStatus.Executed)
        {
            return Cli.Fail($"request refused: {reply.Status}");
        }

        var result = KvResult.Parse(reply.Result);
        switch (result.Status)
        {
            case KvStatus.Ok when p[0] == "get":
                Console.WriteLine(System.Text.Encoding.UTF8.GetString(result.Value));
                return 0;
            case KvStatus.Ok:
                Console.WriteLine($"ok version={result.Version}");
                return 0;
            case KvStatus.NotFound:
                Console.Error.WriteLine($"not found: {p[1]}");
                return 1;
            case KvStatus.VersionMismatch:
                Console.Error.WriteLine($"version mismatch: current version is {result.Version}");
                return 1;
            default:
                return Cli.Fail($"malformed operation");
        }
    }
}
