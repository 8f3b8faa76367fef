using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.StateMachine;

using static Heraclius.KvStore.Tests.Consensus.LargeValueWorkload;
using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Decisions whose outputs are many times their inputs: a leader proposes only the pooled batches whose answers fit the
/// output budget and keeps the rest for the next proposals.
/// </summary>
public sealed class ProposalOutputBudgetTests
{
    private static IReadOnlyList<ClientBatch> BatchesOf(Decision d) => ProposalInputs.Parse(d.Proposal.Inputs).Batches;

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
        var replies = decided.SelectMany(d => d.Proposal.Outputs).Where(g => g.Destination == ClientId)
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
        var replies = decided.SelectMany(d => d.Proposal.Outputs).Where(g => g.Destination == ClientId)
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
}
