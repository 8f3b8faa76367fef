namespace Heraclius.KvStore.Transport;

/// <summary>
/// Sends opaque consensus messages to the other members of this node's cluster. Sending never
/// blocks: each peer has a bounded queue, and a message for a slow or dead peer is dropped
/// (and counted) when its queue is full, so one bad peer never stalls the others. Consensus
/// tolerates loss by retransmission and catch-up.
/// </summary>
public interface IPeerNetwork
{
    void Send(int toNodeIndex, ReadOnlyMemory<byte> message);
}
