using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.Node.Commands;

/// <summary>Asks every node of every cluster for its status, grouped by cluster; unreachable nodes are reported as down.</summary>
internal static class StatusCommand
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(2);

    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args);
        if (o.Help)
        {
            Console.WriteLine("heraclius status [--dir .data]   one line per node of every cluster: cluster, kind, node, pid, view, height, leader, lag (exit 1 if any is down)");
            return 0;
        }

        o.RejectUnknown("--dir");
        var topology = new DataDirectory(o.Get("--dir", ".data")).LoadTopology();
        var nodes = topology.Clusters.SelectMany(c => c.Nodes).ToList();
        var statuses = await QueryAsync(nodes, CallTimeout);
        var down = 0;
        Console.WriteLine($"{"cluster",-8} {"kind",-11} {"node",-10} {"pid",7} {"view",6} {"height",8} {"leader",6} {"lag",5}");
        for (var i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            var kind = KeygenCommand.Kind(topology.Cluster(n.ClusterId).Kind);
            if (statuses[i] is { } s)
            {
                Console.WriteLine($"{n.ClusterId,-8} {kind,-11} {s.NodeId,-10} {s.ProcessId,7} {s.View,6} {s.DecidedHeight,8} {(s.IsLeader ? "yes" : "no"),6} {s.Lag,5}");
            }
            else
            {
                Console.WriteLine($"{n.ClusterId,-8} {kind,-11} {n.Id,-10} {"-",7} {"-",6} {"-",8} {"-",6} {"-",5}  down ({n.Endpoint} unreachable)");
                down++;
            }
        }

        return down == 0 ? 0 : 1;
    }

    /// <summary>Every node's status, asked in parallel; null for a node that does not answer within <paramref name="timeout"/>.</summary>
    public static async Task<NodeStatus?[]> QueryAsync(IReadOnlyList<NodeInfo> nodes, TimeSpan timeout)
    {
        var result = new NodeStatus?[nodes.Count];
        await Task.WhenAll(nodes.Select(async (node, i) =>
        {
            using var client = new GrpcNodeClient(new Uri(node.Endpoint));
            try
            {
                using var cts = new CancellationTokenSource(timeout);
                result[i] = await client.StatusAsync(cts.Token);
            }
            catch (Exception e) when (e is Grpc.Core.RpcException or OperationCanceledException or HttpRequestException)
            {
                result[i] = null;
            }
        }));
        return result;
    }
}
