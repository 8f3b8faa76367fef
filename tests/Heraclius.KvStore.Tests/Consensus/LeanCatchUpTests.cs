using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.KeyValue;

using static Heraclius.KvStore.Tests.Consensus.LargeValueWorkload;
using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Catch-up replies carry each decision's header, inputs and QC, not its outputs (which may be many times the inputs):
/// the node catching up executes the inputs and keeps the quorum's decision byte for byte; inputs that are not the
/// certified header's are refused; a whole decision (a node of the version before) is still taken.
/// </summary>
public sealed class LeanCatchUpTests
{
    private const int CatchUpBytes = 8 * 1024 * 1024;

    /// <summary>Heights 1..3 decided without node 3; returns the time reached.</summary>
    private static long ThreeDecisionsWithoutNodeThree(ReplicaFixture f)
    {
        var now = 10L;
        for (var height = 1UL; height <= 3; height++)
        {
            now += 10;
            f.Replicas[0].SubmitBatch(BatchOf(height, [KvOperation.Put(Keys[0], [(byte)height])]).Bytes, now);
            f.Replicas[0].Tick(now + 2);
            f.Pump(now + 2, CrashFuzz.CatchUpScenario.NotNodeThree);
        }

        Assert.Equal(3UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(0UL, f.Replicas[3].DecidedHeight);
        return now;
    }

    /// <summary>A DecisionBatch from node 0 of <paramref name="decisions"/>, each written by <paramref name="write"/>.</summary>
    private static byte[] DecisionBatchOf(IEnumerable<Decision> decisions, Action<CanonicalWriter, Decision> write)
    {
        var list = decisions.ToList();
        var w = Envelope.Begin(MessageType.DecisionBatch, 0);
        w.U64(0);
        w.U32((uint)list.Count);
        foreach (var d in list)
        {
            write(w, d);
        }

        return w.ToArray();
    }

    [Fact]
    public void LeanInputsThatAreNotTheCertifiedHeaders_AreRefused_AndChangeNothing()
    {
        var f = new ReplicaFixture();
        var now = ThreeDecisionsWithoutNodeThree(f);
        var first = f.Outboxes[0].Decisions[0];
        var tampered = new Decision(new Proposal(first.Header, first.Proposal.Inputs.ToArray().Append((byte)0).ToArray(), []), first.Qc);

        f.Replicas[3].OnMessage(0, DecisionBatchOf([tampered], CatchUpDecision.WriteLean), now + 10);
        Assert.Equal(1, Rejected(f.Replicas[3], RejectReason.InvalidDecision));
        Assert.Equal(0UL, f.Replicas[3].DecidedHeight);
    }

    [Fact]
    public void WholeDecisions_AsANodeOfTheVersionBeforeSendsThem_AreStillTaken()
    {
        var f = new ReplicaFixture();
        var now = ThreeDecisionsWithoutNodeThree(f);
        f.Replicas[3].OnMessage(0, DecisionBatchOf(f.Outboxes[0].Decisions, (w, d) => w.Bytes(d.ToBytes())), now + 10);
        Assert.Equal(3UL, f.Replicas[3].DecidedHeight);
        Assert.Equal(f.Replicas[0].LastHeaderHash, f.Replicas[3].LastHeaderHash);
        Assert.Empty(f.Replicas[3].Rejections);
    }

    [Fact]
    public void CatchUp_CarriesInputsNotOutputs_AndTheDecisionsRebuiltAreTheQuorumsByteForByte()
    {
        // Up to 10 MiB of answers in a decision: whole, one would weigh more than a catch-up reply may.
        var f = new ReplicaFixture(o => o.MaxProposalOutputBytes = 10 * 1024 * 1024);
        var now = RunUntilDecided(f, 10, 1, Puts());

        // Heights 2..7 without node 3: Gets of 2.5 MiB of answers each, and at 6 one of 9 MiB; their inputs are a few KiB.
        var seq = 10UL;
        foreach (var count in new[] { 40, 40, 40, 40, 144, 40 })
        {
            now += 10;
            f.Replicas[0].SubmitBatch(Gets(seq, count).Bytes, now);
            f.Replicas[0].Tick(now + 2);
            f.Pump(now + 2, CrashFuzz.CatchUpScenario.NotNodeThree);
            seq += (ulong)count;
        }

        Assert.Equal(7UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        var whole = f.Outboxes[0].Decisions.Skip(1).Sum(d => (long)d.EncodedLength);
        Assert.True(whole > 15 * 1024 * 1024);

        // Node 3 asks node 0 for what it lacks, and takes only node 0's decision batches.
        var replies = new List<byte[]>();
        for (var attempt = 0; attempt < 10 && f.Replicas[3].DecidedHeight < 7; attempt++)
        {
            now += 10;
            f.SkipAll();
            var mark = f.Outboxes[0].Sent.Count;
            f.Replicas[0].OnMessage(3, CrashFuzz.CatchUpScenario.FetchDecisions(3, f.Replicas[3].DecidedHeight + 1), now);
            replies.AddRange(f.Outboxes[0].Sent.Skip(mark).Where(s => s.To == 3 && TypeOf(s.Message) == MessageType.DecisionBatch).Select(s => s.Message));
            f.Pump(now, (from, to, m) => from == 0 && to == 3 && TypeOf(m) == MessageType.DecisionBatch);
        }

        Assert.Equal(7UL, f.Replicas[3].DecidedHeight);
        Assert.Equal(f.Replicas[0].LastHeaderHash, f.Replicas[3].LastHeaderHash);
        Assert.True(replies.Sum(m => (long)m.Length) < 256 * 1024, $"catch-up sent {replies.Sum(m => (long)m.Length)} bytes for {whole} bytes of decisions");
        Assert.Empty(f.Replicas[3].Rejections);

        // The outputs node 3 computed are the ones the quorum certified: the decisions it keeps and serves are node 0's.
        var learned = f.Outboxes[3].Decisions.Where(d => d.Height >= 2).ToList();
        Assert.Equal(6, learned.Count);
        foreach (var d in learned)
        {
            Assert.Equal(f.Outboxes[0].Decisions.Single(x => x.Height == d.Height).ToBytes(), d.ToBytes());
        }
    }

    [Fact]
    public void CatchUpReplies_AreSizedByTheirDecisions_AtLeastOneEach()
    {
        // Inputs of about 3 MiB per decision (puts of 64 KiB values): two fit a reply of 8 MiB, not three.
        var f = new ReplicaFixture();
        var now = 10L;
        var seq = 1UL;
        for (var height = 1; height <= 4; height++)
        {
            now += 10;
            f.Replicas[0].SubmitBatch(BatchOf(seq, Enumerable.Range(0, 45).Select(i => KvOperation.Put([(byte)i], ValueOf(i % 4)))).Bytes, now);
            seq += 45;
            f.Replicas[0].Tick(now + 2);
            f.Pump(now + 2, CrashFuzz.CatchUpScenario.NotNodeThree);
        }

        Assert.Equal(4UL, f.Replicas[0].DecidedHeight);
        f.SkipAll();
        var mark = f.Outboxes[0].Sent.Count;
        f.Replicas[0].OnMessage(3, CrashFuzz.CatchUpScenario.FetchDecisions(3, 1), now + 10);
        var reply = f.Outboxes[0].Sent.Skip(mark).Single(s => s.To == 3 && TypeOf(s.Message) == MessageType.DecisionBatch).Message;
        var r = new CanonicalReader(Envelope.Open(reply).Body.Span);
        r.U64();
        Assert.Equal(2u, r.U32());
        Assert.InRange(reply.Length, 5 * 1024 * 1024, CatchUpBytes + 4096);
    }

    private static void Round(ReplicaFixture f, long now, ClientBatch b, Func<int, int, byte[], bool>? filter)
    {
        f.Replicas[0].SubmitBatch(b.Bytes, now);
        f.Replicas[0].Tick(now + 2);
        f.Pump(now + 2, filter);
    }

    /// <summary>Review: node 3 prepared height 2 (it decides that one from the proposal it holds) and missed the rest, across checkpoints.</summary>
    [Fact]
    public void ALeanCatchUpOfAProposalHeld_AndAcrossCheckpoints_IsTheQuorums_AndReplaysAfterARestart()
    {
        var f = new ReplicaFixture(o => { o.CheckpointInterval = 2; o.RetainDecisions = 6; });
        var now = RunUntilDecided(f, 10, 1, Puts());
        var seq = 10UL;
        for (var h = 2; h <= 5; h++)
        {
            now += 10;
            var height = h;
            Round(f, now, Gets(seq, 3), (from, to, m) => (to != 3 && from != 3) || (height == 2 && from == 0 && to == 3 && TypeOf(m) == MessageType.PrePrepare));
            seq += 3;
        }

        Assert.Equal((5UL, 1UL), (f.Replicas[0].DecidedHeight, f.Replicas[3].DecidedHeight));
        for (var attempt = 0; attempt < 20 && f.Replicas[3].DecidedHeight < 5; attempt++)
        {
            now += 10;
            f.SkipAll();
            f.Replicas[0].OnMessage(3, CrashFuzz.CatchUpScenario.FetchDecisions(3, f.Replicas[3].DecidedHeight + 1), now);
            f.Pump(now, (from, to, m) => from == 0 && to == 3 && TypeOf(m) == MessageType.DecisionBatch);
        }

        Assert.Equal(f.Replicas[0].LastHeaderHash, f.Replicas[3].LastHeaderHash);
        foreach (var d in f.Outboxes[3].Decisions.Where(d => d.Height >= 2))
        {
            Assert.Equal(f.Outboxes[0].Decisions.Single(x => x.Height == d.Height).ToBytes(), d.ToBytes());
        }

        Assert.Empty(f.Replicas[3].Rejections);
        f.StopAndBoot(3, now + 100);
        Assert.Equal(f.Replicas[0].LastHeaderHash, f.Replicas[3].LastHeaderHash);

        now += 200;
        Round(f, now, Gets(seq, 2), null);
        f.RunUntil(now + 3, () => f.Replicas.All(r => r.DecidedHeight >= 6));
        Assert.Equal(6UL, f.Replicas[3].DecidedHeight);
    }

    /// <summary>Review: a lean entry whose marker is followed by garbage is counted malformed, never a crash.</summary>
    [Fact]
    public void GarbageAfterTheLeanMarker_IsMalformed()
    {
        var f = new ReplicaFixture();
        var w = Envelope.Begin(MessageType.DecisionBatch, 0);
        w.U64(0);
        w.U32(1);
        w.U32(12);
        w.U32(uint.MaxValue);
        w.U32(uint.MaxValue);
        w.U32(7);
        f.Replicas[3].OnMessage(0, w.ToArray(), 20);
        Assert.Equal(1, Rejected(f.Replicas[3], RejectReason.Malformed));
        Assert.Equal(0UL, f.Replicas[3].DecidedHeight);
    }

    /// <summary>
    /// Review, and docs/design.md (Upgrading across a format change): the output budget is part of execution. A decision
    /// made under a larger budget whose answers passed the smaller one re-executes to other outputs, so a node restarted
    /// with the smaller budget stops on it, loudly, rather than serve other answers than the quorum certified.
    /// </summary>
    [Fact]
    public void ADecisionMadeUnderALargerOutputBudget_StopsAReplayUnderASmallerOne()
    {
        var f = new ReplicaFixture(o => o.MaxProposalOutputBytes = 8 * 1024 * 1024);
        var now = RunUntilDecided(f, 10, 1, Puts());
        now = RunUntilDecided(f, now + 10, 2, Gets(10, 110));
        Assert.True(f.Outboxes[3].Decisions.Single(d => d.Height == 2).Proposal.Outputs.Sum(o => (long)o.EncodedLength) > 6 * 1024 * 1024);

        f.Options.MaxProposalOutputBytes = 6 * 1024 * 1024;
        var e = Assert.Throws<InvalidOperationException>(() => f.StopAndBoot(3, now + 100));
        Assert.Contains("diverges from its header", e.Message);
    }
}
