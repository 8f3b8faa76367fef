using System.Buffers.Binary;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;
using static Heraclius.KvStore.Tests.Consensus.SnapshotFetchScenario;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>What a review of the snapshot fetch across checkpoints (7c79b94) found: each test failed on that build.</summary>
public sealed class SnapshotFetchReviewAttackTests
{
    /// <summary>
    /// A fetch that moved to a newer checkpoint on an answer that was not its round's last used to start with its
    /// timer at 0: the next tick took it for timed out, left the peer that was answering for the next one and then
    /// ignored that peer's remaining answers. Now the move keeps the fetch's progress timer.
    /// </summary>
    [Fact]
    public void AFetchThatMovesOnMidRound_IsNotTakenForTimedOut_OnTheNextTickAtTheSameInstant()
    {
        var f = NodeThreeBehindThePrunedLog(out var now);
        var mark = StatusFromNodeZero(f, ref now);
        var switched = new List<string>();
        var multiRequestRounds = 0;
        for (var exchanges = 0; exchanges < 20 && f.Replicas[3].SnapshotsInstalled == 0; exchanges++)
        {
            var at = now;
            // Every answer comes from a checkpoint newer than the one asked for (the case the change is for).
            var atHeight = f.Replicas[0].DecidedHeight;
            mark = Exchange(f, ref now, mark, rounds: 4, afterEach: (requests, sent) =>
            {
                multiRequestRounds += requests >= 2 ? 1 : 0;
                foreach (var (to, message) in sent)
                {
                    if (TypeOf(message) == MessageType.FetchSnapshot && to != 0)
                    {
                        switched.Add($"exchange {exchanges}: round of {requests} requests, FetchSnapshot to node {to} on a tick with no time passed");
                    }
                }
            });
        }

        Assert.True(multiRequestRounds > 0, "no round had two requests: the scenario did not arise");
        Assert.True(switched.Count == 0, string.Join("\n", switched));
    }

    /// <summary>
    /// A byzantine fetch peer that answers every request at once with the certified headers and QCs and no chunk used to
    /// reset the fetch's timer with each answer: it never timed out, never went to another peer and never ended. Only
    /// a new chunk is progress now.
    /// </summary>
    [Fact]
    public void APeerAnsweringWithNoChunks_DoesNotHoldTheFetchForever()
    {
        var f = NodeThreeBehindThePrunedLog(out var now);
        var mark = StatusFromNodeZero(f, ref now);

        static byte[] NoChunks(byte[] message)
        {
            // The checkpoint's header and QC, then its certifier's.
            var r = new CanonicalReader(message.AsSpan(5));
            _ = DecisionHeader.Read(ref r);
            _ = QuorumCertificate.Read(ref r);
            _ = DecisionHeader.Read(ref r);
            _ = QuorumCertificate.Read(ref r);
            var prefix = message.Length - r.Remaining;
            var result = new byte[prefix + 4];
            message.AsSpan(0, prefix).CopyTo(result);
            return result; // count 0
        }

        var otherPeerAsked = false;
        var start = now;
        for (var i = 0; i < 40 && !otherPeerAsked; i++)
        {
            var before = f.Outboxes[3].Sent.Count;
            mark = Exchange(f, ref now, mark, rounds: 0, NoChunks, (_, _) => { });
            now += 40;
            f.Replicas[3].Tick(now);
            otherPeerAsked = f.Outboxes[3].Sent.Skip(before).Any(s => TypeOf(s.Message) == MessageType.FetchSnapshot && s.To != 0);
        }

        Assert.True(otherPeerAsked, $"after {now - start} ms (4 x ResendIntervalMs = 200) node 3 still asks only the peer that sends no chunks");
        // The empty answers were read as such (well-formed, with valid certificates), not refused.
        Assert.Equal(0, f.Replicas[3].Rejections.GetValueOrDefault(RejectReason.Malformed));
        Assert.Equal(0, f.Replicas[3].Rejections.GetValueOrDefault(RejectReason.InvalidSnapshot));
    }

    // RFC 9162 section 2.1.3.1 PATH(m, D[n]), the reference the per-proof MerkleTree.Prove matched.
    private static List<Hash32> RfcPath(int m, List<Hash32> d)
    {
        if (d.Count <= 1)
        {
            return [];
        }

        var k = 1;
        while (k * 2 < d.Count)
        {
            k *= 2;
        }

        if (m < k)
        {
            var p = RfcPath(m, d[..k]);
            p.Add(MerkleTree.Root(d[k..]));
            return p;
        }
        else
        {
            var p = RfcPath(m - k, d[k..]);
            p.Add(MerkleTree.Root(d[..k]));
            return p;
        }
    }

    [Fact]
    public void MerkleLevelsProve_IsExactlyTheRfc9162AuditPath_For1To140Leaves()
    {
        for (var n = 1; n <= 140; n++)
        {
            var hashes = Enumerable.Range(0, n).Select(i => MerkleTree.LeafHash(BitConverter.GetBytes(i))).ToList();
            var levels = new MerkleLevels(hashes);
            for (var i = 0; i < n; i++)
            {
                var proof = levels.Prove(i);
                Assert.Equal((uint)i, proof.LeafIndex);
                Assert.Equal((uint)n, proof.LeafCount);
                Assert.Equal(RfcPath(i, hashes), proof.Path);
            }
        }
    }
}
