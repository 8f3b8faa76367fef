namespace Heraclius.KvStore.Transport;

/// <summary>Settings of the outbound side of the peer transport (<see cref="GrpcPeerNetwork"/>). Every default is usable.</summary>
public sealed class PeerNetworkOptions
{
    /// <summary>Messages queued per peer; when full, the oldest queued message is dropped.</summary>
    public int QueueCapacity { get; set; } = 4096;

    /// <summary>Wait before the first redial; doubles per failure up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Time allowed for the handshake once the call is open.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>HTTP/2 ping interval on an idle connection; a dead peer is noticed within this plus <see cref="KeepAlivePingTimeout"/>.</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most messages one frame carries when several are queued.</summary>
    public int MaxBatchMessages { get; set; } = 256;

    /// <summary>A frame takes further queued messages only while its payloads stay within this many bytes.</summary>
    public int MaxBatchBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest message <see cref="GrpcPeerNetwork.Send"/> accepts; larger ones are dropped and counted as oversized.</summary>
    public int MaxMessageBytes { get; set; } = TransportLimits.MaxPeerMessageBytes;

    /// <summary>Source of back-off jitter (seed it in tests). Used under a lock; defaults to <see cref="Random.Shared"/>.</summary>
    public Random? Random { get; set; }

    internal void Validate()
    {
        if (QueueCapacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(QueueCapacity), QueueCapacity, "must be at least 1");
        }

        if (InitialBackoff <= TimeSpan.Zero || MaxBackoff < InitialBackoff)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBackoff), MaxBackoff, "back-off needs 0 < InitialBackoff <= MaxBackoff");
        }

        if (HandshakeTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || KeepAlivePingDelay <= TimeSpan.Zero || KeepAlivePingTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), "timeouts must be positive");
        }

        if (MaxBatchMessages < 1 || MaxBatchBytes < 1 || MaxBatchBytes > TransportLimits.MaxPeerMessageBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchBytes), MaxBatchBytes, "batch limits must be positive and within a frame");
        }

        if (MaxMessageBytes < 1 || MaxMessageBytes > TransportLimits.MaxPeerMessageBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageBytes), MaxMessageBytes, $"must be between 1 and {TransportLimits.MaxPeerMessageBytes}");
        }
    }
}
