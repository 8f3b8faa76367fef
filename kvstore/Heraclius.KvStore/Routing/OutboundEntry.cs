namespace Heraclius.KvStore.Routing;

/// <summary>One queued compact decision: the source height and the encoded bytes served to subscribers.</summary>
public sealed record OutboundEntry(ulong Height, byte[] CompactDecision);
