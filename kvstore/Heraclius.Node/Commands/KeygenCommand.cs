using System.Text.Json;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.Node.Commands;

/// <summary>Makes Ed25519 keys (private key files readable only by their owner), node configs and the topology file.</summary>
internal static class KeygenCommand
{
    public const string CliClientId = "cli";
    public const string BenchClientId = "bench";

    public const string Usage = """
        heraclius keygen [--coordinators 1] [--shards 2] [--nodes 4] [--service kv|ledger] [--base-port 7100] [--dir .data] [--force]

          clusters c0..c(C-1) (coordinators: clients talk to them) and s0..s(S-1) (shards: a key lives on
          shard XXH64(key) mod S); --shards 0 makes the single-cluster store (c0 executes every operation).
          Node ids are <cluster>-n<i>; gRPC ports run from --base-port, coordinators first, then shards;
          each node's metrics/health port is its gRPC port + 1000. --service picks what every cluster
          runs: kv (the key-value store, default) or ledger (accounts and transfers; needs shards).
          --force replaces an existing topology and deletes its nodes' data.
        """;

    public static int Run(string[] args)
    {
        var o = new Options(args, "--force");
        if (o.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        o.RejectUnknown("--coordinators", "--shards", "--nodes", "--service", "--base-port", "--dir", "--force");
        if (o.Positional.Count > 0)
        {
            throw new ArgumentException($"keygen takes no positional arguments: {string.Join(" ", o.Positional)}");
        }

        var shape = TopologyShape.FromOptions(o, TopologyShape.Default);
        var basePort = o.GetInt("--base-port", TopologyShape.DefaultBasePort);
        shape.Validate(basePort);
        var dir = new DataDirectory(o.Get("--dir", ".data"));
        var force = o.Has("--force");
        if (dir.Exists && !force)
        {
            return Cli.Fail($"{dir.TopologyPath} exists; pass --force to replace it (this deletes the data of its nodes)");
        }

        var topology = Generate(dir, shape, basePort, [CliClientId, BenchClientId], force);
        Console.WriteLine($"wrote {dir.TopologyPath}: {shape}");
        foreach (var c in topology.Clusters)
        {
            Console.WriteLine($"  {c.Id} ({Kind(c.Kind)}): {string.Join(" ", c.Nodes.Select(n => n.Endpoint))}");
        }

        return 0;
    }

    public static string Kind(ClusterKind kind) => kind == ClusterKind.Coordinator ? "coordinator" : "shard";

    /// <summary>
    /// Writes a key and a node config per node, a key per client, and then the topology (last, so a
    /// topology on disk always has its keys). With <paramref name="replace"/>, the previous topology's
    /// keys, configs, logs and node data are deleted first: a node's WAL holds certificates signed with
    /// the keys it replaces, so it cannot survive a new key.
    /// </summary>
    public static ClusterTopology Generate(DataDirectory dir, TopologyShape shape, int basePort, IReadOnlyList<string> clientIds, bool replace)
    {
        shape.Validate(basePort);
        if (dir.Exists)
        {
            if (!replace)
            {
                throw new ArgumentException($"{dir.TopologyPath} exists; pass --force to replace it");
            }

            dir.DeleteDeployment(dir.LoadTopology());
        }

        var clusters = new List<ClusterInfo>();
        var port = basePort;
        foreach (var (clusterId, kind) in shape.ClusterIds())
        {
            var infos = new List<NodeInfo>();
            for (var i = 0; i < shape.NodesPerCluster; i++)
            {
                var id = TopologyShape.NodeId(clusterId, i);
                if (Directory.Exists(dir.NodeDataPath(id)))
                {
                    if (!replace)
                    {
                        throw new ArgumentException($"{dir.NodeDataPath(id)} holds data of an earlier node {id}; pass --force to delete it");
                    }

                    Directory.Delete(dir.NodeDataPath(id), recursive: true);
                }

                using var key = SigningKey.Generate();
                dir.SaveKey(id, key);
                infos.Add(new NodeInfo(id, clusterId, i, key.PublicKey, $"http://127.0.0.1:{port++}"));
                Directory.CreateDirectory(Path.GetDirectoryName(dir.NodeConfigPath(id))!);
                File.WriteAllText(dir.NodeConfigPath(id), JsonSerializer.Serialize(new NodeConfig
                {
                    NodeId = id,
                    Topology = dir.TopologyPath,
                    Key = dir.KeyPath(id),
                    DataDirectory = dir.NodeDataPath(id),
                }, NodeConfig.JsonOptions));
            }

            clusters.Add(new ClusterInfo(clusterId, kind, infos));
        }

        var clients = new List<ClientInfo>();
        foreach (var clientId in clientIds)
        {
            using var key = SigningKey.Generate();
            dir.SaveKey(clientId, key);
            clients.Add(new ClientInfo(clientId, key.PublicKey));
        }

        var topology = new ClusterTopology(clusters, clients, shape.Service);
        File.WriteAllText(dir.TopologyPath, topology.ToJson());
        return topology;
    }
}
