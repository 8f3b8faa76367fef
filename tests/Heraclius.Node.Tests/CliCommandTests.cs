using System.Text.Json.Nodes;
using Heraclius.KvStore.Topology;

namespace Heraclius.Node.Tests;

/// <summary>The CLI's keygen (and up's refusal to replace a topology silently), run as the built process in a temporary directory.</summary>
[Trait("Category", "Cli")]
public sealed class CliCommandTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "heraclius-cli-" + Guid.NewGuid().ToString("N"));

    private string Data => Path.Combine(_root, "data");

    private Task<CliResult> Cli(params string[] args)
    {
        Directory.CreateDirectory(_root);
        return NodeCli.RunAsync(_root, Bound, output, args);
    }

    [Fact]
    public async Task Keygen_TwoCoordinatorsThreeShards_ClustersOfFourWithDistinctPortsClearOfMetricsPorts()
    {
        var r = await Cli("keygen", "--dir", Data, "--coordinators", "2", "--shards", "3", "--base-port", "21000");
        Assert.Equal(0, r.ExitCode);

        var topology = ClusterTopology.Load(Path.Combine(Data, "topology.json"));
        Assert.Equal(["c0", "c1", "s0", "s1", "s2"], topology.Clusters.Select(c => c.Id));
        Assert.Equal([ClusterKind.Coordinator, ClusterKind.Coordinator, ClusterKind.Shard, ClusterKind.Shard, ClusterKind.Shard], topology.Clusters.Select(c => c.Kind));
        Assert.All(topology.Clusters, c =>
        {
            Assert.Equal(4, c.N);
            Assert.Equal(Enumerable.Range(0, 4).Select(i => $"{c.Id}-n{i}"), c.Nodes.Select(n => n.Id));
        });

        var nodes = topology.Clusters.SelectMany(c => c.Nodes).ToList();
        var grpc = nodes.Select(n => new Uri(n.Endpoint).Port).ToList();
        Assert.Equal(Enumerable.Range(21000, 20), grpc);
        Assert.Equal(20, nodes.Select(n => n.PublicKey.ToBase64()).Distinct().Count());
        var metrics = new List<int>();
        foreach (var n in nodes)
        {
            // Each node's own config and key; its metrics port (explicit or gRPC + 1000) clashes with no other listener.
            var config = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Data, "nodes", n.Id + ".json"), TestContext.Current.CancellationToken))!.AsObject();
            Assert.Equal(n.Id, (string?)config["nodeId"]);
            Assert.True(File.Exists((string?)config["key"]));
            metrics.Add((int?)config["metricsPort"] ?? (new Uri(n.Endpoint).Port + 1000));
        }

        Assert.Equal(40, grpc.Concat(metrics).Distinct().Count());
        Assert.Equal(["cli", "bench"], topology.Clients.Select(c => c.Id));
        Assert.True(File.Exists(Path.Combine(Data, "keys", "cli.key")));
    }

    [Fact]
    public async Task Keygen_ByDefault_OneCoordinatorTwoShards_AndShardsZero_IsTheSingleCluster()
    {
        Assert.Equal(0, (await Cli("keygen", "--dir", Data)).ExitCode);
        var topology = ClusterTopology.Load(Path.Combine(Data, "topology.json"));
        Assert.Equal([("c0", ClusterKind.Coordinator), ("s0", ClusterKind.Shard), ("s1", ClusterKind.Shard)], topology.Clusters.Select(c => (c.Id, c.Kind)));
        Assert.Equal("http://127.0.0.1:7100", topology.Clusters[0].Nodes[0].Endpoint);

        // An existing topology is kept unless --force.
        var again = await Cli("keygen", "--dir", Data, "--shards", "0");
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("--force", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, ClusterTopology.Load(Path.Combine(Data, "topology.json")).Clusters.Count);

        Assert.Equal(0, (await Cli("keygen", "--dir", Data, "--shards", "0", "--force")).ExitCode);
        var single = ClusterTopology.Load(Path.Combine(Data, "topology.json"));
        Assert.Equal(["c0"], single.Clusters.Select(c => c.Id));
        Assert.Equal(ClusterKind.Coordinator, single.Clusters[0].Kind);

        // The replaced topology's shard nodes leave nothing behind.
        Assert.False(File.Exists(Path.Combine(Data, "nodes", "s0-n0.json")));
        Assert.False(File.Exists(Path.Combine(Data, "keys", "s1-n3.key")));
    }

    [Theory]
    [InlineData("--coordinators 0", "--coordinators")]
    [InlineData("--shards -1", "--shards")]
    [InlineData("--nodes 5", "3f+1")]
    [InlineData("--nodes 0", "3f+1")]
    [InlineData("--coordinators two", "integer")]
    [InlineData("--base-port 65000", "--base-port")]
    [InlineData("--shard 2", "unknown option --shard")]
    public async Task Keygen_BadArguments_RefusedWithAReasonAndExitCode2(string args, string reason)
    {
        var r = await Cli(["keygen", "--dir", Data, .. args.Split(' ')]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(reason, r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Data, "topology.json")));
    }

    // A flag followed by another option must not take that option as its value (it once swallowed the
    // option after it, so a typo there went unnoticed and `--no-baseline --log` lost --log).
    [Theory]
    [InlineData("transfers --no-baseline --shard 2", "unknown option --shard")]
    [InlineData("get --sweep --vu 8", "unknown option --vu")]
    [InlineData("kv --log --bogus 1", "unknown option --bogus")]
    public async Task Bench_FlagFollowedByAnUnknownOption_IsRefusedWithAReasonAndExitCode2(string args, string reason)
    {
        var r = await Cli(["bench", .. args.Split(' ')]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(reason, r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BenchTransfersSweep_MinAboveMax_IsRefusedBeforeAnythingStarts()
    {
        var r = await Cli("bench", "transfers", "--sweep", "--min-vus", "512", "--max-vus", "256", "--no-baseline");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--min-vus must be at least 1 and at most --max-vus", r.Stderr, StringComparison.Ordinal);
    }

    // Refused before any cluster starts: a value the store would refuse would leave the run with no op counted.
    [Theory]
    [InlineData("0")]
    [InlineData("65537")]
    public async Task BenchKv_ValueBytesOutsideWhatAValueMayHold_IsRefusedWithExitCode2(string valueBytes)
    {
        var r = await Cli("bench", "kv", "--value-bytes", valueBytes);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--value-bytes must be 1 to 65536", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keygen_ServiceLedger_IsWrittenToTheTopology_KvCommandsRefuseIt_AndTheLedgerNeedsShards()
    {
        Assert.Equal(0, (await Cli("keygen", "--dir", Data, "--service", "ledger", "--base-port", "21200")).ExitCode);
        Assert.Equal("ledger", ClusterTopology.Load(Path.Combine(Data, "topology.json")).Service);

        var kv = await Cli("kv", "get", "k", "--dir", Data);
        Assert.NotEqual(0, kv.ExitCode);
        Assert.Contains("runs the ledger service", kv.Stderr, StringComparison.Ordinal);

        var noShards = await Cli("keygen", "--dir", Data + "-single", "--service", "ledger", "--shards", "0");
        Assert.Equal(2, noShards.ExitCode);
        Assert.Contains("at least one shard", noShards.Stderr, StringComparison.Ordinal);

        var unknown = await Cli("keygen", "--dir", Data + "-other", "--service", "bank");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("--service must be one of kv, ledger", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Up_AskedForAnotherShapeThanTheExistingTopology_RefusesWithoutForce_AndStartsNothing()
    {
        Assert.Equal(0, (await Cli("keygen", "--dir", Data, "--shards", "0", "--base-port", "21100")).ExitCode);
        var before = await File.ReadAllTextAsync(Path.Combine(Data, "topology.json"), TestContext.Current.CancellationToken);

        var r = await Cli("up", "--dir", Data, "--shards", "2");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("1 coordinator + 0 shards", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("--force", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllTextAsync(Path.Combine(Data, "topology.json"), TestContext.Current.CancellationToken));
        Assert.False(File.Exists(Path.Combine(Data, "nodes", "c0-n0.log")));

        var bad = await Cli("up", "--dir", Data, "--coordinators", "0");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--coordinators", bad.Stderr, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
