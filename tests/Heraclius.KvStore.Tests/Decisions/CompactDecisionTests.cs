using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Tests.Simulation;
using static Heraclius.KvStore.Tests.Decisions.CertifiedDecisionFactory;

namespace Heraclius.KvStore.Tests.Decisions;

public sealed class CompactDecisionTests
{
    private static readonly TestTopology T = new(4, 1);

    private static (CompactDecision Compact, byte[] Bytes) Make(int index = 1)
    {
        var p = Proposal(T);
        var compact = p.Compact(Qc(T, p.Header), index);
        return (compact, compact.ToBytes());
    }

    [Fact]
    public void EveryGroupOfACertifiedDecision_VerifiesAfterARoundTrip()
    {
        var p = Proposal(T, groups: 5);
        var qc = Qc(T, p.Header);
        for (var i = 0; i < 5; i++)
        {
            var c = CompactDecision.FromBytes(p.Compact(qc, i).ToBytes());
            Assert.Equal(CompactDecisionCheck.Valid, c.Verify(T.Topology, $"client-{i}"));
        }
    }

    [Fact]
    public void AnyFlippedByte_IsRefusedOrUnreadable()
    {
        var (_, bytes) = Make();
        for (var i = 0; i < bytes.Length; i++)
        {
            var tampered = (byte[])bytes.Clone();
            tampered[i] ^= 0x01;
            CompactDecision c;
            try
            {
                c = CompactDecision.FromBytes(tampered);
            }
            catch (Exception e) when (e is Encoding.MalformedMessageException or ArgumentException)
            {
                continue;
            }

            Assert.NotEqual(CompactDecisionCheck.Valid, c.Verify(T.Topology, "client-1"));
        }
    }

    [Fact]
    public void TamperedPayload_BadProof()
    {
        var (c, _) = Make();
        var payload = c.Group.Payload.ToArray();
        payload[^1] ^= 0xFF;
        var forged = new CompactDecision(c.Header, c.Qc, c.Group with { Payload = payload }, c.Proof);
        Assert.Equal(CompactDecisionCheck.BadProof, forged.Verify(T.Topology, "client-1"));
    }

    [Fact]
    public void ProofForAnotherGroup_BadProof()
    {
        var p = Proposal(T);
        var qc = Qc(T, p.Header);
        var mine = p.Compact(qc, 1);
        var other = p.Compact(qc, 2);
        Assert.Equal(CompactDecisionCheck.BadProof, new CompactDecision(mine.Header, qc, mine.Group, other.Proof).Verify(T.Topology, "client-1"));
    }

    [Fact]
    public void GroupForAnotherDestination_Refused()
    {
        var (c, _) = Make();
        Assert.Equal(CompactDecisionCheck.WrongDestination, c.Verify(T.Topology, "client-2"));
    }

    [Fact]
    public void TamperedQc_Refused()
    {
        var (c, _) = Make();
        var sigs = c.Qc.Signatures.ToArray();
        var sig = (byte[])sigs[0].Signature.Clone();
        sig[5] ^= 0x10;
        sigs[0] = sigs[0] with { Signature = sig };
        Assert.Equal(CompactDecisionCheck.BadQuorumCertificate, new CompactDecision(c.Header, new QuorumCertificate(c.Qc.View, sigs), c.Group, c.Proof).Verify(T.Topology, "client-1"));
        Assert.Equal(CompactDecisionCheck.BadQuorumCertificate, new CompactDecision(c.Header, new QuorumCertificate(c.Qc.View + 1, c.Qc.Signatures), c.Group, c.Proof).Verify(T.Topology, "client-1"));
    }

    [Fact]
    public void HeaderFromAnUnknownCluster_Refused()
    {
        var other = new TestTopology(4, 1, "c7");
        var p = Proposal(other);
        var c = p.Compact(Qc(other, p.Header), 1);
        Assert.Equal(CompactDecisionCheck.UnknownCluster, c.Verify(T.Topology, "client-1"));
        Assert.Equal(CompactDecisionCheck.Valid, c.Verify(other.Topology, "client-1"));
    }
}
