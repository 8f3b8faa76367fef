namespace Heraclius.KvStore.Tests.Transport;

/// <summary>How a <see cref="ScriptedDecisionFeed"/> serves a subscriber: honestly, or with one fault.</summary>
internal enum FeedBehaviour
{
    /// <summary>Every item above the asked height, in order, then stays open.</summary>
    Honest,

    /// <summary>Accepts the call and never sends anything.</summary>
    Withholding,

    /// <summary>Random bytes instead of compact decisions.</summary>
    Garbage,

    /// <summary>The first item, over and over, whatever height was asked for.</summary>
    Stale,
}
