namespace Heraclius.KvStore.Simulation;

/// <summary>What crossed the simulated network: consensus messages inside clusters, groups between clusters, client traffic.</summary>
public sealed class TrafficCounters
{
    public long ConsensusMessages { get; internal set; }

    public long ConsensusBytes { get; internal set; }

    /// <summary>Compact decisions delivered to another cluster's replicas (one per subscribing replica).</summary>
    public long InboundGroups { get; internal set; }

    public long InboundBytes { get; internal set; }

    /// <summary>Client batches submitted and compact decisions delivered to clients.</summary>
    public long ClientMessages { get; internal set; }

    public long ClientBytes { get; internal set; }

    public long Messages => ConsensusMessages + InboundGroups + ClientMessages;

    public long Bytes => ConsensusBytes + InboundBytes + ClientBytes;
}
