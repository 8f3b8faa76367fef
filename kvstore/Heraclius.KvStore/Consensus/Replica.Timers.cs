using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus;

// Time: progress and view-change timeouts with back-off, retransmission and status gossip.
public sealed partial class Replica
{
    private long _lastResend;
    private readonly ulong[] _peerDecided = new ulong[256];
    private readonly bool[] _heardFrom = new bool[256];
    // When each peer was last shown our NEW-VIEW: it holds a quorum of VIEW-CHANGEs (megabytes with their
    // certificates), and a status is 32 bytes any member can send as often as it likes.
    private readonly long[] _newViewSentAt = new long[256];
    private ulong _lastProgressCheckDecided;

    /// <summary>Decisions this node is behind the highest height a peer reported.</summary>
    public ulong Lag
    {
        get
        {
            ulong best = _decided;
            for (var i = 0; i < _cluster.N; i++)
            {
                best = Math.Max(best, _peerDecided[i]);
            }

            return best - _decided;
        }
    }

    private long _stallCreditUsed;
    private long _stallCreditMark = long.MinValue;

    /// <summary>Pauses reported by the host that moved this replica's timers, and the ms they moved them by.</summary>
    public long Stalls { get; private set; }

    public long StalledMs { get; private set; }

    /// <summary>Pauses shorter than this (ms) are not reported by the host (<see cref="ReplicaOptions.StallThresholdMs"/>).</summary>
    public int StallThresholdMs => _options.StallThresholdMs;

    /// <summary>
    /// The host reports that this replica did not run for <paramref name="pausedMs"/> ms before this step: the
    /// process was paused (a blocking GC, the VM descheduled) or its thread was not scheduled. Its own steps'
    /// running time is never reported (a faulty leader controls how long its proposal takes to check). The
    /// leader could not be observed meanwhile, so the progress and NEW-VIEW timers do not count that time: a
    /// whole-process pause otherwise expired every replica's timers in every cluster at once. Bounded: at most
    /// one timeout of credit between two resets of the progress timer, so whatever causes pauses delays a view
    /// change by at most one timeout; the starvation marks (a censored input) get no credit at all (they wait
    /// two or four timeouts, which absorbs a pause). Deterministic: the pause is an input. Liveness only.
    /// </summary>
    public void OnPaused(long pausedMs, long now)
    {
        Advance(now);
        if (_options.StallThresholdMs == 0 || pausedMs <= _options.StallThresholdMs)
        {
            return;
        }

        if (_progressSince != _stallCreditMark)
        {
            // The progress timer was reset since the last credit: a fresh budget.
            _stallCreditUsed = 0;
        }

        var credit = Math.Min(pausedMs, Math.Max(0, CurrentTimeout() - _stallCreditUsed));
        _stallCreditUsed += credit;
        _progressSince += credit;
        _viewChangeSince += credit;
        _stallCreditMark = _progressSince;
        Stalls++;
        StalledMs += credit;
        ReplicaLog.Stalled(_logger, NodeId, pausedMs, credit);
    }

    /// <summary>Overdue timers as waiting work: no decision for two ticks, and a deadline a tick past.</summary>
    private bool TimersWaiting() => _now - _lastDecidedAt >= 2L * _options.TimerTickMs && TimersOverdue();

    /// <summary>A service deadline passed a tick ago and the leader has not moved decision time on.</summary>
    private bool TimersOverdue()
    {
        var due = _executor.NextTimerDue(_state);
        return due <= ulong.MaxValue - (ulong)_options.TimerTickMs && (ulong)Math.Max(_now, 0) >= due + (ulong)_options.TimerTickMs;
    }

    private void CheckTimeouts()
    {
        // Catching up goes on whatever the view: a lost chunk request is re-sent to the next peer.
        if (_snapshotFetch is { } fetch && _now - fetch.ProgressAt > 4L * _options.ResendIntervalMs)
        {
            if (++fetch.FruitlessRequests >= _cluster.N - 1)
            {
                // No peer serves this checkpoint: give up; the next status or decision points us anew.
                _snapshotFetch = null;
            }
            else
            {
                // Lost answers, or a peer that answers with nothing new: the next peer gets a whole interval.
                fetch.Peer = NextPeer(fetch.Peer);
                fetch.ProgressAt = _now;
                RequestSnapshotChunks();
            }
        }

        if (VotesHeld)
        {
            // Catching up, and unable to sign a VIEW-CHANGE anyway: the leader is not to blame meanwhile.
            _progressSince = _now;
            return;
        }

        if (_inViewChange)
        {
            // Move on only when a quorum is in this view and its leader still failed to deliver a NEW-VIEW
            // (PBFT's rule); otherwise nodes whose timers drift apart chase each other through views.
            // Lagging nodes join higher views through the f+1 rule instead.
            if (_now - _viewChangeSince > CurrentTimeout()
                && _viewChanges.TryGetValue(_view, out var quorum) && quorum.Count >= _cluster.Quorum)
            {
                StartViewChange(_view + 1, "no NEW-VIEW in time");
            }
            else if (_resumedView == _view && ResumedViewTimedOut())
            {
                // Before the crash this node was in this view normally, and its progress timer would have taken it
                // on; recovered as changing to it, it waits for a NEW-VIEW that peers re-send when they hold it.
                // When none came, the peers that were in this view with it may have restarted too (nobody keeps
                // the NEW-VIEW) and those that left it may have dropped their VIEW-CHANGE of it: waiting for a
                // quorum here would wait for good (crash fuzzer seed 428). Moving up is always safe.
                StartViewChange(_view + 1, "restarted into a view whose NEW-VIEW no peer re-sent");
            }

            return;
        }

        // Overdue timers are waiting work: a leader that never ticks would otherwise hold deadlines forever.
        var timersOverdue = TimersWaiting();
        // Inputs sent ahead wait for their pre-prepare: the state read through them (it may have fired the very
        // deadlines a tick was due for) must not make this node think nothing waits (review of inputs ahead).
        var waiting = _pool.Count > 0 || HasReadyInbound || _slot.Accepted is not null || _newViewForced is not null || timersOverdue
            || _slot.ExecAheadInputs is not null;
        if (!waiting)
        {
            // The progress timer runs only while something waits: an idle node that then receives a
            // proposal must not count its idle time against the leader.
            _progressSince = _now;
            WithdrawSuspicion(decided: false);
            return;
        }

        if (PeersAhead() > _cluster.F || HeardFrom() < _cluster.Quorum - 1)
        {
            // f+1 peers (one of them honest) report decisions we lack: the cluster is making progress and this
            // node is catching up, which is no reason to suspect the leader. Also while this node has not yet
            // heard from a quorum (just restarted, links still coming up). A suspicion already raised stands:
            // peers are ahead by a height or two at every decision, and withdrawn here it would flicker.
            _progressSince = _now;
            return;
        }

        if (!IsLeader && Starved() is { } starvedInput)
        {
            // Decisions keep coming but this input never gets in: a leader censoring one source or client.
            // PBFT's per-request timer; the progress timer alone resets on every decision, which therefore
            // does not withdraw this suspicion: only the input getting in does.
            SuspectLeader(starvedInput, starved: true);
            return;
        }

        if (_suspicionOfStarvation)
        {
            WithdrawSuspicion(decided: false);
        }

        if (_now - _progressSince > CurrentTimeout() && _slot.Accepted is null && _newViewForced is null)
        {
            // A whole timeout and no pre-prepare for the inputs sent ahead: judged on the decided state from here on.
            if (DropExecutionAhead())
            {
                timersOverdue = TimersWaiting();
            }

            PruneAnsweredBatches();
            if (_pool.Count == 0 && !HasReadyInbound && !timersOverdue)
            {
                _progressSince = _now;
                waiting = false;
                WithdrawSuspicion(decided: false);
            }
        }

        if (waiting && _now - _progressSince > CurrentTimeout())
        {
            SuspectLeader(_slot.Accepted is null ? "requests waited past the timeout" : "proposal not decided in time", starved: false);
        }
    }

    /// <summary>
    /// Peers that never saw these requests or groups have no timer running: show them, as a PBFT client's
    /// broadcast retransmission would, so that a quorum suspects the leader together.
    /// </summary>
    private void ShowPeersWhatWaits()
    {
        foreach (var batch in _pool.Take(64))
        {
            Broadcast(ForwardMessage(batch));
        }

        foreach (var group in ReadyHeads().Take(64))
        {
            Broadcast(ForwardInboundMessage(group));
        }
    }

    /// <summary>
    /// Whether a restarted node resuming its view as a view change has waited long enough for a peer to re-send
    /// the view's NEW-VIEW (a leader shows one to a lagging peer at most every 4 resend intervals): twice the
    /// progress timeout and at least 8 resend intervals, with work waiting, counted from when it first heard
    /// from a quorum (links come up with back-off) and from its last decision. A cluster still deciding in the
    /// view (this node catches up on its decisions) is alive there: leaving it would strand this node alone in
    /// the next view, where its VIEW-CHANGE and one byzantine member's would make f+1 and pull everyone along.
    /// </summary>
    private bool ResumedViewTimedOut()
    {
        if (HeardFrom() < _cluster.Quorum - 1)
        {
            return false;
        }

        _resumedQuorumHeardAt ??= _now;
        var since = Math.Max(Math.Max(_viewChangeSince, _lastDecidedAt), _resumedQuorumHeardAt.Value);
        return (_pool.Count > 0 || HasReadyInbound)
            && _now - since > Math.Max(2L * CurrentTimeout(), 8L * _options.ResendIntervalMs);
    }

    /// <summary>
    /// Why an input has waited far longer than the leader needs to propose it, or null. An inbound group
    /// that continues its chain waits 2 timeouts from when it became proposable (an honest leader takes
    /// every source's next group in each proposal); a client batch 4, as a busy pool legitimately spans
    /// several proposals. Counted from when this node entered the current view at the earliest (PBFT
    /// restarts a request's timer in each new view): a leader answers only for what waited in its own view.
    /// Counted from the arrival instead, a backlog older than four timeouts (the timeout is back to its base
    /// after every decision) made the followers leave each new view on their first tick, and with the f+1
    /// rule the views ran away at the speed of the network, each deciding a height or two at most.
    /// </summary>
    private string? Starved()
    {
        var timeout = CurrentTimeout();
        foreach (var head in ReadyHeads())
        {
            var cursor = InboundCursor(head.Source);
            if (!_inboundReadySince.TryGetValue(head.Source, out var since) || since.Cursor != cursor)
            {
                _inboundReadySince[head.Source] = (cursor, _now);
            }
            else if (_now - Math.Max(since.Since, _viewEnteredAt) > 2 * timeout)
            {
                return $"the group of {head.Source} at {head.Height} waited past twice the timeout";
            }
        }

        if (_pool.Count > 0 && _now - Math.Max(PoolOldestAt, _viewEnteredAt) > 4 * timeout)
        {
            PruneAnsweredBatches();
            if (_pool.Count > 0 && _now - Math.Max(PoolOldestAt, _viewEnteredAt) > 4 * timeout)
            {
                return "a client batch waited past four timeouts";
            }
        }

        return null;
    }

    private int HeardFrom()
    {
        var heard = 0;
        for (var i = 0; i < _cluster.N; i++)
        {
            if (i != _self && _heardFrom[i])
            {
                heard++;
            }
        }

        return heard;
    }

    private int PeersAhead()
    {
        var ahead = 0;
        for (var i = 0; i < _cluster.N; i++)
        {
            if (i != _self && _peerDecided[i] > _decided)
            {
                ahead++;
            }
        }

        return ahead;
    }

    private int NextPeer(int peer)
    {
        var next = (peer + 1) % _cluster.N;
        return next == _self ? (next + 1) % _cluster.N : next;
    }

    private void Retransmit()
    {
        if (_inViewChange)
        {
            if (_myViewChange is not null)
            {
                Broadcast(_myViewChange);
                RememberViewChange(_view, _myViewChange);
            }

            // A node waiting alone in a view change still holds clients' requests: show them to every peer
            // so the members still working in the current view decide them (we learn the answers by catch-up).
            if (_pool.Count > 0 && _now - PoolOldestAt >= _options.ResendIntervalMs)
            {
                foreach (var batch in _pool.Take(64))
                {
                    Broadcast(ForwardMessage(batch));
                }
            }

            foreach (var group in ReadyHeads().Where(g => _now - _inboundArrivals[g.Digest] >= _options.ResendIntervalMs).Take(64))
            {
                Broadcast(ForwardInboundMessage(group));
            }
        }
        else
        {
            var resent = IsLeader && _now - _progressSince >= _options.ResendIntervalMs ? ResentPrePrepare() : null;
            var resendPrePrepare = resent is not null;
            if (resent is not null)
            {
                Broadcast(resent);
            }

            var accepted = _slot.Accepted;
            if (accepted is not null && _slot.AcceptedView == _view && _now - _progressSince >= _options.ResendIntervalMs)
            {
                if (!resendPrePrepare)
                {
                    // A leader's prepare of its own proposal travels in the pre-prepare just sent again.
                    Broadcast(VoteMessage(VoteKind.Prepare, _view, accepted.Header.Height, accepted.Header.Hash).Message);
                }

                if (_slot.CommitSentView == _view)
                {
                    Broadcast(VoteMessage(VoteKind.Commit, _view, accepted.Header.Height, accepted.Header.Hash).Message);
                }
            }

            if (!IsLeader && _pool.Count > 0 && _now - PoolOldestAt >= _options.ResendIntervalMs)
            {
                // The leader may have lost our forward; it dedups by digest.
                foreach (var batch in _pool.Take(64))
                {
                    Send(_cluster.LeaderOf(_view), ForwardMessage(batch));
                }
            }

            if (!IsLeader)
            {
                // The leader's own subscription may be fed by a withholding source node: show it what we hold,
                // once per group and view (it is large, and the leader keeps what it was shown).
                if (_inboundForwardedView != _view)
                {
                    _inboundForwardedView = _view;
                    _inboundForwarded.Clear();
                }

                foreach (var group in ReadyHeads().Where(g => _now - _inboundArrivals[g.Digest] >= _options.ResendIntervalMs && !_inboundForwarded.Contains(g.Digest)).Take(16).ToList())
                {
                    _inboundForwarded.Add(group.Digest);
                    Send(_cluster.LeaderOf(_view), ForwardInboundMessage(group));
                }
            }
        }

        // Our commit for the prepared certificate stays valid evidence in any later view: without it a
        // quorum that lost commits to a partition could never form the QC again.
        if (_slot.Prepared is { } prepared && _slot.CommitSentView is { } commitView && commitView != _view
            && _now - _progressSince >= _options.ResendIntervalMs)
        {
            Broadcast(VoteMessage(VoteKind.Commit, commitView, prepared.Height, prepared.Proposal.Header.Hash).Message);
        }

        BroadcastStatus();

        // A peer said it is ahead and we have not moved since: fetch from it.
        if (_decided == _lastProgressCheckDecided)
        {
            var best = -1;
            for (var i = 0; i < _cluster.N; i++)
            {
                if (i != _self && _peerDecided[i] > _decided && (best < 0 || _peerDecided[i] > _peerDecided[best]))
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                RequestCatchUp(best);
            }
        }

        _lastProgressCheckDecided = _decided;
    }

    private void OnStatus(int from, ReadOnlyMemory<byte> body)
    {
        var r = new CanonicalReader(body.Span);
        var view = r.U64();
        var inViewChange = r.Bool();
        var decided = r.U64();
        // A node of the version before suspicions sends no flag, and one of the version before signed suspicions no
        // signature: both read as not suspecting (a rolling upgrade), since only a signed suspicion can be relayed.
        var suspects = r.Remaining > 0 && r.Bool();
        var signature = suspects && r.Remaining > 0 ? r.Fixed(SigningKey.SignatureSize).ToArray() : null;
        r.End();
        if (signature is not null && (inViewChange || !VerifySuspicion(from, view, signature)))
        {
            // An honest member never signs a suspicion it does not have, nor one while changing view.
            Reject(RejectReason.InvalidSuspicion, from);
            return;
        }

        _peerDecided[from] = decided;
        _heardFrom[from] = true;
        TakeStatusSuspicion(from, view, inViewChange, signature);
        if (decided >= _decided + 2)
        {
            RequestCatchUp(from);
        }

        if ((view < _view || (view == _view && inViewChange)) && !_inViewChange && _newViewMessage is not null
            && _now - _newViewSentAt[from] >= 4L * _options.ResendIntervalMs)
        {
            _newViewSentAt[from] = _now;
            Send(from, _newViewMessage);
        }

        if (inViewChange && view < _view)
        {
            ResendViewChangeOfLowerView(from, view);
        }

        ChangeViewOnSuspicionOfFPlusOne();
    }
}
