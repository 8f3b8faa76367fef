namespace Heraclius.KvStore.Transport;

/// <summary>Takes client request batches into this node: validates, then pools or forwards them to the leader.</summary>
public interface IClientGateway
{
    /// <summary>
    /// Admits or refuses one signed batch. Must not block on consensus: the answer comes later in
    /// a compact decision for the client's destination. The buffer belongs to the caller's frame
    /// and may be kept (it is not reused by the transport).
    /// </summary>
    SubmitResult Submit(ReadOnlyMemory<byte> batch);
}
