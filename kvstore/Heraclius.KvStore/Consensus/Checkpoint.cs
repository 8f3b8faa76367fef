using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Consensus;

/// <summary>
/// The latest certified state a replica can serve to a lagging peer: header, QC and the state's
/// chunks as of that height. Its encoding is the snapshot file's content:
/// header ‖ QC ‖ u32 bucketCount ‖ (bytes chunk)*.
/// </summary>
internal sealed record Checkpoint(DecisionHeader Header, QuorumCertificate Qc, byte[][] Chunks, Hash32[] ChunkHashes)
{
    /// <summary>Copies the chunks of <paramref name="state"/>, which must be the state as of <paramref name="header"/>.</summary>
    public static Checkpoint Capture(DecisionHeader header, QuorumCertificate qc, ReplicatedState state)
    {
        var chunks = new byte[state.BucketCount][];
        var hashes = new Hash32[state.BucketCount];
        for (var i = 0; i < chunks.Length; i++)
        {
            chunks[i] = state.ReadChunk(i);
            hashes[i] = state.BucketHash(i);
        }

        return new Checkpoint(header, qc, chunks, hashes);
    }

    public byte[] Encode()
    {
        var size = 1024;
        foreach (var c in Chunks)
        {
            size += c.Length + 4;
        }

        var w = new CanonicalWriter(size);
        Header.Write(w);
        Qc.Write(w);
        w.U32((uint)Chunks.Length);
        foreach (var c in Chunks)
        {
            w.Bytes(c);
        }

        return w.ToArray();
    }

    /// <summary>Decodes a snapshot into the checkpoint and the state it holds; chunks must be canonical.</summary>
    public static (Checkpoint Checkpoint, ReplicatedState State) Decode(ReadOnlySpan<byte> bytes, int buckets)
    {
        var r = new CanonicalReader(bytes);
        var header = DecisionHeader.Read(ref r);
        var qc = QuorumCertificate.Read(ref r);
        var count = r.Count(1 << 24);
        if (count != buckets)
        {
            throw new MalformedMessageException("snapshot has a different bucket count");
        }

        var state = new ReplicatedState(count);
        var chunks = new byte[count][];
        var hashes = new Hash32[count];
        for (var i = 0; i < count; i++)
        {
            chunks[i] = r.Bytes(int.MaxValue);
            state.WriteChunk(i, chunks[i]);
            hashes[i] = state.BucketHash(i);
        }

        r.End();
        return (new Checkpoint(header, qc, chunks, hashes), state);
    }
}
