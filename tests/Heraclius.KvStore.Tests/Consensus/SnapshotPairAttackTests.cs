using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using static Heraclius.KvStore.Tests.Consensus.SnapshotFetchScenario;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A checkpoint's chunks are proven against the root its certifier (the header an interval later) carries, never against
/// its own header's: that header carries the root of the capture an interval before it. A lying peer that pairs genuine
/// certificates with another capture's genuine chunks and proofs, or pairs certificates of the wrong heights, is refused
/// and counted, and nothing is installed (review of the deferred root, findings 1 and 2).
/// </summary>
public sealed class SnapshotPairAttackTests
{
    private static byte[] FetchSnapshot(ulong height)
    {
        var w = Envelope.Begin(MessageType.FetchSnapshot, 3, 32);
        w.U64(height);
        w.U32(0);
        w.U32(16);
        return w.ToArray();
    }

    /// <summary>Node 0's answer to a chunk request of node 3, delivered to nobody.</summary>
    private static byte[] AskNodeZero(ReplicaFixture f, ulong height, long now)
    {
        var mark = f.Outboxes[0].Sent.Count;
        f.Replicas[0].OnMessage(3, FetchSnapshot(height), now);
        return f.Outboxes[0].Sent.Skip(mark).Single(s => s.To == 3 && TypeOf(s.Message) == MessageType.SnapshotChunks).Message;
    }

    /// <summary>
    /// Where a reply's header(h) and QC(h) end, and where its four certificates end (offsets in the message, envelope
    /// included); and the checkpoint and certifier heights.
    /// </summary>
    private static (int AtEnd, int Length, ulong At, ulong Certifier) Certificates(byte[] reply)
    {
        var body = Envelope.Open(reply).Body;
        var r = new CanonicalReader(body.Span);
        var at = DecisionHeader.Read(ref r);
        _ = QuorumCertificate.Read(ref r);
        var atEnd = Envelope.HeaderSize + body.Length - r.Remaining;
        var certifier = DecisionHeader.Read(ref r);
        _ = QuorumCertificate.Read(ref r);
        return (atEnd, Envelope.HeaderSize + body.Length - r.Remaining, at.Height, certifier.Height);
    }

    /// <summary><paramref name="certificatesOf"/>'s envelope and certificates followed by <paramref name="chunksOf"/>'s chunks and proofs.</summary>
    private static byte[] Splice(byte[] certificatesOf, byte[] chunksOf) =>
        [.. certificatesOf.AsSpan(0, Certificates(certificatesOf).Length), .. chunksOf.AsSpan(Certificates(chunksOf).Length)];

    /// <summary>Node 3 fetches from the scenario's cluster, every chunk reply passed through <paramref name="tamper"/>; it installs nothing and counts the lie.</summary>
    private static void FetchThrough(Func<byte[], byte[], byte[]> tamper)
    {
        var (f, replyOfFour, now) = ClusterWithAnOldReply();
        var mark = StatusFromNodeZero(f, ref now);
        for (var i = 0; i < 4; i++)
        {
            mark = Exchange(f, ref now, mark, rounds: 0, reply => tamper(reply, replyOfFour));
        }

        Assert.True(f.Replicas[3].Rejections.GetValueOrDefault(RejectReason.InvalidSnapshot) >= 1);
        Assert.Equal(0, f.Replicas[3].SnapshotsInstalled);
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
    }

    /// <summary>Node 3 at 1, the others at 8 (serving the capture of 4, certified at 8), then on beyond node 3's pruned log.</summary>
    private static (ReplicaFixture F, byte[] ReplyOfFour, long Now) ClusterWithAnOldReply()
    {
        var f = SnapshotFetchScenario.Cluster();
        var now = 10L;
        CrashFuzz.CatchUpScenario.Round(f, now);
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        now = DecideWithoutNodeThree(f, now + 10, 7);
        var replyOfFour = AskNodeZero(f, 4, now);
        Assert.Equal((4UL, 8UL), (Certificates(replyOfFour).At, Certificates(replyOfFour).Certifier));
        now = DecideWithoutNodeThree(f, now + 10, 7);
        Assert.Equal(15UL, f.Replicas[0].DecidedHeight);
        return (f, replyOfFour, now);
    }

    [Fact]
    public void GenuineCertificatesOfEight_WithTheGenuineChunksOfFour_AreRefusedAndCounted_NothingInstalled() =>
        // Chunks of four, proven against the root header 8 carries: what a fetcher checking against its own At header
        // (header 8) would take for the state after 8.
        FetchThrough((reply, replyOfFour) =>
        {
            Assert.Equal((8UL, 12UL), (Certificates(reply).At, Certificates(reply).Certifier));
            return Splice(reply, replyOfFour);
        });

    [Fact]
    public void CertificatesOfFourAsTheStateWithTheCertifierOfTwelve_AreRefusedAndCounted_NothingInstalled() =>
        // header(4) and QC(4) of the old reply, then header(12) and QC(12) and the chunks of the genuine one.
        FetchThrough((reply, replyOfFour) =>
            [.. replyOfFour.AsSpan(0, Certificates(replyOfFour).AtEnd), .. reply.AsSpan(Certificates(reply).AtEnd)]);

    [Fact]
    public void TheSameRepliesUntampered_InstallTheStateAfterEight()
    {
        // The control: the scenario above reaches the install the attacks prevent.
        var (f, _, now) = ClusterWithAnOldReply();
        var mark = StatusFromNodeZero(f, ref now);
        for (var i = 0; i < 8 && f.Replicas[3].SnapshotsInstalled == 0; i++)
        {
            mark = Exchange(f, ref now, mark, rounds: 0);
        }

        Assert.Equal(1, f.Replicas[3].SnapshotsInstalled);
        Assert.Equal(0, f.Replicas[3].Rejections.GetValueOrDefault(RejectReason.InvalidSnapshot));
    }
}
