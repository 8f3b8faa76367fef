using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Tests.Consensus;
using static Heraclius.KvStore.Tests.CrashFuzz.CatchUpScenario;

namespace Heraclius.KvStore.Tests.CrashFuzz;

/// <summary>
/// A member in view 1, whose NEW-VIEW forces a prepared proposal at height 15, installs a snapshot of 8 (certified at
/// 12) and takes decisions 9..14 after it; while the install is not durable it holds its votes and the messages that
/// would make it sign. A faulty leader's pre-prepare of another header at 15, held meanwhile, is handled before the
/// forced proposal is looked at again: it must be refused (found in review), since a QC for the forced proposal may
/// exist in view 0.
/// </summary>
public sealed class ForcedProposalDuringInstallHoldTests
{
    private readonly ITestOutputHelper _output;

    public ForcedProposalDuringInstallHoldTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void APrePrepareOverTheForcedProposal_HeldDuringAnInstall_IsRefused_AndOnlyTheForcedHeaderIsPrepared()
    {
        var held = new HeldSnapshotStore();
        var f = NodeThreeMissesTwoToFourteen(held, out var now);

        // Members 0, 1 and 2 prepare the leader's height 15 in view 0; no commit leaves, and member 3 sees none of it.
        f.SkipAll();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 1);
        var forced = f.ProposalOf(f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).Last()).Proposal;
        f.Pump(now + 1, (from, to, m) => to != 3 && ReplicaFixture.TypeOf(m) is MessageType.PrePrepare or MessageType.Prepare);
        Assert.All(f.Replicas.Take(3), r => Assert.Equal(14UL, r.DecidedHeight));

        // They time out; member 1 leads view 1 and its NEW-VIEW forces the prepared proposal. Member 3 enters view 1
        // at height 1, too far behind to prepare it.
        now += f.Options.ViewChangeTimeoutMs * 4;
        f.TimeOut(now, 0, 1, 2);
        f.Pump(now, (from, to, m) => ReplicaFixture.TypeOf(m) is MessageType.ViewChange or MessageType.NewView && (to != 3 || from == 1));
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.View));
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);

        // Member 3 installs node 0's snapshot of 8 (certified at 12), then takes 9..14 from its peers; the snapshot's
        // save stays in flight, so its votes are held.
        now += f.Options.ViewChangeTimeoutMs;
        f.SkipAll();
        f.Replicas[3].Tick(now);
        f.Replicas[0].Tick(now);
        f.Pump(now, (from, to, m) => (from == 3 || to == 3) && ReplicaFixture.TypeOf(m) is MessageType.Status or MessageType.FetchDecisions
            or MessageType.DecisionBatch or MessageType.FetchSnapshot or MessageType.SnapshotChunks);
        Assert.Equal(1, f.Replicas[3].SnapshotsInstalled);
        Assert.Equal(14UL, f.Replicas[3].DecidedHeight);
        Assert.True(f.Replicas[3].VotesHeld);
        Assert.Empty(Prepares(f, 3, 15));

        // The leader of view 1, faulty, proposes another header at 15 to member 3; held with the votes.
        var twin = Heraclius.Testing.Faults.ByzantineRewriter.Twin(forced);
        f.Replicas[3].OnMessage(1, PrePrepareMessage.Sign(ReplicaFixture.T.ClusterId, 1, 1, twin, ReplicaFixture.T.NodeKeys[1]), now + 1);

        held.Release();
        f.Replicas[3].Tick(now + 2);
        Assert.False(f.Replicas[3].VotesHeld);
        var prepares = Prepares(f, 3, 15);
        _output.WriteLine($"member 3's prepares for 15: {string.Join(", ", prepares.Select(p => $"view {p.View} {p.Hash}"))}; rejections {string.Join(" ", f.Replicas[3].Rejections.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Assert.DoesNotContain(prepares, p => p.Hash == twin.Header.Hash);
        Assert.Equal(1, f.Replicas[3].Rejections.GetValueOrDefault(RejectReason.InvalidProposal));
    }
}
