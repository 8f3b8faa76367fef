using System.IO.Hashing;

namespace Heraclius.KvStore.StateMachine;

/// <summary>Content equality for byte-array keys. Its hash only places keys in a dictionary; nothing iterates in hash order.</summary>
/// <remarks>
/// Also compares a <see cref="ReadOnlySpan{T}"/> of bytes with a key (the same hash for the same bytes), so
/// a key built in a reused buffer can be looked up without an array of its own.
/// </remarks>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static ByteArrayComparer Instance { get; } = new();

    public bool Equals(byte[]? x, byte[]? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    public int GetHashCode(byte[] obj) => unchecked((int)XxHash3.HashToUInt64(obj));

    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => other is not null && alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate) => unchecked((int)XxHash3.HashToUInt64(alternate));

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
