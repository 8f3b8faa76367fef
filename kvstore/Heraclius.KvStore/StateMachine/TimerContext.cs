namespace Heraclius.KvStore.StateMachine;

/// <summary>The decision a timer run belongs to.</summary>
public readonly record struct TimerContext(ulong Height, ulong Timestamp);
