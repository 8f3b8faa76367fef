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

    /// <summary>Not executed: the cluster it needs is saturated. Retry the same request later.</summary>
    Overloaded = 3,
}
