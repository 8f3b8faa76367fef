namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>Names an invoked operation in a <see cref="HistoryRecorder"/> until its answer arrives.</summary>
public readonly record struct CallHandle(int Index);
