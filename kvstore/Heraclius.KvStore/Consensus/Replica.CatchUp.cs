using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Consensus;

// Catch-up: decisions with QCs from any peer, or a snapshot verified chunk by chunk against a certified state root.
public sealed partial class Replica
{
    private const int MaxCatchUpBytes = 8 * 1024 * 1024;
    private const long Never = -(1L << 40);
    private long _catchUpRequestedAt = Never;
    private SnapshotFetch? _snapshotFetch;
    private long _catchUpAttempts;
    private int _catchUpPeer;
    private int _catchUpAskedPeer = -1;
    private long _catchUpAskedAt = Never;
    private readonly Dictionary<int, long> _helpedAt = [];

    /// <summary>
    /// Asks a peer for the decisions after ours. Every other request goes to the next peer in turn
    /// instead of the suggested one, so a byzantine member that keeps claiming to be ahead (and then
    /// never answers) cannot monopolise our catch-up.
    /// </summary>
    private void RequestCatchUp(int suggested)
    {
        if (_snapshotFetch is not null || _now - _catchUpRequestedAt < _options.ResendIntervalMs)
        {
            return;
        }

        var peer = (++_catchUpAttempts & 1) == 0 || suggested == _self ? (_catchUpPeer = NextPeer(_catchUpPeer)) : suggested;
        _catchUpRequestedAt = _now;
        _catchUpAskedPeer = peer;
        _catchUpAskedAt = _now;
        var w = Envelope.Begin(MessageType.FetchDecisions, _self, 32);
        w.U64(_decided + 1);
        w.U32((uint)_options.CatchUpBatch);
        Send(peer, w.ToArray());
    }

    private void HelpLaggingPeer(int peer, ulong height)
    {
        if (_helpedAt.TryGetValue(peer, out var at) && _now - at < _options.ResendIntervalMs)
        {
            return;
        }

        _helpedAt[peer] = _now;
        SendDecisions(peer, height, _options.CatchUpBatch);
    }

    private void OnFetchDecisions(int from, ReadOnlyMemory<byte> body)
    {
        var r = new CanonicalReader(body.Span);
        var fromHeight = r.U64();
        var max = (int)Math.Min(r.U32(), (uint)_options.CatchUpBatch);
        r.End();
        SendDecisions(from, fromHeight, max);
    }

    private void SendDecisions(int to, ulong fromHeight, int max)
    {
        var w = Envelope.Begin(MessageType.DecisionBatch, _self, 4096);
        var first = _log.Count == 0 ? _decided + 1 : _log[0].Height;
        var decisions = new List<Decision>();
        if (fromHeight >= first && fromHeight <= _decided)
        {
            // Decisions travel lean (header, inputs, QC: the outputs, which may be many times the inputs, are the receiver's
            // own execution), counted at their lean size, and a reply holds at least one: it stays inside one transport
            // message whenever a decision's inputs do.
            var bytes = 0L;
            for (var i = (int)(fromHeight - first); i < _log.Count && decisions.Count < max; i++)
            {
                var size = 4L + CatchUpDecision.LeanLength(_log[i]);
                if (decisions.Count > 0 && bytes + size > MaxCatchUpBytes)
                {
                    break;
                }

                decisions.Add(_log[i]);
                bytes += size;
            }
        }

        // When the peer needs what we pruned, point it at our snapshot.
        var snapshotHeight = fromHeight < first && _checkpoint is not null ? _checkpoint.Height : 0;
        if (decisions.Count == 0 && snapshotHeight == 0)
        {
            return;
        }

        w.U64(snapshotHeight);
        w.U32((uint)decisions.Count);
        foreach (var d in decisions)
        {
            CatchUpDecision.WriteLean(w, d);
        }

        Send(to, w.ToArray());
    }

    private void OnDecisionBatch(int from, ReadOnlyMemory<byte> body)
    {
        var r = new CanonicalReader(body.Span);
        var snapshotHeight = r.U64();
        var count = r.Count(1024);
        var decisions = new CatchUpDecision[count];
        for (var i = 0; i < count; i++)
        {
            decisions[i] = CatchUpDecision.Read(r.BytesSpan(MaxCatchUpBytes + Proposal.MaxInputBytes));
        }

        r.End();
        _catchUpRequestedAt = Never;
        var progressed = false;
        foreach (var d in decisions)
        {
            if (d.Height <= _decided)
            {
                continue;
            }

            if (d.Height != _decided + 1)
            {
                // A reply to an older request, or help sent past our gap: ask for what we miss.
                break;
            }

            if (!IsValidDecision(d))
            {
                Reject(RejectReason.InvalidDecision, from);
                return;
            }

            if (d.Whole is { } whole)
            {
                Decide(whole, d.Qc);
            }
            else
            {
                DecideFromInputs(d.Header, d.Inputs, d.Qc);
            }

            progressed = true;
        }

        // A snapshot pointer is taken only in answer to our own recent request, and only at a checkpoint
        // height: an unsolicited one could otherwise park this node in a fetch that never completes.
        var solicited = from == _catchUpAskedPeer && _now - _catchUpAskedAt <= 4L * _options.ResendIntervalMs;
        if (!progressed && snapshotHeight > _decided && _snapshotFetch is null && solicited && IsCheckpointHeight(snapshotHeight))
        {
            _snapshotFetch = new SnapshotFetch(snapshotHeight, from, _state.BucketCount) { ProgressAt = _now };
            RequestSnapshotChunks();
        }
        else if (progressed || (decisions.Length > 0 && decisions[^1].Height > _decided))
        {
            RequestCatchUp(from);
        }
    }

    private bool IsValidDecision(CatchUpDecision d) =>
        d.Header.Cluster == _cluster.Id
        && d.Header.PrevHeaderHash == _lastHeaderHash
        && (d.Whole?.IsSelfConsistent() ?? Hash32.Of(d.Inputs.Span) == d.Header.InputsDigest)
        && d.Qc.Verify(_cluster, d.Header) == QcCheck.Valid;

    /// <summary>
    /// Asks the fetch's peer for the chunks still missing, one request per run of missing chunks (at most
    /// <see cref="MaxChunkRequestsPerRound"/> requests and <see cref="ReplicaOptions.SnapshotChunksPerReply"/> chunks in
    /// all): after a checkpoint overtook the fetch, the chunks it changed are scattered among the ones kept, and a
    /// single range from the first missing one would bring back mostly chunks this node already has.
    /// </summary>
    private void RequestSnapshotChunks()
    {
        var fetch = _snapshotFetch!;
        fetch.Outstanding = 0;
        fetch.RoundProgress = false;
        var budget = _options.SnapshotChunksPerReply;
        for (var start = fetch.NextMissing(); start >= 0 && budget > 0 && fetch.Outstanding < MaxChunkRequestsPerRound;)
        {
            var end = start;
            while (end < fetch.Have.Length && !fetch.Have[end] && end - start < budget)
            {
                end++;
            }

            var w = Envelope.Begin(MessageType.FetchSnapshot, _self, 32);
            w.U64(fetch.Height);
            w.U32((uint)start);
            w.U32((uint)(end - start));
            Send(fetch.Peer, w.ToArray());
            fetch.Outstanding++;
            budget -= end - start;
            start = end;
            while (start < fetch.Have.Length && fetch.Have[start])
            {
                start++;
            }

            if (start == fetch.Have.Length)
            {
                break;
            }
        }
    }

    private const int MaxChunkRequestsPerRound = 8;

    private void OnFetchSnapshot(int from, ReadOnlyMemory<byte> body)
    {
        var r = new CanonicalReader(body.Span);
        var height = r.U64();
        var first = r.U32();
        var count = Math.Min(r.U32(), (uint)_options.SnapshotChunksPerReply);
        r.End();
        var cp = _checkpoint;
        if (cp is null || first >= cp.Chunks.Length)
        {
            return;
        }

        ThrowIfRetired(cp);
        var w = Envelope.Begin(MessageType.SnapshotChunks, _self, 64 * 1024);
        cp.WriteCertificates(w);

        // The chunks asked for, of our checkpoint even when it moved on from the one the peer fetches: with our
        // leaf hashes after them (below), it keeps every chunk it has that did not change. Before, it started over
        // with nothing each time, and a fetch slower than the cluster's checkpoint interval never ended.
        var end = (int)Math.Min(first + count, (uint)cp.Chunks.Length);
        var bytes = 0L;
        for (var i = (int)first; i < end; i++)
        {
            // At least one chunk, however large; then no more than the byte budget (the count goes first).
            bytes += cp.Chunks[i].Length;
            if (bytes > MaxCatchUpBytes && i > (int)first)
            {
                end = i;
                break;
            }
        }

        w.U32((uint)(end - (int)first));
        for (var i = (int)first; i < end; i++)
        {
            w.U32((uint)i);
            w.Bytes(cp.Chunks[i].Span);
            cp.Levels.Prove(i).Write(w);
        }

        if (cp.Height != height)
        {
            w.U32((uint)cp.ChunkHashes.Length);
            foreach (var hash in cp.ChunkHashes)
            {
                w.Hash(hash);
            }
        }

        Send(from, w.ToArray());
    }

    private void OnSnapshotChunks(int from, ReadOnlyMemory<byte> body)
    {
        var fetch = _snapshotFetch;
        if (fetch is null || from != fetch.Peer)
        {
            return;
        }

        // Counted before the answer is read: one that turns out malformed or useless still ends its part of the round
        // (review: a round waited for the timer, which also moved away from the peer).
        fetch.Outstanding = Math.Max(0, fetch.Outstanding - 1);
        try
        {
            TakeSnapshotChunks(fetch, from, body);
        }
        finally
        {
            // The next round goes out when this one's answers are all in and brought something (new chunks, or a newer
            // checkpoint); a round that brought nothing waits for the timer, which asks the next peer.
            if (_snapshotFetch is { } current && current.Received < current.Have.Length && current.Outstanding == 0
                && (current.RoundProgress || !ReferenceEquals(current, fetch)))
            {
                RequestSnapshotChunks();
            }
        }
    }

    private void TakeSnapshotChunks(SnapshotFetch fetch, int from, ReadOnlyMemory<byte> body)
    {
        if (fetch.Height <= _decided)
        {
            // Decisions overtook the fetch: installing it would move the chain back and forget votes of the heights above.
            _snapshotFetch = null;
            return;
        }

        var r = new CanonicalReader(body.Span);
        var at = DecisionHeader.Read(ref r);
        var atQc = QuorumCertificate.Read(ref r);
        var certifier = DecisionHeader.Read(ref r);
        var certifierQc = QuorumCertificate.Read(ref r);
        if (!Checkpoint.IsValidPair(_cluster, _options.CheckpointInterval, at, atQc, certifier, certifierQc))
        {
            Reject(RejectReason.InvalidSnapshot, from);
            _snapshotFetch = null;
            return;
        }

        var header = at;
        if (header.Height < fetch.Height)
        {
            // An older checkpoint than the one fetched (a peer behind, or a late answer): no progress. Never moving back
            // down keeps a byzantine peer from sending us to and fro between two checkpoints, each move dropping chunks.
            return;
        }

        if (header.Height > fetch.Height)
        {
            // The peer's checkpoint moved on: go on with it.
            _snapshotFetch = MovedOn(fetch, from, at, atQc, certifier, certifierQc, ref r);
            if (_snapshotFetch is { } next && next.Received == next.Have.Length)
            {
                InstallSnapshot(next);
            }

            return;
        }

        fetch.At = at;
        fetch.AtQc = atQc;
        fetch.Certifier = certifier;
        fetch.CertifierQc = certifierQc;
        if (TakeChunks(fetch, from, ref r) < 0)
        {
            _snapshotFetch = null;
            return;
        }

        // An answer to a request made before the fetch moved to this checkpoint carries its leaf hashes too.
        if (r.Remaining > 0)
        {
            _ = ReadLeafHashes(ref r, fetch.Have.Length);
        }

        r.End();
        if (fetch.Received == fetch.Have.Length)
        {
            InstallSnapshot(fetch);
        }
    }

    private static Hash32[] ReadLeafHashes(ref CanonicalReader r, int buckets)
    {
        var leaves = new Hash32[r.Count(buckets)];
        for (var i = 0; i < leaves.Length; i++)
        {
            leaves[i] = r.Hash();
        }

        return leaves;
    }

    /// <summary>
    /// Reads a reply's chunks into <paramref name="fetch"/>, each checked by its Merkle proof against the fetch's
    /// certified state root; returns how many were new, or -1 (counted) when one fails, and then nothing after it is
    /// taken. Only new chunks are progress: a peer that answers every request with none is left when the timer runs
    /// out (review: resetting the timer on any answer let it hold the fetch forever).
    /// </summary>
    private int TakeChunks(SnapshotFetch fetch, int from, ref CanonicalReader r)
    {
        var root = fetch.Certifier!.StateRoot;
        var count = r.Count(fetch.Have.Length);
        var taken = 0;
        for (var i = 0; i < count; i++)
        {
            var index = r.U32();
            var chunk = r.BytesSpan(MaxCatchUpBytes * 2);
            var proof = MerkleProof.Read(ref r);
            var leaf = MerkleTree.LeafHash(chunk);
            if (index >= fetch.Have.Length || proof.LeafIndex != index || proof.LeafCount != (uint)fetch.Have.Length
                || !proof.Verify(leaf, root))
            {
                Reject(RejectReason.InvalidSnapshot, from);
                return -1;
            }

            if (!fetch.Have[index])
            {
                fetch.State.WriteChunk((int)index, chunk);
                fetch.LeafHashes[index] = leaf;
                fetch.Have[index] = true;
                fetch.Received++;
                taken++;
            }
        }

        if (taken > 0)
        {
            fetch.ProgressAt = _now;
            fetch.FruitlessRequests = 0;
            fetch.RoundProgress = true;
        }

        return taken;
    }

    /// <summary>
    /// A fetch of the peer's newer (certified) checkpoint in place of <paramref name="fetch"/>: the chunks of its reply,
    /// and those we have whose leaf hashes the reply's list still holds (the list must rebuild the certified root:
    /// a wrong one, or none, is counted and ends the fetch). Null when the reply is invalid. The round in flight and the progress timer carry over.
    /// </summary>
    private SnapshotFetch? MovedOn(
        SnapshotFetch fetch, int from, DecisionHeader at, QuorumCertificate atQc, DecisionHeader certifier, QuorumCertificate certifierQc, ref CanonicalReader r)
    {
        var buckets = fetch.Have.Length;

        // The list comes after the chunks, and decides which fetch they go into: read it first, then the chunks once.
        var chunks = r;
        SkipChunks(ref r, buckets);
        // Every peer of this format sends the list with a checkpoint other than the one asked for: a reply without it
        // could only wipe the chunks we have, so it is refused and counted (review: it started the fetch afresh).
        if (r.Remaining == 0)
        {
            Reject(RejectReason.InvalidSnapshot, from);
            return null;
        }

        var leaves = ReadLeafHashes(ref r, buckets);
        r.End();
        if (leaves.Length != buckets || MerkleTree.Root(leaves) != certifier.StateRoot)
        {
            Reject(RejectReason.InvalidSnapshot, from);
            return null;
        }

        var next = new SnapshotFetch(at.Height, from, fetch, leaves);

        next.At = at;
        next.AtQc = atQc;
        next.Certifier = certifier;
        next.CertifierQc = certifierQc;
        next.ProgressAt = fetch.ProgressAt;
        next.FruitlessRequests = fetch.FruitlessRequests;
        return TakeChunks(next, from, ref chunks) < 0 ? null : next;
    }

    /// <summary>Reads past a reply's chunks (their proofs are checked when <see cref="TakeChunks"/> reads them).</summary>
    private static void SkipChunks(ref CanonicalReader r, int buckets)
    {
        var count = r.Count(buckets);
        for (var i = 0; i < count; i++)
        {
            _ = r.U32();
            _ = r.BytesSpan(MaxCatchUpBytes * 2);
            _ = MerkleProof.Read(ref r);
        }
    }

    private void InstallSnapshot(SnapshotFetch fetch)
    {
        _snapshotFetch = null;
        var at = fetch.At!;
        if (at.Height <= _decided)
        {
            return;
        }

        // Every chunk was proven against the certified root as it came; the whole once more, as the capture the next
        // checkpoint's root is taken from (encoded on every core).
        var capture = fetch.State.Capture(at.Height, previous: null);
        if (capture.Root() != fetch.Certifier!.StateRoot)
        {
            Reject(RejectReason.InvalidSnapshot, fetch.Peer);
            return;
        }

        DropExecution();
        _state = fetch.State;
        _decided = at.Height;
        _lastHeader = at;
        _lastHeaderHash = at.Hash;
        _lastQc = fetch.AtQc!;
        _log.Clear();
        _slot.Reset();
        _progressSince = _now;
        // Decisions installed whole are progress: the suspicion goes (and it must not ride in statuses during the hold).
        WithdrawSuspicion(decided: false);
        // Saved like a checkpoint: until it is durable the WAL keeps the records that rebuild the
        // state this node had (a crash meanwhile recovers that and catches up again).
        BeginCapture(at.Height, at, fetch.AtQc, capture);
        StartSave(Checkpoint.Of(capture, at, fetch.AtQc!, fetch.Certifier, fetch.CertifierQc!));
        RefreshFlow();
        if (_pendingSave is { IsCompleted: true })
        {
            FinishPendingSave();
        }

        HoldVotesUntilDurable(at.Height);
        PruneAnsweredBatches();
        if (_newViewForced is not null && _newViewForced.Header.Height <= _decided)
        {
            _newViewForced = null;
        }

        SnapshotsInstalled++;
        ReplicaLog.SnapshotInstalled(_logger, NodeId, _decided);
        RequestCatchUp(fetch.Peer);
        ProcessForcedProposal();
        TryPropose();
    }
}
