namespace Heraclius.KvStore.Client;

/// <summary>Settings of a <see cref="BftClient"/>.</summary>
public sealed class BftClientOptions
{
    /// <summary>Most operations signed in one batch.</summary>
    public int MaxBatch { get; set; } = 1024;

    /// <summary>
    /// The longest the batcher, woken by an operation, waits for more before signing them as one batch. When decisions
    /// answered n operations since the last batch, it waits only until n are queued (their callers send their next ones
    /// at once, and waiting the whole delay for them cost a closed loop ~3 ms per round); otherwise the whole delay.
    /// Zero batches only what queued while the previous submit was in flight (a client with one operation at a time:
    /// the CLI).
    /// </summary>
    /// <remarks>
    /// Every batch costs a signature here, a submit, and a signature check on every member. A decision answers its
    /// requests at once and the users behind them send their next ones within a millisecond or two; without the wait
    /// the first of them went alone, and a busy client sent several batches per decision. `bench kv`, 1,024 users, the
    /// same binary alternated: 2 ms against none, signature checks per op 0.048 against 0.063, CPU per op 58-71
    /// against 69-79 µs, 24.1-28.2k against 22.0-25.0k ops/s (2 pairs; 3 more: 63.9 against 76.7 µs, 26.2k against
    /// 22.6k); 256 users: 100 against 129 µs per op, 14.0k against 12.4k ops/s (2 pairs). The cost: up to this much
    /// more latency for an operation that comes alone.
    /// </remarks>
    public TimeSpan BatchDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>An unanswered batch is submitted again after this long (same bytes, so at most once).</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Operations queued before SendAsync waits.</summary>
    public int MaxQueued { get; set; } = 100_000;

    /// <summary>The first sequence number; by default derived from the clock so a restarted client never reuses one.</summary>
    public ulong? FirstSeq { get; set; }

    /// <summary>
    /// Commit signatures already verified, shared with the other clients of this process (none by default): each of a
    /// process's connections to a cluster is sent the same decision's signatures, which one of them then checks.
    /// </summary>
    public Crypto.VerifiedSignatureCache? SignatureCache { get; set; }
}
