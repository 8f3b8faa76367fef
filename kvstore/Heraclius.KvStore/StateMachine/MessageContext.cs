namespace Heraclius.KvStore.StateMachine;

/// <summary>Where a message from another cluster came from (its certified decision) and when it is executed here.</summary>
public readonly record struct MessageContext(string SourceCluster, ulong SourceHeight, ulong Height, ulong Timestamp);
