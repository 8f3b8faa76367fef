using System.Text.Json;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Topology;

/// <summary>
/// The one topology file every node, client and tool reads: clusters with their members' public
/// keys and endpoints, and the registered clients. Immutable; a change is a new file.
/// </summary>
public sealed class ClusterTopology
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
    };

    private readonly Dictionary<string, ClusterInfo> _clusters;
    private readonly Dictionary<string, ClientInfo> _clients;

    /// <summary>The service of a key-value deployment (the default).</summary>
    public const string KeyValueService = "kv";

    public ClusterTopology(IEnumerable<ClusterInfo> clusters, IEnumerable<ClientInfo> clients, string service = KeyValueService)
    {
        if (string.IsNullOrEmpty(service) || !service.All(char.IsAsciiLetterLower))
        {
            throw new ArgumentException("service must be a non-empty lowercase ascii word", nameof(service));
        }

        Service = service;
        Clusters = [.. clusters];
        Clients = [.. clients];
        _clusters = Clusters.ToDictionary(c => c.Id, StringComparer.Ordinal);
        _clients = Clients.ToDictionary(c => c.Id, StringComparer.Ordinal);

        // Clients and clusters share one destination space in output groups (and "audit" is the mirror's).
        var clash = Clients.FirstOrDefault(c => _clusters.ContainsKey(c.Id) || ReservedDestinations.Contains(c.Id));
        if (clash is not null)
        {
            throw new ArgumentException($"client id {clash.Id} is a cluster id or a reserved destination", nameof(clients));
        }
    }

    /// <summary>Destinations no client may take as its id.</summary>
    public static IReadOnlySet<string> ReservedDestinations { get; } = new HashSet<string>(StringComparer.Ordinal) { "audit" };

    /// <summary>
    /// Which replicated service every cluster runs ("kv", "ledger"): part of the deployment, so every
    /// node of it executes the same state machine. The node process maps it to a service.
    /// </summary>
    public string Service { get; }

    public IReadOnlyList<ClusterInfo> Clusters { get; }

    public IReadOnlyList<ClientInfo> Clients { get; }

    public IEnumerable<ClusterInfo> Coordinators => Clusters.Where(c => c.Kind == ClusterKind.Coordinator);

    public IEnumerable<ClusterInfo> Shards => Clusters.Where(c => c.Kind == ClusterKind.Shard);

    /// <summary>
    /// The clusters <paramref name="cluster"/> exchanges groups with, in topology order: coordinators with
    /// every shard, shards with every coordinator; two clusters of one kind never exchange groups.
    /// </summary>
    public IReadOnlyList<ClusterInfo> PeersOf(ClusterInfo cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return [.. Clusters.Where(c => c.Kind != cluster.Kind)];
    }

    public ClusterInfo Cluster(string id) =>
        _clusters.TryGetValue(id, out var c) ? c : throw new KeyNotFoundException($"unknown cluster {id}");

    public bool TryGetCluster(string id, out ClusterInfo cluster) => _clusters.TryGetValue(id, out cluster!);

    public bool TryGetClient(string id, out ClientInfo client) => _clients.TryGetValue(id, out client!);

    public NodeInfo Node(string nodeId) =>
        Clusters.SelectMany(c => c.Nodes).FirstOrDefault(n => n.Id == nodeId)
        ?? throw new KeyNotFoundException($"unknown node {nodeId}");

    public string ToJson() => JsonSerializer.Serialize(ToFile(), JsonOptions);

    public static ClusterTopology FromJson(string json)
    {
        var file = JsonSerializer.Deserialize<TopologyFile>(json, JsonOptions)
                   ?? throw new FormatException("empty topology file");
        var clusters = new List<ClusterInfo>();
        foreach (var c in file.Clusters)
        {
            var kind = c.Kind switch
            {
                "coordinator" => ClusterKind.Coordinator,
                "shard" => ClusterKind.Shard,
                _ => throw new FormatException($"cluster {c.Id}: kind must be coordinator or shard"),
            };
            var nodes = c.Nodes.Select((n, i) => new NodeInfo(n.Id, c.Id, i, VerifyingKey.FromBase64(n.PublicKey), n.Endpoint)).ToList();
            clusters.Add(new ClusterInfo(c.Id, kind, nodes));
        }

        var clients = file.Clients.Select(c => new ClientInfo(c.Id, VerifyingKey.FromBase64(c.PublicKey)));
        return new ClusterTopology(clusters, clients, file.Service ?? KeyValueService);
    }

    public static ClusterTopology Load(string path) => FromJson(File.ReadAllText(path));

    private TopologyFile ToFile() => new()
    {
        Service = Service,
        Clusters = [.. Clusters.Select(c => new TopologyFile.ClusterEntry
        {
            Id = c.Id,
            Kind = c.Kind == ClusterKind.Coordinator ? "coordinator" : "shard",
            Nodes = [.. c.Nodes.Select(n => new TopologyFile.NodeEntry { Id = n.Id, PublicKey = n.PublicKey.ToBase64(), Endpoint = n.Endpoint })],
        })],
        Clients = [.. Clients.Select(c => new TopologyFile.ClientEntry { Id = c.Id, PublicKey = c.PublicKey.ToBase64() })],
    };

    private sealed class TopologyFile
    {
        public string? Service { get; set; }

        public List<ClusterEntry> Clusters { get; set; } = [];

        public List<ClientEntry> Clients { get; set; } = [];

        public sealed class ClusterEntry
        {
            public string Id { get; set; } = "";

            public string Kind { get; set; } = "shard";

            public List<NodeEntry> Nodes { get; set; } = [];
        }

        public sealed class NodeEntry
        {
            public string Id { get; set; } = "";

            public string PublicKey { get; set; } = "";

            public string Endpoint { get; set; } = "";
        }

        public sealed class ClientEntry
        {
            public string Id { get; set; } = "";

            public string PublicKey { get; set; } = "";
        }
    }
}
