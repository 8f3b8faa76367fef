namespace Heraclius.KvStore.Transport;

/// <summary>One destination of <see cref="GrpcPeerNetwork"/>: a bounded queue and the loop that drains it.</summary>
internal interface IOutboundLink : IAsyncDisposable
{
    /// <summary>Queues a message; never blocks. On a full queue the oldest message is dropped and counted.</summary>
    void Enqueue(ReadOnlyMemory<byte> message);

    /// <summary>Counts a message refused before it reached the queue.</summary>
    void CountDropped(string reason);

    PeerLinkStats Stats { get; }
}
