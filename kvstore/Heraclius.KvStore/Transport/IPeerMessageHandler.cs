namespace Heraclius.KvStore.Transport;

/// <summary>
/// Receives messages from authenticated peers. Called from transport threads; must not block.
/// The message is handed over: the handler may keep it (the replica parses views of it), so the
/// transport gives bytes it never writes or reuses (protobuf's parse copied them out of its buffers).
/// </summary>
public interface IPeerMessageHandler
{
    void OnPeerMessage(int fromNodeIndex, ReadOnlyMemory<byte> message);
}
