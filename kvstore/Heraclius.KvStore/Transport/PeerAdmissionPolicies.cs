using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Transport;

/// <summary>Ready-made <see cref="PeerAdmission"/> rules.</summary>
public static class PeerAdmissionPolicies
{
    /// <summary>Only other members of the listener's own cluster (the default: consensus traffic stays inside a cluster).</summary>
    public static PeerAdmission SameCluster { get; } = static (dialer, listener) =>
        string.Equals(dialer.ClusterId, listener.ClusterId, StringComparison.Ordinal);

    /// <summary>Any node of the topology.</summary>
    public static PeerAdmission AnyNode { get; } = static (_, _) => true;
}
