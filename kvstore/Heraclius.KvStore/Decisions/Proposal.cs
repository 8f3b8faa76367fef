using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.Decisions;

/// <summary>
/// What a leader proposes for one height: the header, the inputs it covers (canonical bytes,
/// digest in the header) and the outputs execution produced (groups sorted by destination,
/// root in the header). The same bytes are re-proposed unchanged after a view change.
/// </summary>
public sealed class Proposal
{
    public const int MaxInputBytes = 64 * 1024 * 1024;
    public const int MaxGroups = 1 << 16;

    private byte[]? _bytes;
    private Hash32[]? _leafHashes;
    private MerkleLevels? _outputLevels;

    public Proposal(DecisionHeader header, ReadOnlyMemory<byte> inputs, IReadOnlyList<OutputGroup> outputs)
    {
        Header = header;
        Inputs = inputs;
        Outputs = outputs;
    }

    /// <summary>
    /// A proposal whose outputs' leaf hashes were computed already (the leader's, which hashed them for the
    /// header's outputs root); <paramref name="leafHashes"/> must be <see cref="LeafHashesOf"/> of the outputs.
    /// </summary>
    public Proposal(DecisionHeader header, ReadOnlyMemory<byte> inputs, IReadOnlyList<OutputGroup> outputs, Hash32[] leafHashes)
        : this(header, inputs, outputs)
    {
        if (leafHashes.Length != outputs.Count)
        {
            throw new ArgumentException("one leaf hash per output group", nameof(leafHashes));
        }

        _leafHashes = leafHashes;
    }

    public DecisionHeader Header { get; }

    /// <summary>The inputs' canonical bytes: on a follower a slice of the received pre-prepare or inputs ahead (see <see cref="Read"/>); never written.</summary>
    public ReadOnlyMemory<byte> Inputs { get; }

    public IReadOnlyList<OutputGroup> Outputs { get; }

    public byte[] Bytes => _bytes ??= Encode();

    /// <summary>The size of <see cref="Bytes"/>, so the big messages and records that embed a proposal are allocated once at their final size.</summary>
    public int EncodedLength
    {
        get
        {
            var size = Header.EncodedLength + 4 + Inputs.Length + 4;
            foreach (var g in Outputs)
            {
                size += g.EncodedLength;
            }

            return size;
        }
    }

    private byte[] Encode()
    {
        var w = new CanonicalWriter(EncodedLength);
        Write(w);
        return w.Detach();
    }

    public void Write(CanonicalWriter w)
    {
        if (_bytes is not null)
        {
            w.Fixed(_bytes);
            return;
        }

        Header.Write(w);
        w.Bytes(Inputs.Span);
        w.U32((uint)Outputs.Count);
        foreach (var g in Outputs)
        {
            g.Write(w);
        }
    }

    /// <summary>
    /// Reads a proposal. From a reader made by <see cref="CanonicalReader.Over"/> the inputs and the
    /// output payloads are slices of its memory (a pre-prepare is read once and kept whole anyway);
    /// from a span they are copies.
    /// </summary>
    public static Proposal Read(ref CanonicalReader r)
    {
        var header = DecisionHeader.Read(ref r);
        var inputs = r.BytesMemory(MaxInputBytes);
        var count = r.Count(MaxGroups);
        var groups = new OutputGroup[count];
        for (var i = 0; i < count; i++)
        {
            groups[i] = OutputGroup.Read(ref r);
        }

        return new Proposal(header, inputs, groups);
    }

    public static Proposal FromBytes(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var p = Read(ref r);
        r.End();
        return p;
    }

    public static Hash32 OutputsRoot(IReadOnlyList<OutputGroup> outputs) => MerkleTree.Root(LeafHashesOf(outputs));

    /// <summary>The leaf hash of every output group, in order: what <see cref="OutputsRoot"/> is the root of.</summary>
    public static Hash32[] LeafHashesOf(IReadOnlyList<OutputGroup> outputs)
    {
        var leaves = new Hash32[outputs.Count];
        for (var i = 0; i < leaves.Length; i++)
        {
            leaves[i] = outputs[i].LeafHash();
        }

        return leaves;
    }

    /// <summary>The output groups' leaf hashes, computed once: every compact decision of this proposal proves against them.</summary>
    private Hash32[] LeafHashes => _leafHashes ??= LeafHashesOf(Outputs);

    /// <summary>The outputs' Merkle tree, built once: each replica makes a compact decision for every group.</summary>
    private MerkleLevels OutputLevels => _outputLevels ??= new MerkleLevels(LeafHashes);

    /// <summary>True when the body matches the header: inputs digest, outputs root, destinations strictly ordered.</summary>
    public bool IsSelfConsistent()
    {
        for (var i = 1; i < Outputs.Count; i++)
        {
            if (string.CompareOrdinal(Outputs[i - 1].Destination, Outputs[i].Destination) >= 0)
            {
                return false;
            }
        }

        return Hash32.Of(Inputs.Span) == Header.InputsDigest && MerkleTree.Root(LeafHashes) == Header.OutputsRoot;
    }

    /// <summary>
    /// True when <paramref name="outputs"/> (a re-execution's) are this proposal's outputs byte for byte. For a
    /// self-consistent proposal that means their root is the header's: compared in place, they need not be hashed again.
    /// </summary>
    public bool HasOutputs(IReadOnlyList<OutputGroup> outputs)
    {
        if (outputs.Count != Outputs.Count)
        {
            return false;
        }

        for (var i = 0; i < outputs.Count; i++)
        {
            if (!outputs[i].ContentEquals(Outputs[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The compact decision for output group <paramref name="index"/>: all that destination needs.</summary>
    public CompactDecision Compact(QuorumCertificate qc, int index) =>
        new(Header, qc, Outputs[index], OutputLevels.Prove(index));
}
