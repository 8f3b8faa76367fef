using Heraclius.KvStore.Client;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// Everything execution reads, in the leader's order: u64 timestamp ‖ u32 count ‖ (bytes batch)*.
/// Its SHA-256 is the header's inputsDigest.
/// </summary>
public sealed class ProposalInputs
{
    public const int MaxBatches = 4096;

    public ProposalInputs(ulong timestamp, IReadOnlyList<ClientBatch> batches)
    {
        Timestamp = timestamp;
        Batches = batches;
    }

    public ulong Timestamp { get; }

    public IReadOnlyList<ClientBatch> Batches { get; }

    public byte[] ToBytes()
    {
        var size = 16;
        foreach (var b in Batches)
        {
            size += b.Bytes.Length + 4;
        }

        var w = new CanonicalWriter(size);
        w.U64(Timestamp);
        w.U32((uint)Batches.Count);
        foreach (var b in Batches)
        {
            w.Bytes(b.Bytes);
        }

        return w.ToArray();
    }

    public static ProposalInputs Parse(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var ts = r.U64();
        var count = r.Count(MaxBatches);
        var batches = new ClientBatch[count];
        for (var i = 0; i < count; i++)
        {
            batches[i] = ClientBatch.Parse(r.Bytes(ClientBatch.MaxBatchBytes));
        }

        r.End();
        return new ProposalInputs(ts, batches);
    }
}
