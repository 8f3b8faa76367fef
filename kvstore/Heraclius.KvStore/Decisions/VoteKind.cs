namespace Heraclius.KvStore.Decisions;

/// <summary>The tag that separates the signed statements of the two voting phases.</summary>
public enum VoteKind : byte
{
    Prepare = 1,
    Commit = 2,
}
