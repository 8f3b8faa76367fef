using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Coordinator.TwoPhase;

/// <summary>The per-leg answer of a chain that failed at one leg: its code there, linked_event_failed elsewhere.</summary>
internal static class ChainResults
{
    public static CreateTransferResult[] Ok(int legs) => new CreateTransferResult[legs];

    /// <summary>
    /// <paramref name="code"/> at <paramref name="failedLeg"/>, <see cref="CreateTransferResult.LinkedEventFailed"/>
    /// at every other leg. <see cref="CreateTransferResult.PrepareTimedOut"/> is the exception: no leg
    /// caused it (a missing vote might have held any code), so every leg carries it.
    /// </summary>
    public static CreateTransferResult[] Failed(int legs, int failedLeg, CreateTransferResult code)
    {
        var results = new CreateTransferResult[legs];
        if (code == CreateTransferResult.PrepareTimedOut)
        {
            results.AsSpan().Fill(code);
            return results;
        }

        results.AsSpan().Fill(CreateTransferResult.LinkedEventFailed);
        results[failedLeg] = code;
        return results;
    }

    /// <summary>Every leg <paramref name="code"/>: a refusal of the whole request (wrong_coordinator).</summary>
    public static CreateTransferResult[] All(int legs, CreateTransferResult code)
    {
        var results = new CreateTransferResult[legs];
        results.AsSpan().Fill(code);
        return results;
    }
}
