using Microsoft.AspNetCore.Hosting;
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Prometheus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.Topology;
using Heraclius.Node.Services;
using Microsoft.Extensions.Logging;

namespace Heraclius.Node.Commands;

/// <summary>Runs one node in this process until SIGINT/SIGTERM.</summary>
internal static class RunCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args);
        if (o.Help)
        {
            Console.WriteLine("heraclius run --config <node.json>");
            return 0;
        }

        var config = NodeConfig.Load(o.Get("--config", "node.json"));
        config.Replica.Validate();
        var topology = ClusterTopology.Load(config.Topology);
        using var key = SigningKey.FromPrivateBytes(Convert.FromBase64String(File.ReadAllText(config.Key).Trim()));
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(c => c.SingleLine = true)
            .SetMinimumLevel(LogLevel.Warning).AddFilter("Heraclius", LogLevel.Information));
        var metricsPort = config.MetricsPort ?? new Uri(topology.Node(config.NodeId).Endpoint).Port + 1000;
        var cluster = topology.Cluster(topology.Node(config.NodeId).ClusterId);
        await using var node = await ClusterNode.StartAsync(topology, config.NodeId, key, config.DataDirectory, config.Replica,
            service: NodeServices.For(topology, cluster), loggerFactory: loggerFactory,
            configureBuilder: b =>
            {
                b.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("Heraclius", LogLevel.Information);
                b.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, metricsPort, o => o.Protocols = HttpProtocols.Http1));
            },
            configureApp: app => app.MapMetrics("/metrics"));
        var stopped = new TaskCompletionSource();
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stopped.TrySetResult(); });
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stopped.TrySetResult(); });
        Console.WriteLine($"{config.NodeId} listening on {node.Server.Address} (gRPC), http://127.0.0.1:{metricsPort}/metrics and /healthz (pid {Environment.ProcessId})");
        await stopped.Task;
        return 0;
    }
}
