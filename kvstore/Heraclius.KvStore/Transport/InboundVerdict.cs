namespace Heraclius.KvStore.Transport;

/// <summary>What a node made of one compact decision a subscription delivered.</summary>
public enum InboundVerdict
{
    /// <summary>Valid and new: taken into the replica's inbound pool.</summary>
    Accepted,

    /// <summary>Valid but already held or already processed: harmless (a race between subscriptions).</summary>
    Stale,

    /// <summary>
    /// Valid and taken, but it does not continue the chain this node holds: the serving node skipped
    /// something (it installed a snapshot, or it trickles later groups to hide one). Not progress.
    /// </summary>
    Ahead,

    /// <summary>Failed parsing or verification (wrong source, destination, QC or proof): the serving node is faulty.</summary>
    Invalid,

    /// <summary>Valid but the node cannot take it now (inbox or pool full): retry later from the same height.</summary>
    Overloaded,
}
