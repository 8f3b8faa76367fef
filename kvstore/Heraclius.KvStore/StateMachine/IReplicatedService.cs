namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// A deterministic service replicated by a cluster (the key-value store; the ledger). It reads and
/// writes only through the state access it is given (keys starting with a byte other than 0x00,
/// which belongs to the engine), turns business refusals into result bytes, and talks to other
/// clusters, clients and the audit mirror only through <see cref="IServiceOutputs"/>.
/// </summary>
public interface IReplicatedService
{
    /// <summary>A client's request, executed once (the engine keeps the session window).</summary>
    RequestOutcome ExecuteRequest(IStateAccess state, in ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs);

    /// <summary>One message from a certified group of another cluster, executed once, in the source's order.</summary>
    void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs);

    /// <summary>
    /// Runs once at the end of every decision, after its inbound groups and requests, with the
    /// decision's timestamp: deadlines and expiries are measured in decision time, never by a clock.
    /// </summary>
    void ExecuteTimers(IStateAccess state, in TimerContext context, IServiceOutputs outputs)
    {
    }

    /// <summary>
    /// Whether the state holds deadlines at all (diagnostics, and the default of <see cref="NextTimerDue"/>).
    /// Read between decisions; must not write.
    /// </summary>
    bool HasTimers(IStateAccess state) => false;

    /// <summary>
    /// The decision timestamp (ms) from which <see cref="ExecuteTimers"/> has work, <see cref="ulong.MaxValue"/>
    /// for none; a lower bound is fine (a tick that finds nothing due only costs a decision). An idle
    /// leader proposes a timestamp-only decision once it is due, and followers accept a decision with
    /// no inputs only then, so a leader cannot fill the log with empty decisions. Read between
    /// decisions; must not write.
    /// </summary>
    ulong NextTimerDue(IStateAccess state) => HasTimers(state) ? 0 : ulong.MaxValue;
}
