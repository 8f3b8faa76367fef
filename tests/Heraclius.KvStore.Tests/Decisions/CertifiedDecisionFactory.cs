using Heraclius.KvStore.Client;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Tests.Simulation;

namespace Heraclius.KvStore.Tests.Decisions;

/// <summary>Builds decisions signed by real member keys, for certificate and proof tests.</summary>
internal static class CertifiedDecisionFactory
{
    public static Proposal Proposal(TestTopology t, ulong height = 7, int groups = 3)
    {
        var outputs = Enumerable.Range(0, groups)
            .Select(i => new OutputGroup($"client-{i}", 0, 0, ClientReply.EncodeGroup([new ClientReply((ulong)i, Hash32.Of([(byte)i]), ReplyStatus.Executed, [1, 2, (byte)i])])))
            .ToList();
        var inputs = new byte[] { 9, 9, 9 };
        var header = new DecisionHeader(t.ClusterId, height, Hash32.Of([1]), Hash32.Of(inputs), KvStore.Decisions.Proposal.OutputsRoot(outputs), Hash32.Zero);
        return new Proposal(header, inputs, outputs);
    }

    public static QcSignature Sign(TestTopology t, int signer, VoteKind kind, ulong view, DecisionHeader header) =>
        new(signer, t.NodeKeys[signer].Sign(VoteStatement.Bytes(kind, header.Cluster, view, header.Height, header.Hash)));

    public static QuorumCertificate Qc(TestTopology t, DecisionHeader header, ulong view = 3, params int[] signers) =>
        new(view, [.. (signers.Length == 0 ? [0, 1, 2] : signers).Select(s => Sign(t, s, VoteKind.Commit, view, header))]);
}
