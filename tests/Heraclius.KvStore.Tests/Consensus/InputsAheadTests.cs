using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Simulation;
using Heraclius.KvStore.StateMachine;
using Heraclius.Testing.Cluster;

using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A leader sends its inputs ahead of its pre-prepare so that followers execute them while it does. The
/// execution binds nothing: it is kept only for the pre-prepare that carries the same inputs, and lies about
/// them cost a follower a rolled-back execution, never a vote, a view change or a different state.
/// </summary>
public sealed class InputsAheadTests
{

    private static void AssertSameDecidedState(ReplicaFixture f)
    {
        var roots = f.Replicas.Select(r => r.ComputeDecidedStateRoot()).ToList();
        Assert.All(roots, root => Assert.Equal(roots[0], root));
        Assert.All(f.Replicas, r => Assert.Equal(f.Replicas[0].LastHeaderHash, r.LastHeaderHash));
    }

    [Fact]
    public void FollowersExecuteTheInputsAhead_AndThePrePrepareTakesThatExecution()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        f.DecideBatches(0, 3, All);

        Assert.Equal(3, f.Outboxes[0].OfType(MessageType.InputsAhead, to: 1).Count());
        foreach (var i in Followers)
        {
            Assert.Equal(3, f.Replicas[i].InputsAheadExecuted);
            Assert.Equal(3, f.Replicas[i].InputsAheadUsed);
            Assert.Equal(0, f.Replicas[i].InputsAheadWasted);
        }

        Assert.Equal(0, f.Replicas[0].InputsAheadExecuted);
        AssertSameDecidedState(f);
    }

    [Fact]
    public void TheDecisionsAreTheSameWithAndWithoutInputsAhead()
    {
        var ahead = new ReplicaFixture(o => o.SendInputsAhead = true);
        var plain = new ReplicaFixture(o => o.SendInputsAhead = false);
        ahead.DecideBatches(0, 4, All);
        plain.DecideBatches(0, 4, All);

        Assert.Empty(plain.Outboxes[0].OfType(MessageType.InputsAhead));
        Assert.All(plain.Replicas, r => Assert.Equal(0, r.InputsAheadExecuted));
        Assert.Equal(ahead.Replicas[0].RetainedHeaders.Select(h => h.Hash), plain.Replicas[0].RetainedHeaders.Select(h => h.Hash));
        Assert.Equal(ahead.Replicas[2].ComputeDecidedStateRoot(), plain.Replicas[2].ComputeDecidedStateRoot());
    }

    [Fact]
    public void InputsAheadThatThePrePrepareDoesNotCarry_AreRolledBack_AndThePrePrepareIsDecided()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        var genuine = LeaderSendsItsInputsAhead(f);
        var inputs = ProposalInputs.Parse(genuine.Inputs);
        var other = new ProposalInputs(inputs.Timestamp + 1, inputs.Batches).ToBytes();

        // Member 1 gets valid inputs the leader will not propose, and executes them...
        f.Replicas[1].OnMessage(0, InputsAheadMessage.Encode(0, genuine.View, genuine.Height, genuine.PreviousHeader, other), 12);
        Assert.Equal(1, f.Replicas[1].InputsAheadExecuted);

        // ...then the pre-prepare, which carries the genuine ones.
        f.Pump(12, (from, to, m) => !(ReplicaFixture.TypeOf(m) == MessageType.InputsAhead && to == 1));

        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
        Assert.Equal(0, f.Replicas[1].InputsAheadUsed);
        Assert.Equal(1, f.Replicas[1].InputsAheadWasted);
        Assert.Equal(0, Rejected(f.Replicas[1], RejectReason.WrongOutputs) + Rejected(f.Replicas[1], RejectReason.InvalidProposal));
        Assert.All(f.Replicas, r => Assert.Equal(0, r.ViewChangesStarted));
        AssertSameDecidedState(f);
    }

    [Fact]
    public void InputsAheadFromAMemberThatDoesNotLead_AreRefused_AndExecuteNothing()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        var genuine = LeaderSendsItsInputsAhead(f);

        f.Replicas[1].OnMessage(2, InputsAheadMessage.Encode(2, genuine.View, genuine.Height, genuine.PreviousHeader, genuine.Inputs.Span), 12);

        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.InvalidInputsAhead));
        Assert.Equal(0, f.Replicas[1].InputsAheadExecuted);
        Assert.Equal(0UL, f.Replicas[1].DecidedHeight);
    }

    [Fact]
    public void UnparsableOrUnsignedInputsAhead_AreRefusedAndCounted_AndTheRoundGoesOn()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        var genuine = LeaderSendsItsInputsAhead(f);
        var inputs = ProposalInputs.Parse(genuine.Inputs);

        // Cut short: not inputs at all.
        f.Replicas[1].OnMessage(0, InputsAheadMessage.Encode(0, genuine.View, genuine.Height, genuine.PreviousHeader, genuine.Inputs.Span[..10]), 12);
        // A client batch whose signature is not its client's.
        var forged = ClientBatchWithForeignSignature(f);
        f.Replicas[2].OnMessage(0, InputsAheadMessage.Encode(0, genuine.View, genuine.Height, genuine.PreviousHeader,
            new ProposalInputs(inputs.Timestamp, [forged]).ToBytes()), 12);

        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.InvalidInputsAhead));
        Assert.Equal(1, Rejected(f.Replicas[2], RejectReason.InvalidInputsAhead));
        Assert.Equal(0, f.Replicas[1].InputsAheadExecuted + f.Replicas[2].InputsAheadExecuted);

        f.Pump(12, (from, to, m) => !(ReplicaFixture.TypeOf(m) == MessageType.InputsAhead && to is 1 or 2));
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
        Assert.All(f.Replicas, r => Assert.Equal(0, r.ViewChangesStarted));
        AssertSameDecidedState(f);
    }

    [Fact]
    public void InputsAheadOfTheHeightAfterTheUndecidedOne_AreHeld_AndExecutedOnceItIsDecided()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        var commitsTo1 = new List<(int From, byte[] Message)>();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        f.Pump(12, (from, to, m) =>
        {
            if (to == 1 && ReplicaFixture.TypeOf(m) == MessageType.Commit)
            {
                commitsTo1.Add((from, m));
                return false;
            }

            return true;
        });
        Assert.Equal(1UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(0UL, f.Replicas[1].DecidedHeight);

        // The leader goes on to height 2; member 1 still waits for height 1's commits when its inputs arrive.
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 20);
        f.Replicas[0].Tick(22);
        var ahead = f.Outboxes[0].OfType(MessageType.InputsAhead, to: 1).Last();
        Assert.Equal(2UL, ReplicaFixture.InputsAheadOf(ahead).Height);
        f.Replicas[1].OnMessage(0, ahead, 22);
        Assert.Equal(1, f.Replicas[1].InputsAheadExecuted);

        foreach (var (from, m) in commitsTo1)
        {
            f.Replicas[1].OnMessage(from, m, 22);
        }

        Assert.Equal(1UL, f.Replicas[1].DecidedHeight);
        Assert.Equal(2, f.Replicas[1].InputsAheadExecuted);

        f.Pump(22, (from, to, m) => !(ReplicaFixture.TypeOf(m) == MessageType.InputsAhead && to == 1));
        Assert.All(f.Replicas, r => Assert.Equal(2UL, r.DecidedHeight));
        Assert.Equal(2, f.Replicas[1].InputsAheadUsed);
        Assert.Equal(0, f.Replicas[1].InputsAheadWasted);
        AssertSameDecidedState(f);
    }

    [Fact]
    public void ShardsSendTheirInputsAhead_ACoordinatorThatRoutesToThemDoesNot()
    {
        var t = new MultiTopology(1, 2);
        var h = new InMemoryClusters(t.Topology, t.NodeKeys, InMemoryClusters.DefaultOptions());
        h.Run(200);
        var requests = Enumerable.Range(1, 16).Select(i => new ClientRequest((ulong)i, KvOperation.Put(System.Text.Encoding.UTF8.GetBytes($"key-{i}"), "v"u8.ToArray()).ToBytes())).ToList();
        Assert.True(h.Submit("c0", 0, ClientBatch.Create("client-0", "c0", requests, t.ClientKeys[0])).Accepted);
        Assert.True(h.RunUntil(() => requests.All(r => h.ReplyTo("client-0", r.Seq) is not null)));
        Assert.Null(h.Converge());

        Assert.All(h.Replicas["c0"], r => Assert.Equal(0, r.InputsAheadExecuted));
        foreach (var shard in new[] { "s0", "s1" })
        {
            var followers = h.Replicas[shard].Where(r => !r.IsLeader).ToList();
            Assert.All(followers, r => Assert.True(r.InputsAheadUsed > 0, $"{shard}: a follower took no execution ahead"));
            Assert.All(followers, r => Assert.Equal(r.InputsAheadExecuted, r.InputsAheadUsed + r.InputsAheadWasted));
        }
    }

    /// <summary>Leader 0 takes a batch and proposes it at 12 ms; the inputs it sent member 1 ahead of its pre-prepare (nothing delivered yet).</summary>
    private static InputsAhead LeaderSendsItsInputsAhead(ReplicaFixture f)
    {
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        return ReplicaFixture.InputsAheadOf(f.Outboxes[0].OfType(MessageType.InputsAhead, to: 1).Single());
    }

    /// <summary>A batch of client-0's requests signed with a key that is not client-0's.</summary>
    private static Heraclius.KvStore.Client.ClientBatch ClientBatchWithForeignSignature(ReplicaFixture f)
    {
        var genuine = f.Batch();
        using var stranger = Heraclius.KvStore.Crypto.SigningKey.Generate();
        return Heraclius.KvStore.Client.ClientBatch.Create("client-0", ReplicaFixture.T.ClusterId, genuine.Requests, stranger);
    }
}
