using System.IO.Hashing;

namespace Heraclius.KvStore.StateMachine;

/// <summary>Content equality for byte-array keys. Its hash only places keys in a dictionary; nothing iterates in hash order.</summary>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IComparer<byte[]>
{
    public static ByteArrayComparer Instance { get; } = new();

    public bool Equals(byte[]? x, byte[]? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    public int GetHashCode(byte[] obj) => unchecked((int)XxHash3.HashToUInt64(obj));

    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
}
