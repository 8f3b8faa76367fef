namespace Heraclius.Ledger.Coordinator;

/// <summary>
/// The coordinator's settings. They are part of the replicated configuration: every replica of a
/// cluster must run with equal values, or their decisions differ.
/// </summary>
public sealed record LedgerCoordinatorOptions
{
    /// <summary>How long (decision time) a 2PC waits for its votes before it aborts with prepare_timed_out.</summary>
    public ulong PrepareTimeoutMs { get; init; } = 5000;

    /// <summary>
    /// Most clients waiting on one 2PC record (the first request and retries that joined it). A retry
    /// beyond that is answered overloaded, so a client that retries in a loop cannot grow a record
    /// without bound.
    /// </summary>
    public int MaxWaitingClients { get; init; } = 16;
}
