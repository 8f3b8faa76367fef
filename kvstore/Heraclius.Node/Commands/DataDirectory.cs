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

    public bool Exists => File.Exists(TopologyPath);

    public ClusterTopology LoadTopology() =>
        Exists ? ClusterTopology.Load(TopologyPath) : throw new ArgumentException($"no topology at {TopologyPath}; run './heraclius keygen' or './heraclius up' first");

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
