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
/// <remarks>
/// The chunks are the state's own buffers (see <see cref="ReplicatedState.CaptureChunks"/>): valid
/// until the state is captured again, so a replica captures only once its last save finished and
/// it has stopped serving the previous checkpoint.
/// </remarks>
internal sealed record Checkpoint(DecisionHeader Header, QuorumCertificate Qc, ReadOnlyMemory<byte>[] Chunks, Hash32[] ChunkHashes)
{
    private Merkle.MerkleLevels? _levels;

    /// <summary>The Merkle tree over the chunks, built the first time a peer asks for chunks (then each proof is only its path).</summary>
    public Merkle.MerkleLevels Levels => _levels ??= new Merkle.MerkleLevels(ChunkHashes);

    /// <summary>Captures the chunks of <paramref name="state"/>, which must be the state as of <paramref name="header"/>.</summary>
    public static Checkpoint Capture(DecisionHeader header, QuorumCertificate qc, ReplicatedState state)
    {
        var (chunks, hashes) = state.CaptureChunks();
        return new Checkpoint(header, qc, chunks, hashes);
    }

    public byte[] Encode()
    {
        var parts = Parts();
        var size = 0;
        for (var i = 0; i < parts.Length; i++)
        {
            size = checked(size + parts[i].Length);
        }

        var bytes = new byte[size];
        var offset = 0;
        foreach (var part in parts)
        {
            part.Span.CopyTo(bytes.AsSpan(offset));
            offset += part.Length;
        }

        return bytes;
    }

    /// <summary>
    /// The encoding in pieces whose concatenation is <see cref="Encode"/>: the chunks themselves,
    /// not copies (they are immutable), each after its u32 length, so a save need not gather the
    /// whole state into one array.
    /// </summary>
    public ReadOnlyMemory<byte>[] Parts()
    {
        var w = new CanonicalWriter(1024);
        Header.Write(w);
        Qc.Write(w);
        w.U32((uint)Chunks.Length);
        var parts = new ReadOnlyMemory<byte>[1 + (2 * Chunks.Length)];
        parts[0] = w.ToArray();
        var lengths = new byte[4 * Chunks.Length];
        for (var i = 0; i < Chunks.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(lengths.AsSpan(4 * i), (uint)Chunks[i].Length);
            parts[1 + (2 * i)] = lengths.AsMemory(4 * i, 4);
            parts[2 + (2 * i)] = Chunks[i];
        }

        return parts;
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
        for (var i = 0; i < count; i++)
        {
            state.WriteChunk(i, r.BytesSpan(int.MaxValue));
        }

        r.End();
        return (Capture(header, qc, state), state);
    }
}
