using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Transport;
using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;
using static Heraclius.KvStore.Tests.Decisions.CertifiedDecisionFactory;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A VIEW-CHANGE carries its prepared certificate's inputs, outside what its sender signs, and a NEW-VIEW forwards the
/// VIEW-CHANGEs without them and the forced proposal's inputs once: a view change over proposals near the input bound
/// fits one transport message, where carrying 2f+1 whole proposals and the forced one again took four times that.
/// </summary>
public sealed class ViewChangeByReferenceTests
{
    private const int ValueBytes = 64 * 1024;
    private static readonly int[] NewViewMembers = [1, 2, 3];

    /// <summary>A batch of <paramref name="count"/> puts of 64 KiB values: about <paramref name="count"/> × 64 KiB of inputs.</summary>
    private static ClientBatch LargeBatch(int count, ulong firstSeq) =>
        ClientBatch.Create("client-0", T.ClusterId,
            [.. Enumerable.Range(0, count).Select(i => new ClientRequest(firstSeq + (ulong)i,
                KvOperation.Put(BitConverter.GetBytes(i), Enumerable.Repeat((byte)i, ValueBytes).ToArray()).ToBytes()))],
            T.ClientKeys[0]);

    /// <summary>
    /// Every member prepares the leader's proposal of <paramref name="requests"/> large puts, nobody commits, and the leader
    /// goes silent: members 1-3 change to view 1, whose leader is member 1.
    /// </summary>
    private static (ReplicaFixture F, Proposal Prepared, long Now) PreparedEverywhereThenLeaderSilent(int requests, Func<int, int, byte[], bool>? viewChangeFilter = null)
    {
        var f = new ReplicaFixture();
        f.Replicas[0].SubmitBatch(LargeBatch(requests, 1), signatureVerified: false, 10);
        f.Replicas[0].Tick(12);
        f.Pump(12, (_, _, m) => TypeOf(m) != MessageType.Commit);
        var prepared = f.Replicas[0].AcceptedProposal!;
        Assert.All(f.Replicas, r => Assert.Equal(0UL, r.DecidedHeight));

        var now = 12 + f.Options.ViewChangeTimeoutMs + 1;
        f.SkipAll();
        f.TimeOut(now, 1, 2, 3);
        f.Pump(now, (from, to, m) => from != 0 && to != 0 && (viewChangeFilter?.Invoke(from, to, m) ?? true));
        return (f, prepared, now);
    }

    [Fact]
    public void AViewChangeOverAProposalNearTheInputBound_FitsOneMessage_AndDecidesThePreparedProposal()
    {
        // 60 puts of 64 KiB: about 3.9 MiB of inputs, inside MaxProposalInputBytes (4 MiB).
        var (f, prepared, _) = PreparedEverywhereThenLeaderSilent(60);
        Assert.True(prepared.Inputs.Length > 60 * ValueBytes);

        var viewChange = f.Outboxes[2].OfType(MessageType.ViewChange, to: 1).First();
        var read = ViewChangeMessage.Parse(viewChange);
        Assert.Equal(prepared.Header.Hash, read.Prepared!.Header.Hash);
        Assert.True(read.Prepared.Inputs!.Value.Span.SequenceEqual(prepared.Inputs.Span));
        Assert.True(read.Forwarded.Length < 4096, $"forwarded VIEW-CHANGE is {read.Forwarded.Length} bytes");

        var newView = f.Outboxes[1].OfType(MessageType.NewView, to: 2).Single();
        Assert.True(newView.Length < prepared.Inputs.Length + 16 * 1024, $"NEW-VIEW is {newView.Length} bytes for {prepared.Inputs.Length} of inputs");
        Assert.True(newView.Length < TransportLimits.MaxPeerMessageBytes);
        var nv = NewViewMessage.Parse(newView);
        Assert.Equal(3, nv.ViewChanges.Count);
        Assert.All(nv.ViewChanges, vc => Assert.Null(vc.Prepared!.Inputs));
        Assert.Equal(prepared.Header.Hash, nv.Forced!.Header.Hash);

        foreach (var i in NewViewMembers)
        {
            Assert.Equal((1UL, false), (f.Replicas[i].View, f.Replicas[i].InViewChange));
            Assert.Equal(1UL, f.Replicas[i].DecidedHeight);
            Assert.Equal(prepared.Header.Hash, f.Replicas[i].LastHeaderHash);
            Assert.Equal(0, Rejected(f.Replicas[i], RejectReason.InvalidNewView) + Rejected(f.Replicas[i], RejectReason.InvalidViewChange));
        }

        Assert.Single(NewViewMembers.Select(i => f.Replicas[i].ComputeDecidedStateRoot()).Distinct());
    }

    [Fact]
    public void TheSignature_CoversTheViewChangeWithoutItsInputs()
    {
        var p = Proposal(T, height: 1);
        var sigs = Enumerable.Range(0, 3).Select(i => Sign(T, i, VoteKind.Prepare, 0, p.Header)).ToList();
        var raw = ViewChangeMessage.Encode(2, 1, null, null, new PreparedCertificate(0, p, sigs), T.ClusterId, T.NodeKeys[2]);
        var vc = ViewChangeMessage.Parse(raw);

        Assert.Equal(raw.Length - 4 - p.Inputs.Length, vc.Forwarded.Length);
        Assert.True(Envelope.VerifySignature(vc.Forwarded, T.ClusterId, T.Cluster.Nodes[2].PublicKey));
        Assert.False(Envelope.VerifySignature(raw, T.ClusterId, T.Cluster.Nodes[2].PublicKey));
        var forwarded = ViewChangeMessage.Parse(vc.Forwarded);
        Assert.Null(forwarded.Prepared!.Inputs);
        Assert.Equal(vc.Forwarded, forwarded.Forwarded);
        Assert.Equal(p.Header.Hash, forwarded.Prepared.Header.Hash);

        // Received whole, it is taken like any other.
        var f = new ReplicaFixture();
        f.Replicas[1].OnMessage(2, raw, 10);
        Assert.Empty(f.Replicas[1].Rejections);
    }

    [Fact]
    public void AViewChangeWhoseInputsAreNotItsCertifiedHeaders_IsRefused_ThoughItsSignatureHolds()
    {
        var p = Proposal(T, height: 1);
        var sigs = Enumerable.Range(0, 3).Select(i => Sign(T, i, VoteKind.Prepare, 0, p.Header)).ToList();
        var other = new Proposal(p.Header, p.Inputs.ToArray().Append((byte)0).ToArray(), []);
        var raw = ViewChangeMessage.Encode(2, 1, null, null, new PreparedCertificate(0, other, sigs), T.ClusterId, T.NodeKeys[2]);
        Assert.True(Envelope.VerifySignature(ViewChangeMessage.Parse(raw).Forwarded, T.ClusterId, T.Cluster.Nodes[2].PublicKey));

        var f = new ReplicaFixture();
        f.Replicas[1].OnMessage(2, raw, 10);
        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.InvalidViewChange));
        Assert.Equal(0, Rejected(f.Replicas[1], RejectReason.BadSignature));
    }

    [Fact]
    public void AViewChangeSentByReference_StraightFromItsSender_IsRefused()
    {
        // The leader of the view needs the inputs of the certificate it forces; an honest sender always sends them.
        var p = Proposal(T, height: 1);
        var sigs = Enumerable.Range(0, 3).Select(i => Sign(T, i, VoteKind.Prepare, 0, p.Header)).ToList();
        var byReference = ViewChangeMessage.Parse(ViewChangeMessage.Encode(2, 1, null, null, new PreparedCertificate(0, p, sigs), T.ClusterId, T.NodeKeys[2])).Forwarded;

        var f = new ReplicaFixture();
        f.Replicas[1].OnMessage(2, byReference, 10);
        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.InvalidViewChange));
    }

    [Fact]
    public void ANewViewWhoseForcedInputsAreNotTheCertifiedHeaders_IsRefused_AndItsLeaderLeft()
    {
        // Member 2 never gets the genuine NEW-VIEW; member 1 (the leader of view 1) sends it one with other inputs.
        var (f, prepared, now) = PreparedEverywhereThenLeaderSilent(2, (from, to, m) => !(from == 1 && to == 2 && TypeOf(m) == MessageType.NewView));
        var genuine = NewViewMessage.Parse(f.Outboxes[1].OfType(MessageType.NewView, to: 3).Single());
        var lying = NewViewMessage.Encode(1, 1, genuine.ViewChanges, new ForcedProposal(prepared.Header, prepared.Inputs.ToArray().Append((byte)0).ToArray()),
            T.ClusterId, T.NodeKeys[1]);

        var r = f.Replicas[2];
        Assert.True(r.InViewChange);
        r.OnMessage(1, lying, now + 1);
        Assert.Equal(1, Rejected(r, RejectReason.InvalidNewView));
        Assert.Equal((2UL, true), (r.View, r.InViewChange));

        // Members 1 and 3 entered view 1 by the genuine NEW-VIEW and decided the certified proposal; member 2 learns that
        // decision (their commits of it), never anything the lying NEW-VIEW carried.
        f.Pump(now + 1, (from, to, m) => from != 0 && to != 0 && TypeOf(m) != MessageType.NewView);
        Assert.All(NewViewMembers, i => Assert.Equal(prepared.Header.Hash, f.Replicas[i].LastHeaderHash));
    }

    /// <summary>A VIEW-CHANGE of the version before: its certificate is a whole proposal (form 1), signed with everything.</summary>
    private static byte[] LegacyViewChange(int sender, Proposal proposal, IReadOnlyList<QcSignature> prepares)
    {
        var w = Envelope.Begin(MessageType.ViewChange, sender);
        w.U64(1);
        w.U64(0);
        w.U8(1);
        new PreparedCertificate(0, proposal, prepares).Write(w);
        return Envelope.Finish(w, T.ClusterId, T.NodeKeys[sender]);
    }

    [Fact]
    public void AViewChangeOfTheVersionBefore_IsStillRead_ButFromAPeerIsRefused()
    {
        var p = Proposal(T, height: 1);
        var sigs = Enumerable.Range(0, 3).Select(i => Sign(T, i, VoteKind.Prepare, 0, p.Header)).ToList();
        var legacy = LegacyViewChange(2, p, sigs);

        // What a node's own log may hold from before the upgrade: read, and forwarded as it was signed.
        var vc = ViewChangeMessage.Parse(legacy);
        Assert.True(vc.IsLegacyWhole);
        Assert.Equal(legacy, vc.Forwarded);
        Assert.True(vc.Prepared!.InputsMatch);
        Assert.Equal(p.Header.Hash, vc.Prepared.Header.Hash);

        var f = new ReplicaFixture();
        f.Replicas[1].OnMessage(2, legacy, 10);
        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.InvalidViewChange));
    }

    /// <summary>
    /// Review: a whole proposal's outputs are checked by nobody and were forwarded as they came, so one member padding them
    /// to just under the transport limit made every NEW-VIEW that chose it too large to deliver, view after view.
    /// </summary>
    [Fact]
    public void AByzantineViewChangeWithPaddedOutputs_IsRefused_AndTheNewViewStillFits()
    {
        var f = new ReplicaFixture();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        f.Pump(12, (_, _, m) => TypeOf(m) != MessageType.Commit);
        var prepared = f.Replicas[0].AcceptedProposal!;
        var h = prepared.Header;

        // Member 0 (the silent old leader) sends the certified header, its true inputs and real prepares, with garbage outputs.
        var padded = new Proposal(h, prepared.Inputs, [new OutputGroup("pad", 0, 0, new byte[TransportLimits.MaxPeerMessageBytes - 2048])]);
        var sigs = Enumerable.Range(0, 3).Select(i => new QcSignature(i, VoteSignature(i, 0, h.Height, h.Hash))).ToList();
        var legacy = LegacyViewChange(0, padded, sigs);
        Assert.True(legacy.Length < TransportLimits.MaxPeerMessageBytes);

        var now = 12 + f.Options.ViewChangeTimeoutMs + 1;
        f.SkipAll();
        f.Replicas[1].OnMessage(0, legacy, now);
        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.InvalidViewChange));

        f.TimeOut(now, 1, 2, 3);
        f.Pump(now, (from, to, _) => from != 0 && to != 0);
        var newView = f.Outboxes[1].OfType(MessageType.NewView).First();
        Assert.DoesNotContain(NewViewMessage.Parse(newView).ViewChanges, vc => vc.Sender == 0);
        Assert.True(newView.Length < 64 * 1024, $"NEW-VIEW is {newView.Length} bytes");
        Assert.All(NewViewMembers, i => Assert.Equal(h.Hash, f.Replicas[i].LastHeaderHash));
    }
}
