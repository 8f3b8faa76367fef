using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Tests.Simulation;
using static Heraclius.KvStore.Tests.Decisions.CertifiedDecisionFactory;

namespace Heraclius.KvStore.Tests.Decisions;

public sealed class QuorumCertificateTests
{
    private static readonly TestTopology T = new(4, 1);

    [Fact]
    public void QuorumOfDistinctMembersOfOneView_IsValid()
    {
        var header = Proposal(T).Header;
        Assert.Equal(QcCheck.Valid, Qc(T, header).Verify(T.Cluster, header));
        Assert.Equal(QcCheck.Valid, Qc(T, header, 5, 0, 1, 2, 3).Verify(T.Cluster, header));
    }

    [Fact]
    public void TooFewSignatures_Refused()
    {
        var header = Proposal(T).Header;
        Assert.Equal(QcCheck.TooFewSignatures, Qc(T, header, 3, 0, 1).Verify(T.Cluster, header));
    }

    [Fact]
    public void DuplicateSigner_Refused()
    {
        var header = Proposal(T).Header;
        var one = Sign(T, 1, VoteKind.Commit, 3, header);
        var qc = new QuorumCertificate(3, [Sign(T, 0, VoteKind.Commit, 3, header), one, one]);
        Assert.Equal(QcCheck.DuplicateSigner, qc.Verify(T.Cluster, header));
    }

    [Fact]
    public void NonMemberSigner_Refused()
    {
        var header = Proposal(T).Header;
        var outsider = SigningKey.Generate();
        var qc = new QuorumCertificate(3, [Sign(T, 0, VoteKind.Commit, 3, header), Sign(T, 1, VoteKind.Commit, 3, header),
            new QcSignature(4, outsider.Sign(VoteStatement.Bytes(VoteKind.Commit, header.Cluster, 3, header.Height, header.Hash)))]);
        Assert.Equal(QcCheck.NonMember, qc.Verify(T.Cluster, header));
    }

    [Fact]
    public void WrongCluster_Refused()
    {
        var header = Proposal(T).Header;
        var other = new TestTopology(4, 1, "c9");
        Assert.Equal(QcCheck.WrongCluster, Qc(T, header).Verify(other.Cluster, header));
    }

    [Fact]
    public void QcForAnotherHeader_Refused()
    {
        var header = Proposal(T).Header;
        var other = Proposal(T, height: 8).Header;
        Assert.Equal(QcCheck.BadSignature, Qc(T, header).Verify(T.Cluster, other));
    }

    [Fact]
    public void SignaturesMixingViews_Refused()
    {
        var header = Proposal(T).Header;
        var qc = new QuorumCertificate(3, [Sign(T, 0, VoteKind.Commit, 3, header), Sign(T, 1, VoteKind.Commit, 3, header), Sign(T, 2, VoteKind.Commit, 4, header)]);
        Assert.Equal(QcCheck.BadSignature, qc.Verify(T.Cluster, header));
    }

    [Fact]
    public void PrepareSignaturesAreNotCommitSignatures()
    {
        var header = Proposal(T).Header;
        var qc = new QuorumCertificate(3, [Sign(T, 0, VoteKind.Prepare, 3, header), Sign(T, 1, VoteKind.Prepare, 3, header), Sign(T, 2, VoteKind.Prepare, 3, header)]);
        Assert.Equal(QcCheck.BadSignature, qc.Verify(T.Cluster, header));
    }
}
