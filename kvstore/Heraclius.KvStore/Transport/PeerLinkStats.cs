namespace Heraclius.KvStore.Transport;

/// <summary>What one outbound peer link has done so far; read by tests, the status page and health checks.</summary>
/// <param name="NodeIndex">The peer's index in the cluster.</param>
/// <param name="NodeId">The peer's node id.</param>
/// <param name="Connected">Whether an authenticated stream to the peer is open now (always true for self).</param>
/// <param name="Queued">Messages waiting in the peer's queue.</param>
/// <param name="Sent">Messages written to the stream (or delivered, for self).</param>
/// <param name="Dropped">Messages dropped for any reason: queue full, oversized, lost with a failed stream, or closed.</param>
/// <param name="DroppedQueueFull">Of <paramref name="Dropped"/>, those pushed out of a full queue.</param>
/// <param name="Reconnects">Dial attempts after the first.</param>
/// <param name="HandshakeFailures">Handshakes that failed (including refusals by the peer).</param>
/// <param name="LastFailure">The reason of the last handshake failure, or null.</param>
public sealed record PeerLinkStats(
    int NodeIndex,
    string NodeId,
    bool Connected,
    int Queued,
    long Sent,
    long Dropped,
    long DroppedQueueFull,
    long Reconnects,
    long HandshakeFailures,
    string? LastFailure);
