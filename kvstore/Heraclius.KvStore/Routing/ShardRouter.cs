using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Routing;

/// <summary>Which shard cluster holds a key: XXH64(key, seed 0) mod S over the shards in id order (part of the format).</summary>
public sealed class ShardRouter
{
    public ShardRouter(ClusterTopology topology)
    {
        Shards = [.. topology.Shards.Select(s => s.Id).Order(StringComparer.Ordinal)];
    }

    /// <summary>Shard ids in routing order.</summary>
    public IReadOnlyList<string> Shards { get; }

    public string ShardOf(ReadOnlySpan<byte> key) =>
        Shards.Count == 0
            ? throw new InvalidOperationException("the topology has no shard clusters")
            : Shards[(int)(StableHash.Of(key) % (ulong)Shards.Count)];
}
