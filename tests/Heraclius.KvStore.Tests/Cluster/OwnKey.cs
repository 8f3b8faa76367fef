namespace Heraclius.KvStore.Tests.Cluster;

/// <summary>A key only one worker writes, as that worker knows it: version 0 and no value when absent.</summary>
public sealed record OwnKey(string Key, ulong Version, string? Value);
