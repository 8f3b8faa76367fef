using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Consensus;

/// <summary>Where a replica's effects go: messages to peers and decided decisions to the host (client replies, decision queues).</summary>
public interface IReplicaOutbox
{
    void Send(int toNodeIndex, byte[] message);

    void Decided(Decision decision);
}
