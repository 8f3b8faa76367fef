namespace Heraclius.KvStore.Transport;

/// <summary>
/// Lets one log line through per interval and counts the ones it held back, so that a flood of
/// bad handshakes or drops shows up in the log without filling it. Thread-safe, lock-free.
/// </summary>
internal sealed class LogRateLimiter
{
    private readonly long _intervalMs;
    private long _nextAllowedMs = long.MinValue;
    private long _suppressed;

    public LogRateLimiter(TimeSpan interval)
    {
        _intervalMs = (long)interval.TotalMilliseconds;
    }

    /// <summary>True if the caller may log now; <paramref name="suppressed"/> is then how many were held back since the last line.</summary>
    public bool TryAcquire(out long suppressed)
    {
        var now = Environment.TickCount64;
        var next = Volatile.Read(ref _nextAllowedMs);
        if (now >= next && Interlocked.CompareExchange(ref _nextAllowedMs, now + _intervalMs, next) == next)
        {
            suppressed = Interlocked.Exchange(ref _suppressed, 0);
            return true;
        }

        Interlocked.Increment(ref _suppressed);
        suppressed = 0;
        return false;
    }
}
