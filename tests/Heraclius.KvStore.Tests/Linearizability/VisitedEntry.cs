namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// A configuration the search has already explored: the set of linearized operations and the
/// state they led to. Reaching it again by another order cannot succeed where the first did not
/// (Lowe's memoization), which is what keeps the search from being factorial.
/// </summary>
internal readonly struct VisitedEntry : IEquatable<VisitedEntry>
{
    public VisitedEntry(ulong[] linearized, KvKeyState state, ulong hash)
    {
        Linearized = linearized;
        State = state;
        Hash = hash;
    }

    public ulong[] Linearized { get; }

    public KvKeyState State { get; }

    /// <summary>The Zobrist hash of <see cref="Linearized"/>, kept up to date incrementally by the search.</summary>
    public ulong Hash { get; }

    public bool Equals(VisitedEntry other) =>
        Hash == other.Hash && State == other.State && Linearized.AsSpan().SequenceEqual(other.Linearized);

    public override bool Equals(object? obj) => obj is VisitedEntry other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Hash, State);
}
