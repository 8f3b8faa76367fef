namespace Heraclius.KvStore.Client;

/// <summary>How the cluster treated one request, independent of what the service answered.</summary>
public enum ReplyStatus : byte
{
    /// <summary>Executed now or earlier; the result is the first execution's answer.</summary>
    Executed = 0,

    /// <summary>The sequence number lies below the client's window; it may or may not have run long ago.</summary>
    RequestTooOld = 1,

    /// <summary>The sequence number was used before for a different request.</summary>
    RequestIdReused = 2,

    /// <summary>
    /// Not executed, and never will be: the cluster it needs was saturated. Final for this request id
    /// (a repeat gets it again), so a caller may retry the operation under a new id without risking two executions.
    /// </summary>
    Overloaded = 3,

    /// <summary>
    /// Not executed yet: the client's answer slot for this id still holds an older request waiting for
    /// another cluster. Not stored; retry the same request id later (the client must keep its in-flight
    /// ids within the session window).
    /// </summary>
    WindowFull = 4,
}
