using Microsoft.Extensions.Logging;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.Tests.Simulation;
using Heraclius.KvStore.Transport;
using Heraclius.Testing.Faults;

namespace Heraclius.KvStore.Tests.Cluster;

/// <summary>Four real nodes in this process over real gRPC on loopback, with their data in a temporary directory.</summary>
public sealed class GrpcCluster : IAsyncDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "heraclius-cluster-" + Guid.NewGuid().ToString("N"));
    private readonly int[] _ports;

    public GrpcCluster()
    {
        _ports = Heraclius.Testing.Cluster.FreePorts.Reserve(4);
        Keys = new TestTopology(4, 2, "c0", i => $"http://127.0.0.1:{_ports[i]}");
        Nodes = new ClusterNode?[4];
    }

    public TestTopology Keys { get; }

    public ClusterNode?[] Nodes { get; }

    /// <summary>Each node's network as its replica sees it, to cut and heal links.</summary>
    public FaultyPeerNetwork?[] Networks { get; } = new FaultyPeerNetwork?[4];

    /// <summary>Members whose outbound traffic lies, and how; set before starting them.</summary>
    public Dictionary<int, ByzantineMode> Byzantine { get; } = [];

    /// <summary>Cuts every link between <paramref name="node"/> and the others, both ways.</summary>
    public void Isolate(int node)
    {
        Networks[node]!.Cut([.. Enumerable.Range(0, 4).Where(i => i != node)]);
        for (var i = 0; i < 4; i++)
        {
            if (i != node)
            {
                Networks[i]?.Cut(node);
            }
        }
    }

    public void HealAll()
    {
        foreach (var n in Networks)
        {
            n?.Heal();
        }
    }

    public ReplicaOptions Options { get; } = new() { ViewChangeTimeoutMs = 500, CheckpointInterval = 16, RetainDecisions = 48, ResendIntervalMs = 100 };

    public async Task StartAsync()
    {
        for (var i = 0; i < 4; i++)
        {
            await StartNodeAsync(i);
        }
    }

    public async Task StartNodeAsync(int i) =>
        Nodes[i] = await ClusterNode.StartAsync(Keys.Topology, Keys.Cluster.Nodes[i].Id, Keys.NodeKeys[i], Path.Combine(_root, $"n{i}"), Options,
            wrapNetwork: inner => Networks[i] = new FaultyPeerNetwork(inner, Byzantine.TryGetValue(i, out var mode)
                ? new ByzantineRewriter(mode, Keys.NodeKeys[i], "c0", i, new Random(i))
                : null),
            loggerFactory: Environment.GetEnvironmentVariable("HERACLIUS_TEST_LOG") is null ? null : Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Information)));

    /// <summary>Where node <paramref name="i"/> keeps its WAL (its <c>wal</c> directory).</summary>
    public string WalDirectory(int i) => Path.Combine(_root, $"n{i}", "wal");

    public async Task StopNodeAsync(int i)
    {
        var node = Nodes[i];
        Nodes[i] = null;
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    public async Task<BftClient> ClientAsync(int node, int client = 0, BftClientOptions? options = null)
    {
        var grpc = new GrpcNodeClient(new Uri(Keys.Cluster.Nodes[node].Endpoint));
        var c = new BftClient(Keys.Topology, "c0", $"client-{client}", Keys.ClientKeys[client], grpc, options);
        await c.StartAsync();
        return c;
    }

    /// <summary>Waits until a quorum of nodes works in one view (not changing views), and returns that view.</summary>
    /// <remarks>
    /// A slow start can trigger a view change before the test begins, and a node may wait alone in a view
    /// change while the quorum carries on (by design); a test that kills "the leader" must name the one the quorum follows.
    /// </remarks>
    public async Task<ulong> StableViewAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var running = Nodes.Where(n => n is not null).Select(n => n!).ToList();
            var views = await Task.WhenAll(running.Select(n => n.Host.QueryAsync(r => (r.View, r.InViewChange))));
            var working = views.Where(v => !v.InViewChange).GroupBy(v => v.View).OrderByDescending(g => g.Count()).FirstOrDefault();
            if (working is not null && working.Count() >= 3)
            {
                return working.Key;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no stable view: {string.Join(", ", views)}");
            await Task.Delay(20);
        }
    }

    /// <summary>Waits until every running node has decided the same height, then checks logs and states agree.</summary>
    public async Task AssertConvergedAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var running = Nodes.Where((n, i) => n is not null && !Byzantine.ContainsKey(i)).Select(n => n!).ToList();
            // Each node's height and root are read in one step of its loop: a late client retransmission
            // decided between two separate reads would otherwise compare roots of different heights.
            var states = await Task.WhenAll(running.Select(n => n.Host.QueryAsync(r =>
                (Height: r.DecidedHeight, Root: r.PoolBatches == 0 ? r.ComputeDecidedStateRoot().ToString() : "busy"))));
            if (states.Select(s => s.Height).Distinct().Count() == 1)
            {
                var roots = states.Select(s => s.Root).ToList();
                if (roots.All(r => r != "busy"))
                {
                    Assert.Single(roots.Distinct());
                    var logs = await Task.WhenAll(running.Select(n => n.Host.QueryAsync(r => r.RetainedHeaders.ToDictionary(h => h.Height, h => h.Hash))));
                    foreach (var h in logs.SelectMany(l => l.Keys).Distinct())
                    {
                        Assert.Single(logs.Where(l => l.ContainsKey(h)).Select(l => l[h]).Distinct());
                    }

                    return;
                }
            }

            if (DateTime.UtcNow >= deadline)
            {
                var report = await Task.WhenAll(running.Select(n => n.Host.QueryAsync(r =>
                    $"{r.NodeId}: height {r.DecidedHeight} view {r.View} inVC {r.InViewChange} pool {r.PoolBatches} rejections {string.Join(" ", r.Rejections.Select(kv => $"{kv.Key}={kv.Value}"))}")));
                Assert.Fail($"nodes did not converge:\n{string.Join("\n", report)}");
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < Nodes.Length; i++)
        {
            await StopNodeAsync(i);
        }

        try
        {
            Directory.Delete(_root, true);
        }
        catch (IOException)
        {
        }
    }
}
