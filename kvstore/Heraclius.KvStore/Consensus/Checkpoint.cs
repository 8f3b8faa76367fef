using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Consensus;

/// <summary>
/// The latest certified state a replica can serve to a lagging peer: the state after a checkpoint height h (its
/// chunks), the decided header and QC of h (the chain position a node installing it takes), and the header and QC of
/// h + I, whose stateRoot certifies the chunks (the root of a checkpoint's state is carried an interval later, so that
/// no proposal waits for it). Its encoding is the snapshot file's content:
/// u8 version ‖ header(h) ‖ QC(h) ‖ header(h + I) ‖ QC(h + I) ‖ u32 bucketCount ‖ (bytes chunk)*.
/// </summary>
/// <remarks>
/// The chunks belong to a <see cref="StateCapture"/>, never written once encoded: a save or a peer may read them for
/// as long as it holds the checkpoint.
/// </remarks>
internal sealed record Checkpoint(
    DecisionHeader At, QuorumCertificate AtQc, DecisionHeader Certifier, QuorumCertificate CertifierQc,
    ReadOnlyMemory<byte>[] Chunks, Hash32[] ChunkHashes)
{
    /// <summary>The format of the encoding; another is refused (the version before certified a checkpoint's root in its own header).</summary>
    public const byte FormatVersion = 3;

    private Merkle.MerkleLevels? _levels;

    /// <summary>
    /// The capture whose chunks these are, when made from one (null when decoded from a snapshot): the replica
    /// retires it, giving its buffers back, only once no checkpoint, save or capture of its own holds it.
    /// </summary>
    public StateCapture? Source { get; init; }

    /// <summary>The checkpoint height: the state's.</summary>
    public ulong Height => At.Height;

    /// <summary>The root the chunks are proven against: carried by the header an interval later.</summary>
    public Hash32 CertifiedRoot => Certifier.StateRoot;

    /// <summary>The Merkle tree over the chunks, built the first time a peer asks for chunks (then each proof is only its path).</summary>
    public Merkle.MerkleLevels Levels => _levels ??= new Merkle.MerkleLevels(ChunkHashes);

    /// <summary>A complete capture of the state at <paramref name="at"/>, certified by <paramref name="certifier"/>.</summary>
    public static Checkpoint Of(StateCapture capture, DecisionHeader at, QuorumCertificate atQc, DecisionHeader certifier, QuorumCertificate certifierQc)
    {
        var (chunks, hashes) = capture.Chunks();
        return new Checkpoint(at, atQc, certifier, certifierQc, chunks, hashes) { Source = capture };
    }

    /// <summary>
    /// Whether the two certificates make a checkpoint of <paramref name="cluster"/>: both QCs valid for their headers,
    /// the state's height a positive multiple of <paramref name="interval"/>, and the certifier exactly one interval
    /// above it, with a root. Each header is the one decided at its height (a QC pins it), so they need no link; the
    /// chunks are then proven against the certifier's root alone, and the chain goes on from the first header.
    /// </summary>
    public static bool IsValidPair(
        ClusterInfo cluster, int interval, DecisionHeader at, QuorumCertificate atQc, DecisionHeader certifier, QuorumCertificate certifierQc) =>
        at.Cluster == cluster.Id && certifier.Cluster == cluster.Id
        && at.Height > 0 && at.Height % (ulong)interval == 0
        && certifier.Height == at.Height + (ulong)interval
        && !certifier.StateRoot.IsZero
        && atQc.Verify(cluster, at) == QcCheck.Valid
        && certifierQc.Verify(cluster, certifier) == QcCheck.Valid;

    /// <summary>Writes the four certificates (a snapshot's, and a snapshot reply's, first fields).</summary>
    public void WriteCertificates(CanonicalWriter w)
    {
        At.Write(w);
        AtQc.Write(w);
        Certifier.Write(w);
        CertifierQc.Write(w);
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
        var w = new CanonicalWriter(2048);
        w.U8(FormatVersion);
        WriteCertificates(w);
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

    /// <summary>
    /// Decodes a snapshot into the checkpoint and the state it holds (with a complete capture of it, made of the
    /// snapshot's own chunk bytes, which must then stay unchanged); chunks must be canonical. Nothing is verified
    /// beyond the format: see <see cref="IsValidPair"/> and the root.
    /// </summary>
    public static (Checkpoint Checkpoint, ReplicatedState State, StateCapture Capture) Decode(ReadOnlyMemory<byte> bytes, int buckets)
    {
        var r = CanonicalReader.Over(bytes);
        var version = r.U8();
        if (version != FormatVersion)
        {
            throw new MalformedMessageException($"checkpoint of format {version}, not {FormatVersion}");
        }

        var at = DecisionHeader.Read(ref r);
        var atQc = QuorumCertificate.Read(ref r);
        var certifier = DecisionHeader.Read(ref r);
        var certifierQc = QuorumCertificate.Read(ref r);
        var count = r.Count(1 << 24);
        if (count != buckets)
        {
            throw new MalformedMessageException("snapshot has a different bucket count");
        }

        var state = new ReplicatedState(count);
        var chunks = new ReadOnlyMemory<byte>[count];
        var hashes = new Hash32[count];
        for (var i = 0; i < count; i++)
        {
            var chunk = r.BytesSpan(int.MaxValue);
            var start = bytes.Length - r.Remaining - chunk.Length;
            state.WriteChunk(i, chunk);
            chunks[i] = bytes.Slice(start, chunk.Length);
            hashes[i] = Merkle.MerkleTree.LeafHash(chunk);
        }

        r.End();
        var capture = state.CaptureFromChunks(at.Height, chunks, hashes);
        return (new Checkpoint(at, atQc, certifier, certifierQc, chunks, hashes), state, capture);
    }
}
