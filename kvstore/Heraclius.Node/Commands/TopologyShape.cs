using Heraclius.KvStore.Topology;
using Heraclius.Node.Services;

namespace Heraclius.Node.Commands;

/// <summary>
/// How many coordinator and shard clusters a local topology has and how many nodes each, with the
/// port plan of keygen: cluster k in the order c0.., s0.. listens on base + k·nodes + i (gRPC) and
/// base + 1000 + k·nodes + i (metrics, the node's default), so the two ranges must not meet.
/// </summary>
internal readonly record struct TopologyShape(int Coordinators, int Shards, int NodesPerCluster, string Service = ClusterTopology.KeyValueService)
{
    /// <summary>The services a local deployment can run (--service).</summary>
    public static readonly string[] Services = [ClusterTopology.KeyValueService, NodeServices.Ledger];

    public const int DefaultCoordinators = 1;
    public const int DefaultShards = 2;
    public const int DefaultNodes = 4;
    public const int DefaultBasePort = 7100;

    /// <summary>Offset of a node's metrics/health port from its gRPC port (RunCommand's default for metricsPort).</summary>
    public const int MetricsPortOffset = 1000;

    public static TopologyShape Default => new(DefaultCoordinators, DefaultShards, DefaultNodes);

    public int Clusters => Coordinators + Shards;

    public int TotalNodes => Clusters * NodesPerCluster;

    public static string CoordinatorId(int i) => $"c{i}";

    public static string ShardId(int i) => $"s{i}";

    public static string NodeId(string cluster, int index) => $"{cluster}-n{index}";

    /// <summary>The shape given by --coordinators, --shards and --nodes, each defaulting to <paramref name="fallback"/>'s.</summary>
    public static TopologyShape FromOptions(Options o, TopologyShape fallback) => new(
        o.GetInt("--coordinators", fallback.Coordinators),
        o.GetInt("--shards", fallback.Shards),
        o.GetInt("--nodes", fallback.NodesPerCluster),
        o.Get("--service", fallback.Service));

    /// <summary>Whether any of --coordinators, --shards or --nodes was given.</summary>
    public static bool Requested(Options o) => o.Has("--coordinators") || o.Has("--shards") || o.Has("--nodes") || o.Has("--service");

    /// <summary>The shape of an existing topology; null when it is not one keygen makes (ids c0.., s0.., equal cluster sizes).</summary>
    public static TopologyShape? Of(ClusterTopology topology)
    {
        var coordinators = topology.Coordinators.ToList();
        var shards = topology.Shards.ToList();
        if (coordinators.Count == 0
            || topology.Clusters.Select(c => c.N).Distinct().Count() != 1
            || coordinators.Where((c, i) => c.Id != CoordinatorId(i)).Any()
            || shards.Where((s, i) => s.Id != ShardId(i)).Any())
        {
            return null;
        }

        return new TopologyShape(coordinators.Count, shards.Count, topology.Clusters[0].N, topology.Service);
    }

    /// <summary>Throws <see cref="ArgumentException"/> with the reason when this shape cannot be made on ports from <paramref name="basePort"/>.</summary>
    public void Validate(int basePort)
    {
        if (Coordinators < 1)
        {
            throw new ArgumentException($"--coordinators must be at least 1 (clients only talk to coordinators); got {Coordinators}");
        }

        if (!Services.Contains(Service))
        {
            throw new ArgumentException($"--service must be one of {string.Join(", ", Services)}; got {Service}");
        }

        if (Service == NodeServices.Ledger && Shards < 1)
        {
            throw new ArgumentException("the ledger needs at least one shard cluster (--shards 1 or more): accounts live on shards");
        }

        if (Shards < 0)
        {
            throw new ArgumentException($"--shards must be 0 (one cluster executes everything) or more; got {Shards}");
        }

        if (NodesPerCluster < 1 || (NodesPerCluster - 1) % 3 != 0)
        {
            throw new ArgumentException($"--nodes must be 3f+1 (1, 4, 7, 10, ...) so a cluster tolerates f faults; got {NodesPerCluster}");
        }

        if (TotalNodes > MetricsPortOffset)
        {
            throw new ArgumentException($"{TotalNodes} nodes would need gRPC ports that meet the metrics ports (gRPC port + {MetricsPortOffset}); at most {MetricsPortOffset} nodes");
        }

        if (basePort < 1024 || basePort + TotalNodes - 1 + MetricsPortOffset > 65535)
        {
            throw new ArgumentException($"--base-port {basePort}: the {TotalNodes} nodes need ports {basePort}..{basePort + TotalNodes - 1} and their metrics ports up to {basePort + TotalNodes - 1 + MetricsPortOffset}; choose a base port from 1024 to {65535 - MetricsPortOffset - TotalNodes + 1}");
        }
    }

    /// <summary>Cluster ids in port order: the coordinators, then the shards.</summary>
    public IEnumerable<(string Id, ClusterKind Kind)> ClusterIds() =>
        Enumerable.Range(0, Coordinators).Select(i => (CoordinatorId(i), ClusterKind.Coordinator))
            .Concat(Enumerable.Range(0, Shards).Select(i => (ShardId(i), ClusterKind.Shard)));

    public override string ToString() =>
        $"{Coordinators} coordinator{(Coordinators == 1 ? "" : "s")} + {Shards} shard{(Shards == 1 ? "" : "s")}, {NodesPerCluster} nodes each{(Service == ClusterTopology.KeyValueService ? "" : $", service {Service}")}";
}
