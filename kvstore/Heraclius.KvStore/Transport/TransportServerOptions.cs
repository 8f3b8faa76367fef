namespace Heraclius.KvStore.Transport;

/// <summary>Settings of the serving side of the transport (peer, decisions and client services). Every default is usable.</summary>
public sealed class TransportServerOptions
{
    /// <summary>Which authenticated nodes may open a peer stream; by default members of this node's cluster.</summary>
    public PeerAdmission AdmitPeer { get; set; } = PeerAdmissionPolicies.SameCluster;

    /// <summary>Time a dialer gets to complete the handshake; after it the call ends with DEADLINE_EXCEEDED.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The largest gRPC message the node reads; a bigger one ends the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxFrameBytes { get; set; } = TransportLimits.MaxFrameBytes;

    /// <summary>The largest client batch passed to the gateway; a bigger one is refused as <c>oversized</c>.</summary>
    public int MaxSubmitBatchBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>At most one log line per interval for each kind of refused or failing peer.</summary>
    public TimeSpan LogInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The first problem with these settings, or null if they are usable.</summary>
    internal string? Validate() =>
        AdmitPeer is null ? "AdmitPeer is required"
        : HandshakeTimeout <= TimeSpan.Zero ? "HandshakeTimeout must be positive"
        : MaxFrameBytes < 1024 || MaxFrameBytes > TransportLimits.MaxFrameBytes ? $"MaxFrameBytes must be between 1024 and {TransportLimits.MaxFrameBytes}"
        : MaxSubmitBatchBytes < 1 || MaxSubmitBatchBytes > MaxFrameBytes ? $"MaxSubmitBatchBytes must be between 1 and MaxFrameBytes ({MaxFrameBytes})"
        : LogInterval < TimeSpan.Zero ? "LogInterval must not be negative"
        : null;
}
