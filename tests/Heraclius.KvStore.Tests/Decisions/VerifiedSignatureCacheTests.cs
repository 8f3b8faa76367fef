using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Tests.Simulation;
using static Heraclius.KvStore.Tests.Decisions.CertifiedDecisionFactory;

namespace Heraclius.KvStore.Tests.Decisions;

/// <summary>
/// The clients' cache of verified signatures answers only for the exact (key, statement, signature) it verified: a QC
/// checked through it gives every verdict the uncached check gives, and a second check of the same signatures verifies none.
/// </summary>
public sealed class VerifiedSignatureCacheTests
{
    private static readonly TestTopology T = new(4, 1);

    [Fact]
    public void AQcCheckedTwice_IsVerifiedOnce()
    {
        var cache = new VerifiedSignatureCache();
        var header = Proposal(T).Header;
        var qc = Qc(T, header);
        Assert.Equal(QcCheck.Valid, qc.Verify(T.Cluster, header, cache));
        Assert.Equal(0, cache.Hits);
        Assert.Equal(QcCheck.Valid, qc.Verify(T.Cluster, header, cache));
        Assert.Equal(qc.Signatures.Count, cache.Hits);
    }

    [Fact]
    public void AnotherSignerSet_VerifiesOnlyTheSignatureNotSeenBefore()
    {
        var cache = new VerifiedSignatureCache();
        var header = Proposal(T).Header;
        Assert.Equal(QcCheck.Valid, Qc(T, header, 3, 0, 1, 2).Verify(T.Cluster, header, cache));
        Assert.Equal(QcCheck.Valid, Qc(T, header, 3, 0, 1, 3).Verify(T.Cluster, header, cache));
        Assert.Equal(2, cache.Hits);
    }

    [Fact]
    public void CachedSignatures_DoNotVouchForAnythingElse()
    {
        var cache = new VerifiedSignatureCache();
        var header = Proposal(T).Header;
        Assert.Equal(QcCheck.Valid, Qc(T, header, 3, 0, 1, 2).Verify(T.Cluster, header, cache));

        // The same signatures for another header, in another view, as another member's, or altered: each refused as without a cache.
        var other = Proposal(T, height: 8).Header;
        Assert.Equal(QcCheck.BadSignature, Qc(T, header, 3, 0, 1, 2).Verify(T.Cluster, other, cache));
        var s = Qc(T, header, 3, 0, 1, 2).Signatures;
        Assert.Equal(QcCheck.BadSignature, new QuorumCertificate(4, s).Verify(T.Cluster, header, cache));
        Assert.Equal(QcCheck.BadSignature, new QuorumCertificate(3, [s[0], s[1], new QcSignature(3, s[2].Signature)]).Verify(T.Cluster, header, cache));
        var altered = s[2].Signature.ToArray();
        altered[5] ^= 1;
        Assert.Equal(QcCheck.BadSignature, new QuorumCertificate(3, [s[0], s[1], new QcSignature(2, altered)]).Verify(T.Cluster, header, cache));
        Assert.Equal(QcCheck.BadSignature, new QuorumCertificate(3, [Sign(T, 0, VoteKind.Prepare, 3, header), s[1], s[2]]).Verify(T.Cluster, header, cache));
    }

    [Fact]
    public void AnInvalidSignature_IsNeverRemembered()
    {
        var cache = new VerifiedSignatureCache();
        var header = Proposal(T).Header;
        var s = Qc(T, header, 3, 0, 1, 2).Signatures;
        var forged = new QuorumCertificate(3, [s[0], s[1], new QcSignature(2, new byte[SigningKey.SignatureSize])]);
        Assert.Equal(QcCheck.BadSignature, forged.Verify(T.Cluster, header, cache));
        Assert.Equal(QcCheck.BadSignature, forged.Verify(T.Cluster, header, cache));
        Assert.Equal(2, cache.Hits);
    }

    [Fact]
    public void BeyondItsCapacity_TheOldestIsVerifiedAgain()
    {
        var cache = new VerifiedSignatureCache(capacity: 3);
        var first = Proposal(T).Header;
        var second = Proposal(T, height: 8).Header;
        Assert.Equal(QcCheck.Valid, Qc(T, first, 3, 0, 1, 2).Verify(T.Cluster, first, cache));
        Assert.Equal(QcCheck.Valid, Qc(T, second, 3, 0, 1, 2).Verify(T.Cluster, second, cache));
        Assert.Equal(0, cache.Hits);

        // The first header's three were pushed out by the second's.
        Assert.Equal(QcCheck.Valid, Qc(T, first, 3, 0, 1, 2).Verify(T.Cluster, first, cache));
        Assert.Equal(0, cache.Hits);
        Assert.Equal(QcCheck.Valid, Qc(T, first, 3, 0, 1, 2).Verify(T.Cluster, first, cache));
        Assert.Equal(3, cache.Hits);
    }
}
