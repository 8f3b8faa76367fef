using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A height writes its proposal to the WAL whole once; the commit and decision records after it name it
/// by reference when the log already holds it, and recovery resolves every reference exactly.
/// </summary>
public sealed class WalReferenceTests
{
    private static readonly Heraclius.KvStore.Tests.Simulation.TestTopology T = ReplicaFixture.T;

    /// <summary>Node 0 (the leader of view 0) proposes one client batch; the messages go through <paramref name="filter"/>.</summary>
    private static void Round(ReplicaFixture f, long now, Func<int, int, byte[], bool>? filter = null)
    {
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        f.Pump(now + 2, filter);
    }

    /// <summary>The types of node <paramref name="i"/>'s WAL records, after making its buffered ones durable.</summary>
    private static List<WalRecordType> RecordTypes(ReplicaFixture f, int i) => f.RecordTypes(i);

    private static byte[] FetchDecisions(int sender, ulong fromHeight)
    {
        var w = Envelope.Begin(MessageType.FetchDecisions, sender, 32);
        w.U64(fromHeight);
        w.U32(16);
        return w.ToArray();
    }

    [Fact]
    public void Round_WritesTheProposalOnce_ThenRefersToIt_AndRestartResolvesTheReferences()
    {
        var f = new ReplicaFixture();
        Round(f, 10);
        var expectedRoot = f.Replicas[2].ComputeDecidedStateRoot();

        Assert.Equal([WalRecordType.PrepareSent, WalRecordType.CommitSentRef, WalRecordType.DecisionRef], RecordTypes(f, 2));
        var restarted = f.Boot(2, 100);

        Assert.Equal(1UL, restarted.DecidedHeight);
        Assert.Equal(f.Replicas[0].LastHeaderHash, restarted.LastHeaderHash);
        Assert.Equal(expectedRoot, restarted.ComputeDecidedStateRoot());
    }

    /// <summary>
    /// A crash after the commit vote: the certificate comes back from its reference with the whole
    /// proposal (a VIEW-CHANGE carries it), and the decision made after the restart refers to the
    /// PrepareSent written before the crash.
    /// </summary>
    [Fact]
    public void CrashAfterTheCommitReference_RecoversTheCertificateWithItsProposal_AndLaterReferencesResolveAcrossTheRestart()
    {
        var f = new ReplicaFixture();
        Round(f, 10, (from, to, m) => !(ReplicaFixture.TypeOf(m) == MessageType.Commit && to == 2));
        var decided = f.Outboxes[0].Decisions.Single();
        Assert.Equal(0UL, f.Replicas[2].DecidedHeight);
        Assert.Equal([WalRecordType.PrepareSent, WalRecordType.CommitSentRef], RecordTypes(f, 2));

        f.Wals[2].Crash();
        var restarted = f.Boot(2, 20);
        foreach (var peer in new[] { 0, 1 })
        {
            restarted.OnMessage(peer, ViewChangeMessage.Encode(peer, 1, null, null, null, T.ClusterId, T.NodeKeys[peer]), 21);
        }

        var viewChange = ViewChangeMessage.Parse(f.Outboxes[2].OfType(MessageType.ViewChange).First());
        Assert.NotNull(viewChange.Prepared);
        Assert.Equal(0UL, viewChange.Prepared.View);
        Assert.Equal(decided.Header.Hash, viewChange.Prepared.Header.Hash);
        Assert.Equal(decided.Proposal.Inputs.ToArray(), viewChange.Prepared.Inputs!.Value.ToArray());

        // The peers' commits of view 0 still form the QC; the node decides from the proposal it recovered.
        foreach (var peer in new[] { 0, 1, 3 })
        {
            restarted.OnMessage(peer, f.Outboxes[peer].OfType(MessageType.Commit, to: 2).First(), 22);
        }

        Assert.Equal(1UL, restarted.DecidedHeight);
        Assert.Equal(WalRecordType.DecisionRef, RecordTypes(f, 2)[^1]);
        var again = f.Boot(2, 30);
        Assert.Equal(1UL, again.DecidedHeight);
        Assert.Equal(decided.Header.Hash, again.LastHeaderHash);
    }

    /// <summary>
    /// A log written before references existed holds the certificate whole (<see cref="WalRecordType.CommitSent"/>):
    /// it is still read, and the records appended after it may refer to the proposal it holds.
    /// </summary>
    [Fact]
    public void CertificateWrittenWhole_AsBeforeReferences_IsStillRecovered()
    {
        var f = new ReplicaFixture();
        Round(f, 10, (from, to, m) => !(ReplicaFixture.TypeOf(m) == MessageType.Commit && to == 2));
        var decided = f.Outboxes[0].Decisions.Single();
        f.Wals[2].Flush();
        var whole = f.Wals[2].ReadAll().Where(r => r.Type != (byte)WalRecordType.Started).Select(r => Whole(r, decided.Proposal)).ToList();
        Assert.Equal([(byte)WalRecordType.PrepareSent, (byte)WalRecordType.CommitSent], whole.Select(r => r.Type));
        f.Wals[2].Rewrite(whole);

        var restarted = f.Boot(2, 20);
        foreach (var peer in new[] { 0, 1 })
        {
            restarted.OnMessage(peer, ViewChangeMessage.Encode(peer, 1, null, null, null, T.ClusterId, T.NodeKeys[peer]), 21);
        }

        var viewChange = ViewChangeMessage.Parse(f.Outboxes[2].OfType(MessageType.ViewChange).First());
        Assert.Equal(decided.Header.Hash, viewChange.Prepared!.Header.Hash);
        Assert.Equal(decided.Proposal.Inputs.ToArray(), viewChange.Prepared.Inputs!.Value.ToArray());
        foreach (var peer in new[] { 0, 1, 3 })
        {
            restarted.OnMessage(peer, f.Outboxes[peer].OfType(MessageType.Commit, to: 2).First(), 22);
        }

        Assert.Equal(WalRecordType.DecisionRef, RecordTypes(f, 2)[^1]);
        Assert.Equal(decided.Header.Hash, f.Boot(2, 30).LastHeaderHash);
    }

    /// <summary>A commit record rewritten in the whole form every earlier version wrote: u64 view ‖ proposal ‖ QC of the prepares.</summary>
    private static WalRecord Whole(WalRecord record, Proposal proposal)
    {
        if (record.Type != (byte)WalRecordType.CommitSentRef)
        {
            return record;
        }

        var r = new KvStore.Encoding.CanonicalReader(record.Payload);
        var view = r.U64();
        Assert.Equal(proposal.Header.Hash, ProposalReference.Read(ref r).HeaderHash);
        var prepares = QuorumCertificate.Read(ref r);
        r.End();
        var w = new KvStore.Encoding.CanonicalWriter();
        new PreparedCertificate(view, proposal, prepares.Signatures).Write(w);
        return new WalRecord((byte)WalRecordType.CommitSent, w.ToArray());
    }

    [Fact]
    public void ReferenceWithNoEarlierRecordHoldingItsProposal_IsReportedAsCorruption()
    {
        var f = new ReplicaFixture();
        Round(f, 10);
        f.Wals[2].Flush();
        var records = f.Wals[2].ReadAll();
        var prepare = records.Single(r => r.Type == (byte)WalRecordType.PrepareSent);
        var references = records.Where(r => r.Type != (byte)WalRecordType.PrepareSent).ToList();

        // The record holding the proposal is gone.
        f.Wals[2].Rewrite(references);
        var missing = Assert.Throws<WalCorruptedException>(() => f.Boot(2, 100));
        Assert.Contains(nameof(WalRecordType.CommitSentRef), missing.Message, StringComparison.Ordinal);

        // It is there, but only after the references: a reference never looks ahead.
        f.Wals[2].Rewrite([.. references, prepare]);
        Assert.Throws<WalCorruptedException>(() => f.Boot(2, 100));

        f.Wals[2].Rewrite([prepare, .. references]);
        Assert.Equal(1UL, f.Boot(2, 100).DecidedHeight);
    }

    [Fact]
    public void DecisionLearnedByCatchUp_OfAProposalThisNodeNeverSaw_IsWrittenWhole_AndRecovers()
    {
        var f = new ReplicaFixture();
        Round(f, 10, (from, to, m) => from != 3 && to != 3);
        Assert.Equal(0UL, f.Replicas[3].DecidedHeight);

        f.Replicas[0].OnMessage(3, FetchDecisions(3, 1), 20);
        f.Pump(20, (from, to, m) => from == 0 && to == 3);

        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        Assert.Equal([WalRecordType.Decision], RecordTypes(f, 3));
        var restarted = f.Boot(3, 30);
        Assert.Equal(1UL, restarted.DecidedHeight);
        Assert.Equal(f.Replicas[0].LastHeaderHash, restarted.LastHeaderHash);
    }

    [Fact]
    public void DecisionLearnedByCatchUp_OfAProposalThisNodePrepared_RefersToItsPrepareRecord()
    {
        var f = new ReplicaFixture();
        Round(f, 10, (from, to, m) => from != 3 && (to != 3 || ReplicaFixture.TypeOf(m) == MessageType.PrePrepare));
        Assert.Equal(0UL, f.Replicas[3].DecidedHeight);
        Assert.Equal([WalRecordType.PrepareSent], RecordTypes(f, 3));

        f.Replicas[0].OnMessage(3, FetchDecisions(3, 1), 20);
        f.Pump(20, (from, to, m) => from == 0 && to == 3);

        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        Assert.Equal([WalRecordType.PrepareSent, WalRecordType.DecisionRef], RecordTypes(f, 3));
        var restarted = f.Boot(3, 30);
        Assert.Equal(1UL, restarted.DecidedHeight);
        Assert.Equal(f.Replicas[0].LastHeaderHash, restarted.LastHeaderHash);
    }
}
