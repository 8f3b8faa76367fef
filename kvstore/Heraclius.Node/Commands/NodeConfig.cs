using System.Text.Json;
using Heraclius.KvStore.Consensus;

namespace Heraclius.Node.Commands;

/// <summary>node.json: which node this process is, where its topology, key and data live, and its consensus settings.</summary>
internal sealed class NodeConfig
{
    public static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    public string NodeId { get; set; } = "";

    public string Topology { get; set; } = "";

    public string Key { get; set; } = "";

    public string DataDirectory { get; set; } = "";

    /// <summary>HTTP/1.1 port for /metrics (Prometheus) and /healthz, which probes and scrapers speak; the gRPC port is HTTP/2 only. Default: gRPC port + 1000.</summary>
    public int? MetricsPort { get; set; }

    public ReplicaOptions Replica { get; set; } = new();

    public static NodeConfig Load(string path) =>
        JsonSerializer.Deserialize<NodeConfig>(File.ReadAllText(path), JsonOptions) ?? throw new ArgumentException($"{path} is empty");
}
