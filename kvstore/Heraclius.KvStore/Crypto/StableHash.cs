using System.IO.Hashing;

namespace Heraclius.KvStore.Crypto;

/// <summary>
/// The stable 64-bit hash that is part of the format (key → shard, transfer id → coordinator,
/// key → state bucket): XXH64 with seed 0 over the raw bytes. Never string.GetHashCode, which
/// differs between processes.
/// </summary>
public static class StableHash
{
    public static ulong Of(ReadOnlySpan<byte> data) => XxHash64.HashToUInt64(data);
}
