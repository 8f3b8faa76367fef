namespace Heraclius.KvStore.Storage;

/// <summary>One WAL record: a type byte the owner defines and its payload.</summary>
public readonly record struct WalRecord(byte Type, byte[] Payload);
