namespace Heraclius.KvStore.Client;

/// <summary>Settings of a <see cref="BftClient"/>.</summary>
public sealed class BftClientOptions
{
    /// <summary>Most operations signed in one batch.</summary>
    public int MaxBatch { get; set; } = 1024;

    /// <summary>How long the batcher waits for more operations before signing. Zero batches naturally: operations queue while the previous submit is in flight.</summary>
    public TimeSpan BatchDelay { get; set; } = TimeSpan.Zero;

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
