namespace Heraclius.Testing.Faults;

/// <summary>How a <see cref="FaultyDecisionFeed"/> serves the other clusters that subscribe to it.</summary>
public enum DecisionFeedFault
{
    /// <summary>Passes the real queue through.</summary>
    Honest,

    /// <summary>Accepts the call and never sends anything.</summary>
    Withhold,

    /// <summary>Random bytes: one at once, then one for every real compact decision.</summary>
    RandomBytes,

    /// <summary>Every real compact decision with one byte of its group's payload flipped (header, QC and proof intact).</summary>
    FlippedPayload,
}
