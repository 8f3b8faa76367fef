namespace Heraclius.KvStore.Transport;

/// <summary>
/// Where a node's decision subscriptions deliver what other clusters decided for this node's
/// cluster. Implemented by the replica host; called from subscription threads.
/// </summary>
public interface IInboundSink
{
    /// <summary>
    /// The height of <paramref name="sourceCluster"/> after which this node still wants groups:
    /// its replicated cursor for that source, or higher when later groups are already pooled.
    /// A subscription (re)starts with this as its afterHeight.
    /// </summary>
    ulong ResumeAfter(string sourceCluster);

    /// <summary>
    /// Verifies one compact decision served by a node of <paramref name="sourceCluster"/> (parse,
    /// QC, proof, destination) and, when valid and still wanted, hands it to the replica. The bytes
    /// are handed over and kept as they are (the group is a view of them): never written or reused.
    /// </summary>
    InboundVerdict Offer(string sourceCluster, ReadOnlyMemory<byte> compactDecision);
}
