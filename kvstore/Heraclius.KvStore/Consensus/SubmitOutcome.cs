namespace Heraclius.KvStore.Consensus;

/// <summary>What a replica did with a client batch handed to it: accepted into the pool, or refused with a stable code.</summary>
public readonly record struct SubmitOutcome(bool Accepted, string? ErrorCode, string? ErrorMessage)
{
    public static SubmitOutcome Ok { get; } = new(true, null, null);

    public static SubmitOutcome Refused(string code, string message) => new(false, code, message);
}
