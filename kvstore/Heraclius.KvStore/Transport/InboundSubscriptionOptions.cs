namespace Heraclius.KvStore.Transport;

/// <summary>Settings of a node's decision subscriptions to other clusters (<see cref="InboundSubscriptions"/>). Every default is usable.</summary>
public sealed class InboundSubscriptionOptions
{
    /// <summary>
    /// A subscription that delivered nothing accepted for this long moves to the next node of the
    /// source cluster, so a node that withholds or serves only stale groups is left. An idle source
    /// also rotates at this pace, which costs one new call on an open channel.
    /// </summary>
    public int StallTimeoutMs { get; set; } = 3000;

    /// <summary>
    /// Wait after a failed or ended stream before subscribing to the next node, and the pause
    /// before resubscribing when this node is overloaded; jittered to [d/2, d]. Doubles for every
    /// full round in which each node of the source failed, up to <see cref="MaxBackoffMs"/>.
    /// </summary>
    public int RetryBackoffMs { get; set; } = 100;

    public int MaxBackoffMs { get; set; } = 2000;

    /// <summary>The first problem with these settings, or null if they are usable.</summary>
    internal string? Validate() =>
        StallTimeoutMs < 1 ? "StallTimeoutMs must be positive"
        : RetryBackoffMs < 1 ? "RetryBackoffMs must be positive"
        : MaxBackoffMs < RetryBackoffMs ? "MaxBackoffMs must be at least RetryBackoffMs"
        : null;
}
