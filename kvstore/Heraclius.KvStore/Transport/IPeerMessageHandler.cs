namespace Heraclius.KvStore.Transport;

/// <summary>Receives messages from authenticated peers. Called from transport threads; must not block.</summary>
public interface IPeerMessageHandler
{
    void OnPeerMessage(int fromNodeIndex, ReadOnlyMemory<byte> message);
}
