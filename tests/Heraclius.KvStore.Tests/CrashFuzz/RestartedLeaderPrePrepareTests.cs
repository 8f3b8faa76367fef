using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Tests.Consensus;

namespace Heraclius.KvStore.Tests.CrashFuzz;

/// <summary>
/// Found by the WAL crash fuzzer with FUZZ_STRICT_PREPREPARE=1 (seeds 2, 25, 29): the leader broadcast its
/// signed pre-prepare before its own PrepareSent was durable. A crash in between, and the restarted leader of
/// view 0 (nothing in its WAL said it proposed) signed a second, different pre-prepare for the same (view,
/// height), against design.md's "after a restart it never signs ... a second header for one (view, height)".
/// Followers vote once per view, so no second header could be prepared, but a follower that saw both
/// suspected an honest leader of equivocation and changed view. Now the PrepareSent is durable first, so a
/// crash before it means no pre-prepare left.
/// </summary>
public sealed class RestartedLeaderPrePrepareTests
{
    private static Hash32Of HeaderOf(byte[] prePrepare)
    {
        var r = new Heraclius.KvStore.Encoding.CanonicalReader(Envelope.Open(prePrepare).Body.Span);
        var view = r.U64();
        var proposal = Proposal.Read(ref r);
        return new Hash32Of(view, proposal.Header.Height, proposal.Header.Hash);
    }

    private readonly record struct Hash32Of(ulong View, ulong Height, Heraclius.KvStore.Crypto.Hash32 Hash);

    /// <summary>When the pre-prepare leaves, the leader's PrepareSent for it is already on disk: a crash at any point keeps it or sends nothing.</summary>
    [Fact]
    public void PrePrepareLeavesOnlyOnceTheLeadersPrepareIsDurable()
    {
        var f = new ReplicaFixture();
        var durableAtSend = new List<(Hash32Of PrePrepare, bool PrepareOnDisk)>();
        f.Outboxes[0].OnSend = (_, message) =>
        {
            if ((MessageType)message[0] != MessageType.PrePrepare)
            {
                return;
            }

            var sent = HeaderOf(message);
            var onDisk = f.Wals[0].ReadAll().Any(record =>
            {
                if (record.Type != (byte)Heraclius.KvStore.Consensus.WalRecordType.PrepareSent)
                {
                    return false;
                }

                var r = new Heraclius.KvStore.Encoding.CanonicalReader(record.Payload);
                var view = r.U64();
                var proposal = Proposal.Read(ref r);
                return view == sent.View && proposal.Header.Hash == sent.Hash;
            });
            durableAtSend.Add((sent, onDisk));
        };

        long now = 10;
        for (var i = 0; i < 3; i++, now += 10)
        {
            f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
            f.Replicas[0].Tick(now + 2);
            f.Pump(now + 2);
        }

        Assert.All(f.Replicas, r => Assert.Equal(3UL, r.DecidedHeight));
        Assert.NotEmpty(durableAtSend);
        Assert.All(durableAtSend, s => Assert.True(s.PrepareOnDisk, $"pre-prepare for height {s.PrePrepare.Height} sent before its PrepareSent was durable"));
    }
}
