using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.Node.Commands;

/// <summary>The layout of a local deployment directory (default .data/): topology, keys, node configs and node data.</summary>
internal sealed class DataDirectory
{
    public DataDirectory(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string TopologyPath => Path.Combine(Root, "topology.json");

    public string KeyPath(string id) => Path.Combine(Root, "keys", id + ".key");

    public string NodeConfigPath(string nodeId) => Path.Combine(Root, "nodes", nodeId + ".json");

    public string NodeDataPath(string nodeId) => Path.Combine(Root, "nodes", nodeId);

    public string NodeLogPath(string nodeId) => Path.Combine(Root, "nodes", nodeId + ".log");

    public bool Exists => File.Exists(TopologyPath);

    public ClusterTopology LoadTopology() =>
        Exists ? ClusterTopology.Load(TopologyPath) : throw new ArgumentException($"no topology at {TopologyPath}; run './heraclius keygen' or './heraclius up' first");

    /// <summary>
    /// Deletes what belongs to <paramref name="topology"/> here: its nodes' data, configs, logs and
    /// keys, its clients' keys and the topology file. Only those paths, never whole folders, so a
    /// --dir that holds anything else keeps it.
    /// </summary>
    public void DeleteDeployment(ClusterTopology topology)
    {
        foreach (var node in topology.Clusters.SelectMany(c => c.Nodes))
        {
            if (Directory.Exists(NodeDataPath(node.Id)))
            {
                Directory.Delete(NodeDataPath(node.Id), recursive: true);
            }

            File.Delete(NodeConfigPath(node.Id));
            File.Delete(NodeLogPath(node.Id));
            File.Delete(KeyPath(node.Id));
        }

        foreach (var client in topology.Clients)
        {
            File.Delete(KeyPath(client.Id));
        }

        File.Delete(TopologyPath);
    }

    public SigningKey LoadKey(string id) => SigningKey.FromPrivateBytes(Convert.FromBase64String(File.ReadAllText(KeyPath(id)).Trim()));

    public void SaveKey(string id, SigningKey key)
    {
        var path = KeyPath(id);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, Convert.ToBase64String(key.ExportPrivateBytes()) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
