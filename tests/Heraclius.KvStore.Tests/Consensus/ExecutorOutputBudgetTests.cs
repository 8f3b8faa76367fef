using Heraclius.KvStore.Client;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Xunit;

using static Heraclius.KvStore.Tests.Consensus.LargeValueWorkload;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A proposal's inputs are bounded but its answers are not (a Get of a 64 KiB value is a few dozen bytes): past the
/// output budget execution starts no more client requests and answers them overloaded, stored and final for their ids.
/// </summary>
public sealed class ExecutorOutputBudgetTests
{
    private const int Budget = 1024 * 1024;

    // A Get's answer besides the value: seq ‖ H(request) ‖ status ‖ result length, then the KV result's status ‖ version ‖ length.
    private const int ReplyOverhead = 8 + 32 + 1 + 4 + 1 + 8 + 4;

    private static Executor NewExecutor(int budget = Budget) =>
        new(new KeyValueService(), 64, RoutingSettings.For(ReplicaFixture.T.Topology, ReplicaFixture.T.ClusterId, 64), budget);

    private static IEnumerable<KvOperation> Gets(int count) => Enumerable.Range(0, count).Select(i => KvOperation.Get(Keys[i % Keys.Length]));

    /// <summary>A state holding a 64 KiB value under each key (decided at height 1; requests 1..4 used).</summary>
    private static ReplicatedState StateWithValues(Executor executor)
    {
        var state = new ReplicatedState(64);
        executor.Execute(state, 1, new ProposalInputs(1000, [Puts()]), stateRoot: default).Transaction.Complete();
        return state;
    }

    private static List<ClientReply> Replies(ExecutionResult result) =>
        ClientReply.DecodeGroup(Assert.Single(result.Outputs, g => g.Destination == ClientId).Payload.Span);

    private static long OutputBytes(ExecutionResult result) => result.Outputs.Sum(g => (long)g.EncodedLength);

    [Fact]
    public void GetsOfLargeValuesPastTheBudget_TheFirstAnswerTheirValues_TheRestAreOverloaded_AndTheOutputsStayNearTheBudget()
    {
        var executor = NewExecutor();
        var state = StateWithValues(executor);
        const int count = 40; // 40 × 64 KiB of answers: two and a half budgets
        var result = executor.Execute(state, 2, new ProposalInputs(2000, [BatchOf(5, Gets(count))]), stateRoot: default);

        var replies = Replies(result);
        Assert.Equal(count, replies.Count);
        var executed = replies.TakeWhile(r => r.Status == ReplyStatus.Executed).ToList();
        Assert.InRange(executed.Count, 1, count - 1);
        Assert.All(replies.Skip(executed.Count), r => Assert.Equal(ReplyStatus.Overloaded, r.Status));
        Assert.All(replies.Skip(executed.Count), r => Assert.Empty(r.Result));
        for (var i = 0; i < executed.Count; i++)
        {
            var kv = KvResult.Parse(executed[i].Result);
            Assert.Equal(KvStatus.Ok, kv.Status);
            Assert.Equal(ValueOf(i % Keys.Length), kv.Value);
        }

        // Requests start while the outputs are under the budget, so they pass it by at most the last one started, plus the
        // small refusals after it.
        var bytes = OutputBytes(result);
        Assert.True(bytes >= Budget, $"outputs {bytes} stopped short of the budget");
        Assert.True(bytes <= Budget + KvOperation.MaxValueBytes + (count * ReplyOverhead) + 256, $"outputs {bytes} passed the budget by more than one answer");
        Assert.Equal(0, result.FirstBatchOverBudget);
    }

    [Fact]
    public void ARequestTheBudgetRefused_IsOverloadedAgainWhenRepeated_AndNeverRuns()
    {
        var executor = NewExecutor();
        var state = StateWithValues(executor);
        var newKey = "never-written"u8.ToArray();
        // 20 Gets fill the budget; the Put after them is refused.
        var batch = BatchOf(5, [.. Gets(20), KvOperation.Put(newKey, [1, 2, 3])]);
        var first = executor.Execute(state, 2, new ProposalInputs(2000, [batch]), stateRoot: default);
        first.Transaction.Complete();
        var refused = Replies(first).Where(r => r.Status == ReplyStatus.Overloaded).Select(r => r.Seq).ToHashSet();
        Assert.Contains(batch.Requests[^1].Seq, refused);

        // The refused requests again (a client's late copy), in a small proposal: under the budget now, but the refusal
        // was final for those ids, so none of them runs.
        var copy = ClientBatch.Create(ClientId, ReplicaFixture.T.ClusterId, [.. batch.Requests.Where(r => refused.Contains(r.Seq))], ReplicaFixture.T.ClientKeys[0]);
        var again = executor.Execute(state, 3, new ProposalInputs(3000, [copy]), stateRoot: default);
        again.Transaction.Complete();
        var replies = Replies(again);
        Assert.Equal(refused.Count, replies.Count);
        Assert.All(replies, r => Assert.Equal(ReplyStatus.Overloaded, r.Status));
        Assert.Equal(-1, again.FirstBatchOverBudget);

        var get = executor.Execute(state, 4, new ProposalInputs(4000, [BatchOf(100, [KvOperation.Get(newKey)])]), stateRoot: default);
        Assert.Equal(KvStatus.NotFound, KvResult.Parse(Assert.Single(Replies(get)).Result).Status);
    }

    [Fact]
    public void TwoExecutorsOnEqualStates_RefuseTheSameRequests_WithByteIdenticalOutputsAndStates()
    {
        var a = NewExecutor();
        var b = NewExecutor();
        var stateA = StateWithValues(a);
        var stateB = StateWithValues(b);
        var inputs = new ProposalInputs(2000, [BatchOf(5, Gets(12)), BatchOf(17, Gets(12)), BatchOf(29, Gets(12))]);

        var ra = a.Execute(stateA, 2, inputs, stateRoot: default);
        var rb = b.Execute(stateB, 2, ProposalInputs.Parse(inputs.ToBytes()), stateRoot: default);

        Assert.Contains(Replies(ra), r => r.Status == ReplyStatus.Overloaded);
        Assert.Equal(ra.Outputs.Select(g => g.ToBytes()), rb.Outputs.Select(g => g.ToBytes()));
        Assert.Equal(ra.FirstBatchOverBudget, rb.FirstBatchOverBudget);
        ra.Transaction.Complete();
        rb.Transaction.Complete();
        Assert.Equal(stateA.ComputeRoot(), stateB.ComputeRoot());
    }

    [Fact]
    public void FirstBatchOverBudget_IsTheBatchInWhichTheBudgetWasReached_OrNoneUnderIt()
    {
        var executor = NewExecutor();
        var state = StateWithValues(executor);

        // 12 answers of 64 KiB (768 KiB) fit; the second batch reaches the budget; the third never starts a request.
        var over = executor.Execute(state, 2, new ProposalInputs(2000, [BatchOf(5, Gets(12)), BatchOf(17, Gets(12)), BatchOf(29, Gets(12))]), stateRoot: default);
        Assert.Equal(1, over.FirstBatchOverBudget);
        var replies = Replies(over);
        Assert.All(replies.Take(12), r => Assert.Equal(ReplyStatus.Executed, r.Status));
        Assert.All(replies.Skip(24), r => Assert.Equal(ReplyStatus.Overloaded, r.Status));
        over.Transaction.Rollback();

        var under = executor.Execute(state, 2, new ProposalInputs(2000, [BatchOf(5, Gets(12))]), stateRoot: default);
        Assert.Equal(-1, under.FirstBatchOverBudget);
        Assert.All(Replies(under), r => Assert.Equal(ReplyStatus.Executed, r.Status));
        under.Transaction.Rollback();
    }

    [Fact]
    public void RepeatsOfAnAnsweredRequestPastTheBudget_AreWithheld_NeverCalledOverloaded()
    {
        var executor = NewExecutor();
        var state = StateWithValues(executor);
        var get = BatchOf(5, [KvOperation.Get(Keys[0])]);
        executor.Execute(state, 2, new ProposalInputs(2000, [get]), stateRoot: default).Transaction.Complete();

        // One answered id repeated 40 times in a batch: each repeat would replay the stored 64 KiB answer.
        var repeats = ClientBatch.Create(ClientId, ReplicaFixture.T.ClusterId, [.. Enumerable.Repeat(get.Requests[0], 40)], ReplicaFixture.T.ClientKeys[0]);
        var result = executor.Execute(state, 3, new ProposalInputs(3000, [repeats]), stateRoot: default);

        var replies = Replies(result);
        Assert.InRange(replies.Count, 1, 39);
        Assert.All(replies, r => Assert.Equal(ReplyStatus.Executed, r.Status));
        Assert.All(replies, r => Assert.Equal(ValueOf(0), KvResult.Parse(r.Result).Value));
        Assert.True(OutputBytes(result) <= Budget + KvOperation.MaxValueBytes + ReplyOverhead + 256);
        Assert.Equal(0, result.FirstBatchOverBudget);
    }
}
