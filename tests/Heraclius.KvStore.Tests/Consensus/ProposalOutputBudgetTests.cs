using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Transport;

using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Decisions whose outputs are many times their inputs: a leader proposes only the pooled batches whose answers fit the
/// output budget and keeps the rest for the next proposals, and catch-up sizes its replies by whole decisions.
/// </summary>
public sealed class ProposalOutputBudgetTests
{
    private const string Client = "client-0";
    private const int CatchUpBytes = 8 * 1024 * 1024;

    private static readonly byte[][] Keys = [.. Enumerable.Range(0, 4).Select(i => new[] { (byte)'k', (byte)i })];

    private static byte[] ValueOf(int key) => [.. Enumerable.Repeat((byte)(key + 1), KvOperation.MaxValueBytes)];

    private static ClientBatch BatchOf(ulong firstSeq, IEnumerable<KvOperation> operations) =>
        ClientBatch.Create(Client, T.ClusterId, [.. operations.Select((o, i) => new ClientRequest(firstSeq + (ulong)i, o.ToBytes()))], T.ClientKeys[0]);

    private static ClientBatch Puts() => BatchOf(1, Keys.Select((k, i) => KvOperation.Put(k, ValueOf(i))));

    /// <summary><paramref name="count"/> Gets of the 64 KiB values, from request <paramref name="firstSeq"/> on; request i reads key i mod 4.</summary>
    private static ClientBatch Gets(ulong firstSeq, int count) => BatchOf(firstSeq, Enumerable.Range(0, count).Select(i => KvOperation.Get(Keys[i % Keys.Length])));

    private static IReadOnlyList<ClientBatch> BatchesOf(Decision d) => ProposalInputs.Parse(d.Proposal.Inputs).Batches;

    /// <summary>Submits <paramref name="batch"/> to leader 0 at <paramref name="now"/> and runs every member until all decided <paramref name="height"/>.</summary>
    private static long RunUntilDecided(ReplicaFixture f, long now, ulong height, ClientBatch batch)
    {
        f.Replicas[0].SubmitBatch(batch.Bytes, now);
        return f.RunUntil(now, () => f.Replicas.All(r => r.DecidedHeight >= height));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PooledBatchesOfLargeAnswers_TheLeaderProposesThoseThatFit_AndTheRestDecideLater_AllExecuted(bool inputsAhead)
    {
        const int budget = 1024 * 1024;
        var f = new ReplicaFixture(o => { o.MaxProposalOutputBytes = budget; o.SendInputsAhead = inputsAhead; });
        var now = RunUntilDecided(f, 10, 1, Puts());

        // A small proposal goes at once; while it is undecided, three batches of 10 Gets (640 KiB of answers each) pool.
        now += 50;
        f.Replicas[0].SubmitBatch(BatchOf(5, [KvOperation.Put("x"u8.ToArray(), [1])]).Bytes, now);
        Assert.NotNull(f.Replicas[0].AcceptedProposal);
        ClientBatch[] gets = [Gets(10, 10), Gets(20, 10), Gets(30, 10)];
        foreach (var batch in gets)
        {
            Assert.True(f.Replicas[0].SubmitBatch(batch.Bytes, now).Accepted);
        }

        f.RunUntil(now, () => f.Replicas.All(r => r.DecidedHeight >= 5));

        // Heights 3, 4 and 5 take one Get batch each, in pool order: two of them could not share a decision.
        var decided = f.Outboxes[0].Decisions;
        Assert.Equal(5, decided.Count);
        for (var i = 0; i < gets.Length; i++)
        {
            Assert.Equal(gets[i].Digest, Assert.Single(BatchesOf(decided[2 + i])).Digest);
        }

        Assert.Equal(2, f.Replicas[0].ProposalsTrimmed);
        var replies = decided.SelectMany(d => d.Proposal.Outputs).Where(g => g.Destination == Client)
            .SelectMany(g => ClientReply.DecodeGroup(g.Payload.Span)).ToList();
        foreach (var batch in gets)
        {
            for (var i = 0; i < batch.Requests.Count; i++)
            {
                var reply = Assert.Single(replies, r => r.Seq == batch.Requests[i].Seq);
                Assert.Equal(ReplyStatus.Executed, reply.Status);
                Assert.Equal(ValueOf(i % Keys.Length), KvResult.Parse(reply.Result).Value);
            }
        }

        Assert.All(f.Replicas, r => Assert.Equal(f.Replicas[0].LastHeaderHash, r.LastHeaderHash));
        Assert.All(f.Replicas, r => Assert.Equal(0, r.ViewChangesStarted));
        Assert.All(f.Replicas, r => Assert.Equal(0, Rejected(r, RejectReason.WrongOutputs) + Rejected(r, RejectReason.InvalidProposal)));
        // A trimmed proposal's pre-prepare carries its inputs: those sent ahead were the untrimmed ones.
        Assert.All(f.Replicas, r => Assert.Equal(0, r.PrePreparesWithoutInputs));
        Assert.Equal(0, f.Replicas[0].PoolBatches);
    }

    [Fact]
    public void AFirstBatchPastTheBudgetOnItsOwn_IsProposedAlone_AndTheBatchesAfterItWaitForTheNextProposal()
    {
        const int budget = 1024 * 1024;
        var f = new ReplicaFixture(o => o.MaxProposalOutputBytes = budget);
        var now = RunUntilDecided(f, 10, 1, Puts());

        now += 50;
        f.Replicas[0].SubmitBatch(BatchOf(5, [KvOperation.Put("x"u8.ToArray(), [1])]).Bytes, now);
        var big = Gets(10, 30);
        var small = Gets(40, 4);
        f.Replicas[0].SubmitBatch(big.Bytes, now);
        f.Replicas[0].SubmitBatch(small.Bytes, now);
        f.RunUntil(now, () => f.Replicas.All(r => r.DecidedHeight >= 4));

        var decided = f.Outboxes[0].Decisions;
        Assert.Equal(big.Digest, Assert.Single(BatchesOf(decided[2])).Digest);
        Assert.Equal(small.Digest, Assert.Single(BatchesOf(decided[3])).Digest);
        var replies = decided.SelectMany(d => d.Proposal.Outputs).Where(g => g.Destination == Client)
            .SelectMany(g => ClientReply.DecodeGroup(g.Payload.Span)).ToList();

        // The big batch alone passes the budget: its first requests answer, the rest are refused; the small one, proposed
        // after it rather than with it, answers whole.
        var bigReplies = replies.Where(r => r.Seq >= 10 && r.Seq < 40).ToList();
        Assert.Contains(bigReplies, r => r.Status == ReplyStatus.Executed);
        Assert.Contains(bigReplies, r => r.Status == ReplyStatus.Overloaded);
        Assert.All(replies.Where(r => r.Seq >= 40), r => Assert.Equal(ReplyStatus.Executed, r.Status));
        Assert.Equal(small.Requests.Count, replies.Count(r => r.Seq >= 40));
    }

    [Fact]
    public void TheOutputBudget_IsValidated_AndLeavesAPrePrepareInsideOneTransportMessage()
    {
        new ReplicaOptions().Validate();
        Assert.Throws<ArgumentException>(() => new ReplicaOptions { MaxProposalOutputBytes = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new ReplicaOptions { MaxProposalInputBytes = 8 * 1024 * 1024, MaxProposalOutputBytes = 8 * 1024 * 1024 }.Validate());
    }

    [Fact]
    public void CatchUp_CountsWholeDecisions_AndSendsOneDecisionLargerThanItsBytesAlone()
    {
        // 10 MiB of answers in a decision: one decision then weighs more than a whole catch-up reply may.
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

        // Node 3 asks node 0 for what it lacks, again and again, and takes only node 0's decision batches.
        var batches = new List<(int Length, int Count)>();
        for (var attempt = 0; attempt < 10 && f.Replicas[3].DecidedHeight < 7; attempt++)
        {
            now += 10;
            f.SkipAll();
            var mark = f.Outboxes[0].Sent.Count;
            f.Replicas[0].OnMessage(3, CrashFuzz.CatchUpScenario.FetchDecisions(3, f.Replicas[3].DecidedHeight + 1), now);
            foreach (var (_, m) in f.Outboxes[0].Sent.Skip(mark).Where(s => s.To == 3 && TypeOf(s.Message) == MessageType.DecisionBatch))
            {
                var r = new CanonicalReader(Envelope.Open(m).Body.Span);
                r.U64();
                batches.Add((m.Length, (int)r.U32()));
            }

            f.Pump(now, (from, to, m) => from == 0 && to == 3 && TypeOf(m) == MessageType.DecisionBatch);
        }

        Assert.Equal(7UL, f.Replicas[3].DecidedHeight);
        Assert.Equal(f.Replicas[0].LastHeaderHash, f.Replicas[3].LastHeaderHash);
        Assert.All(batches, b => Assert.True(b.Count == 1 || b.Length <= CatchUpBytes + 4096, $"a reply of {b.Count} decisions weighs {b.Length} bytes"));
        Assert.All(batches, b => Assert.True(b.Length <= TransportLimits.MaxPeerMessageBytes));
        Assert.Contains(batches, b => b.Count > 1);
        Assert.Contains(batches, b => b.Count == 1 && b.Length > CatchUpBytes);
    }
}
