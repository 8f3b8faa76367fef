namespace Heraclius.KvStore.Transport;

/// <summary>
/// This node's decision queues, as served to subscribers: the decided compact decisions of this
/// node's cluster for one destination, in height order, starting after a height and then live.
/// </summary>
public interface IDecisionFeed
{
    /// <summary>
    /// Yields the encoded compact decisions for <paramref name="destination"/> with a height above
    /// <paramref name="afterHeight"/>, and then new ones as they are decided, until
    /// <paramref name="ct"/> is cancelled. A yielded buffer must stay unchanged until the
    /// enumerator is advanced again (the transport writes it to the wire without copying).
    /// </summary>
    IAsyncEnumerable<ReadOnlyMemory<byte>> Subscribe(string destination, ulong afterHeight, CancellationToken ct);
}
