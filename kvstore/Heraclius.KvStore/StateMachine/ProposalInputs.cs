using Heraclius.KvStore.Client;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Routing;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// Everything execution reads, in the leader's order:
/// u64 timestamp ‖ u32 n ‖ (bytes clientBatch)* ‖ u32 m ‖ (bytes compactDecision)*.
/// Its SHA-256 is the header's inputsDigest.
/// </summary>
public sealed class ProposalInputs
{
    public const int MaxBatches = 4096;
    public const int MaxInbound = 4096;

    public ProposalInputs(ulong timestamp, IReadOnlyList<ClientBatch> batches, IReadOnlyList<InboundGroup>? inbound = null)
    {
        Timestamp = timestamp;
        Batches = batches;
        Inbound = inbound ?? [];
    }

    public ulong Timestamp { get; }

    public IReadOnlyList<ClientBatch> Batches { get; }

    /// <summary>Compact decisions of other clusters for this one, processed before the batches.</summary>
    public IReadOnlyList<InboundGroup> Inbound { get; }

    public bool IsEmpty => Batches.Count == 0 && Inbound.Count == 0;

    public byte[] ToBytes()
    {
        var size = 8 + 4 + 4;
        foreach (var b in Batches)
        {
            size += b.Bytes.Length + 4;
        }

        foreach (var g in Inbound)
        {
            size += g.Bytes.Length + 4;
        }

        var w = new CanonicalWriter(size);
        w.U64(Timestamp);
        w.U32((uint)Batches.Count);
        foreach (var b in Batches)
        {
            w.Bytes(b.Bytes.Span);
        }

        w.U32((uint)Inbound.Count);
        foreach (var g in Inbound)
        {
            w.Bytes(g.Bytes.Span);
        }

        return w.Detach();
    }

    /// <summary>
    /// Parses the inputs as views of <paramref name="bytes"/> (a proposal's inputs, never written):
    /// every batch and inbound group is a slice of them, not a copy.
    /// </summary>
    public static ProposalInputs Parse(ReadOnlyMemory<byte> bytes)
    {
        var r = CanonicalReader.Over(bytes);
        var ts = r.U64();
        var count = r.Count(MaxBatches);
        var batches = new ClientBatch[count];
        for (var i = 0; i < count; i++)
        {
            batches[i] = ClientBatch.Parse(r.BytesMemory(ClientBatch.MaxBatchBytes));
        }

        var inboundCount = r.Count(MaxInbound);
        var inbound = new InboundGroup[inboundCount];
        for (var i = 0; i < inboundCount; i++)
        {
            inbound[i] = InboundGroup.Parse(r.BytesMemory(InboundGroup.MaxBytes));
        }

        r.End();
        return new ProposalInputs(ts, batches, inbound);
    }
}
