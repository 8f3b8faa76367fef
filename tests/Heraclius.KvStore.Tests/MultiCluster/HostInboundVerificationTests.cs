using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Transport;
using Heraclius.Testing.Cluster;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>
/// A node's host verifies each inbound compact decision its subscriptions deliver once: the identical
/// copy a second source node serves is not verified again, and any copy whose bytes differ is.
/// </summary>
public sealed class HostInboundVerificationTests
{
    private static readonly MultiTopology T = new(1, 2);

    // A group after a gap (prevHeight 5, the cursor at 0) stays pooled, so a second copy is not stale at the
    // host whenever the replica thread gets to the first: only the host's own memory can spare its check.
    private static OutputGroup[] Groups(string value) =>
        [CertifiedGroups.Group("s0", 5, CertifiedGroups.PutMessage("k", value)), CertifiedGroups.Group("s1", 0, CertifiedGroups.PutMessage("other", "v"))];

    private static CompactDecision Honest() => CertifiedGroups.Compact(T, "c0", 9, Groups("v"), 0);

    // Same header, QC and proof; another payload.
    private static CompactDecision WithForgedPayload(CompactDecision honest) =>
        new(honest.Header, honest.Qc, honest.Group with { Payload = Groups("forged")[0].Payload }, honest.Proof);

    [Fact]
    public async Task TheSameGroupFromASecondSource_IsNotVerifiedAgain()
    {
        await using var node = HostOfS0();
        var bytes = Honest().ToBytes();

        Assert.Equal(InboundVerdict.Ahead, node.Offer("c0", bytes.ToArray()));
        Assert.Equal(InboundVerdict.Ahead, node.Offer("c0", bytes.ToArray()));

        Assert.Equal(1, node.InboundVerifications);
    }

    [Fact]
    public async Task ACopyThatDiffers_IsVerifiedAndRefused_AfterTheHonestOne()
    {
        await using var node = HostOfS0();
        var honest = Honest();
        Assert.Equal(InboundVerdict.Ahead, node.Offer("c0", honest.ToBytes()));

        var altered = WithForgedPayload(honest);
        Assert.Equal(InboundVerdict.Invalid, node.Offer("c0", altered.ToBytes()));

        // The honest header and group with one QC signature dropped: a QC of too few signers.
        var weakQc = new QuorumCertificate(honest.Qc.View, [.. honest.Qc.Signatures.Take(T.Topology.Cluster("c0").Quorum - 1)]);
        Assert.Equal(InboundVerdict.Invalid, node.Offer("c0", new CompactDecision(honest.Header, weakQc, honest.Group, honest.Proof).ToBytes()));

        Assert.Equal(3, node.InboundVerifications);
        Assert.Equal(InboundVerdict.Invalid, node.Offer("c0", altered.ToBytes()));
        Assert.Equal(4, node.InboundVerifications);
    }

    [Fact]
    public async Task ACopyWithAnotherSourceNodesQc_ChecksOnlyTheSignaturesNotSeenBefore_AndABadOneAmongThemIsRefused()
    {
        await using var node = HostOfS0();
        var quorum = T.Topology.Cluster("c0").Quorum;
        Assert.Equal(3, quorum);
        Assert.Equal(InboundVerdict.Ahead, node.Offer("c0", CertifiedGroups.Compact(T, "c0", 9, Groups("v"), 0, signers: [0, 1, 2]).ToBytes()));
        Assert.Equal(0, node.InboundSignaturesRemembered);

        // Another source node's QC of the same header: members 1 and 2 were checked in the first copy.
        var second = CertifiedGroups.Compact(T, "c0", 9, Groups("v"), 0, signers: [1, 2, 3]);
        Assert.Equal(InboundVerdict.Ahead, node.Offer("c0", second.ToBytes()));
        Assert.Equal(2, node.InboundSignaturesRemembered);
        Assert.Equal(2, node.InboundVerifications);

        // A remembered signer does not vouch for another signature of its: member 1's forged, the QC is refused.
        var sigs = second.Qc.Signatures.ToList();
        var forged = sigs[0].Signature.ToArray();
        forged[5] ^= 1;
        sigs[0] = new QcSignature(sigs[0].Signer, forged);
        var withForged = new CompactDecision(second.Header, new QuorumCertificate(second.Qc.View, sigs), second.Group, second.Proof);
        Assert.Equal(InboundVerdict.Invalid, node.Offer("c0", withForged.ToBytes()));
        Assert.Equal(3, node.InboundVerifications);
    }

    [Fact]
    public async Task AGroupAPeerForwardedFirst_IsNotVerifiedAgainWhenTheSubscriptionDeliversIt()
    {
        await using var node = HostOfS0();
        var bytes = Honest().ToBytes();

        // The replica verifies a forwarded group itself (as it does a group in the leader's proposal).
        node.OnPeerMessage(0, Forward(bytes));
        Assert.Equal(1, await node.QueryAsync(r => r.InboundPooled));
        Assert.Equal(1, node.InboundVerifications);

        Assert.Equal(InboundVerdict.Ahead, node.Offer("c0", bytes.ToArray()));
        Assert.Equal(1, node.InboundVerifications);
    }

    [Fact]
    public async Task AForgedForward_IsRefusedAndNotRemembered()
    {
        await using var node = HostOfS0();
        var honest = Honest();
        var altered = WithForgedPayload(honest);

        node.OnPeerMessage(0, Forward(altered.ToBytes()));
        Assert.Equal(0, await node.QueryAsync(r => r.InboundPooled));
        Assert.Equal(1, node.InboundVerifications);

        // The same forged bytes from a subscription are checked again and refused; the honest group is accepted.
        Assert.Equal(InboundVerdict.Invalid, node.Offer("c0", altered.ToBytes()));
        Assert.Equal(2, node.InboundVerifications);
        Assert.Equal(InboundVerdict.Ahead, node.Offer("c0", honest.ToBytes()));
        Assert.Equal(3, node.InboundVerifications);
    }

    [Fact]
    public void TheCache_StartsOverPastItsCapacity()
    {
        var cache = new VerifiedGroupCache();
        var first = Crypto.Hash32.Of([0]);
        Assert.True(cache.Verify(first, () => true));
        Assert.True(cache.Contains(first));
        for (var i = 1; i <= VerifiedGroupCache.Capacity; i++)
        {
            cache.Verify(Crypto.Hash32.Of(BitConverter.GetBytes(i)), () => true);
        }

        Assert.False(cache.Contains(first));
    }

    [Fact]
    public async Task TheCache_ChecksAGroupOnce_WhenSeveralThreadsAskAtTheSameMoment_AndKeepsOnlyValidVerdicts()
    {
        // Waiters wait as long as the test holds the first check (the production bound is for a stalled thread).
        var cache = new VerifiedGroupCache(TimeSpan.FromSeconds(30));

        // Eight subscriptions deliver the same valid group together: one checks, the others wait for its verdict.
        var digest = Crypto.Hash32.Of([1]);
        var (verdicts, checks) = await AskTogether(cache, digest, verdict: true);
        Assert.All(verdicts, Assert.True);
        Assert.Equal(1, checks);
        Assert.True(cache.Contains(digest));

        // An invalid one: every asker of that moment gets the refusal, and it is not remembered (a later copy is checked again).
        var forged = Crypto.Hash32.Of([2]);
        (verdicts, checks) = await AskTogether(cache, forged, verdict: false);
        Assert.All(verdicts, Assert.False);
        Assert.Equal(1, checks);
        Assert.False(cache.Contains(forged));
        var again = 0;
        Assert.False(cache.Verify(forged, () =>
        {
            again++;
            return false;
        }));
        Assert.Equal(1, again);
    }

    /// <summary>Eight threads ask about <paramref name="digest"/> while the first check is held open; the verdicts, and how many checks ran.</summary>
    private static async Task<(bool[] Verdicts, int Checks)> AskTogether(VerifiedGroupCache cache, Crypto.Hash32 digest, bool verdict)
    {
        var checks = 0;
        using var gate = new ManualResetEventSlim(false);
        bool Slow()
        {
            Interlocked.Increment(ref checks);
            gate.Wait(TimeSpan.FromSeconds(5));
            return verdict;
        }

        var asks = Enumerable.Range(0, 8).Select(_ => OnItsOwnThread(() => cache.Verify(digest, Slow))).ToList();
        while (Volatile.Read(ref checks) == 0)
        {
            await Task.Delay(1, TestContext.Current.CancellationToken);
        }

        await Task.Delay(20, TestContext.Current.CancellationToken);
        gate.Set();
        return (await Task.WhenAll(asks), Volatile.Read(ref checks));
    }

    // A thread of its own, as each subscription has: pool threads blocked in the test's slow check would starve the pool.
    private static Task<bool> OnItsOwnThread(Func<bool> ask) =>
        Task.Factory.StartNew(ask, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static ReplicaHost HostOfS0()
    {
        var host = new ReplicaHost(T.Topology, "s0");
        var cluster = T.Topology.Cluster("s0");
        var replica = new Replica(T.Topology, "s0", 1, T.NodeKeys["s0"][1], ClusterNode.DefaultService(T.Topology, cluster), new MemoryWriteAheadLog(), new MemorySnapshotStore(), host);
        host.Start(replica, new Unconnected(), maxPoolBatches: 64);
        return host;
    }

    // A peer's forward of an inbound group, as Replica.ForwardInboundMessage frames it.
    private static byte[] Forward(ReadOnlySpan<byte> group)
    {
        var w = Envelope.Begin(MessageType.ForwardInbound, 0, 64 + group.Length);
        w.Bytes(group);
        return w.Detach();
    }

    /// <summary>No peers: these tests exercise only what the host does with a subscription's frames.</summary>
    private sealed class Unconnected : IPeerNetwork
    {
        public void Send(int toNodeIndex, ReadOnlyMemory<byte> message)
        {
        }
    }
}
