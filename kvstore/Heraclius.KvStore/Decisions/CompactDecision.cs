using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Decisions;

/// <summary>
/// All one destination needs from a decision: header, QC, its group and the group's Merkle proof
/// against the header's outputsRoot. Anyone with the topology's public keys can check it offline.
/// </summary>
public sealed class CompactDecision
{
    public CompactDecision(DecisionHeader header, QuorumCertificate qc, OutputGroup group, MerkleProof proof)
    {
        Header = header;
        Qc = qc;
        Group = group;
        Proof = proof;
    }

    public DecisionHeader Header { get; }

    public QuorumCertificate Qc { get; }

    public OutputGroup Group { get; }

    public MerkleProof Proof { get; }

    public byte[] ToBytes()
    {
        var w = new CanonicalWriter(Header.EncodedLength + Qc.EncodedLength + Group.EncodedLength + Proof.EncodedLength);
        Header.Write(w);
        Qc.Write(w);
        Group.Write(w);
        Proof.Write(w);
        return w.Detach();
    }

    /// <summary>Reads a compact decision, copying the group's payload out of <paramref name="bytes"/>.</summary>
    public static CompactDecision FromBytes(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        return Read(ref r);
    }

    /// <summary>
    /// Reads a compact decision whose group payload is a slice of <paramref name="bytes"/>, not a
    /// copy: for bytes the caller keeps unchanged for as long as the decision lives.
    /// </summary>
    public static CompactDecision FromMemory(ReadOnlyMemory<byte> bytes)
    {
        var r = CanonicalReader.Over(bytes);
        return Read(ref r);
    }

    private static CompactDecision Read(ref CanonicalReader r)
    {
        var c = new CompactDecision(DecisionHeader.Read(ref r), QuorumCertificate.Read(ref r), OutputGroup.Read(ref r), MerkleProof.Read(ref r));
        r.End();
        return c;
    }

    /// <summary>
    /// Checks that the source cluster certified this header (2f+1 distinct members, one view) and
    /// that the group, addressed to <paramref name="destination"/>, is the one the header covers.
    /// </summary>
    public CompactDecisionCheck Verify(ClusterTopology topology, string destination, Crypto.VerifiedSignatureCache? cache = null)
    {
        if (!topology.TryGetCluster(Header.Cluster, out var cluster))
        {
            return CompactDecisionCheck.UnknownCluster;
        }

        if (Group.Destination != destination)
        {
            return CompactDecisionCheck.WrongDestination;
        }

        if (!Proof.Verify(Group.LeafHash(), Header.OutputsRoot))
        {
            return CompactDecisionCheck.BadProof;
        }

        return Qc.Verify(cluster, Header, cache) == QcCheck.Valid
            ? CompactDecisionCheck.Valid
            : CompactDecisionCheck.BadQuorumCertificate;
    }
}
