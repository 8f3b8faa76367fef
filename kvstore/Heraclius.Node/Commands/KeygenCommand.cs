using System.Text.Json;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.Node.Commands;

/// <summary>Makes Ed25519 keys (private key files readable only by their owner) and the topology file.</summary>
internal static class KeygenCommand
{
    public const string CliClientId = "cli";
    public const string BenchClientId = "bench";

    public static int Run(string[] args)
    {
        var o = new Options(args, "--force");
        if (o.Help)
        {
            Console.WriteLine("heraclius keygen [--dir .data] [--nodes 4] [--base-port 7100] [--cluster c0] [--force]");
            return 0;
        }

        var dir = new DataDirectory(o.Get("--dir", ".data"));
        if (dir.Exists && o.Get("--force", "false") != "true")
        {
            return Cli.Fail($"{dir.TopologyPath} exists; pass --force to replace it");
        }

        Generate(dir, o.GetInt("--nodes", 4), o.GetInt("--base-port", 7100), o.Get("--cluster", "c0"));
        Console.WriteLine($"wrote {dir.TopologyPath}");
        return 0;
    }

    public static ClusterTopology Generate(DataDirectory dir, int nodes, int basePort, string cluster)
    {
        var infos = new List<NodeInfo>();
        for (var i = 0; i < nodes; i++)
        {
            using var key = SigningKey.Generate();
            var id = $"{cluster}-n{i}";
            dir.SaveKey(id, key);
            infos.Add(new NodeInfo(id, cluster, i, key.PublicKey, $"http://127.0.0.1:{basePort + i}"));
            Directory.CreateDirectory(Path.GetDirectoryName(dir.NodeConfigPath(id))!);
            File.WriteAllText(dir.NodeConfigPath(id), JsonSerializer.Serialize(new NodeConfig
            {
                NodeId = id,
                Topology = dir.TopologyPath,
                Key = dir.KeyPath(id),
                DataDirectory = dir.NodeDataPath(id),
            }, NodeConfig.JsonOptions));
        }

        var clients = new List<ClientInfo>();
        foreach (var clientId in new[] { CliClientId, BenchClientId })
        {
            using var key = SigningKey.Generate();
            dir.SaveKey(clientId, key);
            clients.Add(new ClientInfo(clientId, key.PublicKey));
        }

        var topology = new ClusterTopology([new ClusterInfo(cluster, ClusterKind.Coordinator, infos)], clients);
        File.WriteAllText(dir.TopologyPath, topology.ToJson());
        return topology;
    }
}
