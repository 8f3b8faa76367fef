using Heraclius.KvStore.Transport;

namespace Heraclius.Node.Commands;

/// <summary>Asks every node of the topology for its status; unreachable nodes are reported as down.</summary>
internal static class StatusCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args);
        if (o.Help)
        {
            Console.WriteLine("heraclius status [--dir .data]");
            return 0;
        }

        var topology = new DataDirectory(o.Get("--dir", ".data")).LoadTopology();
        var down = 0;
        Console.WriteLine($"{"node",-10} {"pid",7} {"view",6} {"height",8} {"leader",6} {"lag",5}");
        foreach (var node in topology.Clusters.SelectMany(c => c.Nodes))
        {
            using var client = new GrpcNodeClient(new Uri(node.Endpoint));
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                var s = await client.StatusAsync(cts.Token);
                Console.WriteLine($"{s.NodeId,-10} {s.ProcessId,7} {s.View,6} {s.DecidedHeight,8} {(s.IsLeader ? "yes" : "no"),6} {s.Lag,5}");
            }
            catch (Exception e) when (e is Grpc.Core.RpcException or OperationCanceledException or HttpRequestException)
            {
                Console.WriteLine($"{node.Id,-10} {"-",7} {"-",6} {"-",8} {"-",6} {"-",5}  down");
                down++;
            }
        }

        return down == 0 ? 0 : 1;
    }
}
