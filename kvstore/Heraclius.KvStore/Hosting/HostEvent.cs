using Heraclius.KvStore.Client;

namespace Heraclius.KvStore.Hosting;

/// <summary>An input for the replica's single thread.</summary>
internal abstract record HostEvent
{
    public sealed record PeerMessage(int From, ReadOnlyMemory<byte> Bytes) : HostEvent;

    public sealed record Batch(ClientBatch Value) : HostEvent;

    public sealed record Tick : HostEvent;

    public sealed record Stop : HostEvent;

    public sealed record Query(Action<Consensus.Replica> Action) : HostEvent;

    /// <summary>A compact decision of another cluster, verified by the host (QC and proof).</summary>
    public sealed record Inbound(Routing.InboundGroup Group) : HostEvent;
}
