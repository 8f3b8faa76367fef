using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.Routing;
using Heraclius.Testing.Cluster;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>Builds compact decisions of a source cluster signed with real member keys, honest or tampered.</summary>
internal static class CertifiedGroups
{
    private static readonly int[] Quorum = [0, 1, 2];

    /// <summary>A KV request message as a coordinator routes it.</summary>
    public static byte[] PutMessage(string key, string value, ulong seq = 1) =>
        new KvRouteMessage(KvRouteKind.Request, "client-0", seq, Hash32.Of([(byte)seq]), KvOperation.Put(System.Text.Encoding.UTF8.GetBytes(key), System.Text.Encoding.UTF8.GetBytes(value)).ToBytes()).ToBytes();

    public static OutputGroup Group(string destination, ulong prevHeight, params byte[][] messages) =>
        new(destination, prevHeight, 0, ClusterPayload.Encode(messages));

    /// <summary>A decision of <paramref name="source"/> at <paramref name="height"/> with these groups, certified by <paramref name="signers"/> of <paramref name="signingCluster"/>.</summary>
    public static (DecisionHeader Header, QuorumCertificate Qc) Certify(MultiTopology t, string source, ulong height, IReadOnlyList<OutputGroup> groups, int[]? signers = null, string? signingCluster = null)
    {
        var header = new DecisionHeader(source, height, Hash32.Of([(byte)height]), Hash32.Of([]), Proposal.OutputsRoot(groups), Hash32.Zero);
        var keys = t.NodeKeys[signingCluster ?? source];
        var sigs = (signers ?? Quorum).Select(i => new QcSignature(i, keys[i].Sign(VoteStatement.Bytes(VoteKind.Commit, source, 0, height, header.Hash)))).ToList();
        return (header, new QuorumCertificate(0, sigs));
    }

    public static CompactDecision Compact(MultiTopology t, string source, ulong height, IReadOnlyList<OutputGroup> groups, int index, int[]? signers = null, string? signingCluster = null)
    {
        var (header, qc) = Certify(t, source, height, groups, signers, signingCluster);
        return new CompactDecision(header, qc, groups[index], MerkleTree.Prove([.. groups.Select(g => g.LeafHash())], index));
    }

    public static InboundGroup Inbound(CompactDecision compact) => InboundGroup.Parse(compact.ToBytes());
}
