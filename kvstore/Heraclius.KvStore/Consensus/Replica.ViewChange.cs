using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Consensus;

// View change: VIEW-CHANGE with the highest prepared certificate, NEW-VIEW re-derived by every follower.
public sealed partial class Replica
{
    private readonly SortedDictionary<ulong, Dictionary<int, ViewChangeMessage>> _viewChanges = [];
    private byte[]? _myViewChange;
    // Our VIEW-CHANGEs of the last few views, and when each peer was last sent one: a peer whose status
    // shows it still changing to a view we left may never have received ours (lost while we were in
    // that view), and without it that view can lack a quorum for good.
    private readonly SortedList<ulong, byte[]> _recentViewChanges = [];
    private readonly long[] _viewChangeResentAt = new long[256];
    private const int RecentViewChanges = 8;
    private byte[]? _newViewMessage;
    private ulong _newViewMaxDecided;
    private ForcedProposal? _newViewForced;
    private long _progressSince;
    // When this node last entered a view (a NEW-VIEW, or its start): the starvation marks count from here at the earliest.
    private long _viewEnteredAt;
    private long _viewChangeSince;
    // The normal view a restart resumed as a view change (its NEW-VIEW not kept); the resume timer runs only in
    // that view, until a NEW-VIEW enters it. And when this node first heard from a quorum after the restart.
    private ulong? _resumedView;
    private long? _resumedQuorumHeardAt;
    private int _backoff;

    private long CurrentTimeout() =>
        Math.Min((long)_options.ViewChangeTimeoutMs << Math.Min(_backoff, 20), _options.MaxViewChangeTimeoutMs);

    private void StartViewChange(ulong newView, string why)
    {
        if (newView <= _view && (_inViewChange || newView < _view))
        {
            return;
        }

        ViewChangesStarted++;
        ReplicaLog.ViewChangeStarted(_logger, NodeId, newView, why);
        // The old leader's inputs will not be proposed by it any more: read through, they hid the deadlines they fire
        // from the next leader's tick (review of inputs ahead).
        DropExecutionAhead();
        _view = newView;
        _inViewChange = true;
        _suspectedView = null;
        _viewChangeSince = _now;
        _backoff++;
        _newViewMessage = null;
        _slot.Prepares.DropViewsBelow(_view);
        _slot.OwnPrePrepareSignature = null;
        _slot.PrePrepareMessage = null;
        // Built before the view moves: the suspicions it carries are of the view below the new one.
        var suspicions = SuspicionProofFor(newView);
        var raw = ViewChangeMessage.Encode(_self, newView, _lastHeader, _lastQc, _slot.Prepared, _cluster.Id, _key, suspicions, EquivocationFor(newView));
        AppendRecord(WalRecordType.View, U64Bytes(newView));
        AppendRecord(WalRecordType.ViewChangeSent, raw);
        _wal.Flush();
        _myViewChange = raw;
        RememberViewChange(newView, raw);
        StoreViewChange(ViewChangeMessage.Parse(raw));
        Broadcast(raw);
        TryBuildNewView();
    }

    /// <summary>
    /// Kept only once sent: a re-send must be a copy of bytes already out (as a delayed copy would be). A
    /// VIEW-CHANGE a restart signed and logged but never sent, first sent after one of a higher view, is
    /// signing in a lower view as peers and the crash fuzzer see it.
    /// </summary>
    private void RememberViewChange(ulong view, byte[] raw)
    {
        _recentViewChanges[view] = raw;
        while (_recentViewChanges.Count > RecentViewChanges)
        {
            _recentViewChanges.RemoveAt(0);
        }
    }

    /// <summary>
    /// A peer reports it is still changing to <paramref name="peerView"/>, below ours: re-send our VIEW-CHANGE
    /// of that view if we keep it (an old signed message, as a delayed copy would be), at most every few
    /// resend intervals per peer.
    /// </summary>
    private void ResendViewChangeOfLowerView(int peer, ulong peerView)
    {
        if (peerView >= _view || !_recentViewChanges.TryGetValue(peerView, out var raw)
            || _now - _viewChangeResentAt[peer] < 4L * _options.ResendIntervalMs)
        {
            return;
        }

        _viewChangeResentAt[peer] = _now;
        Send(peer, raw);
    }

    private void OnViewChange(int from, ViewChangeMessage vc)
    {
        if (vc.Sender == from && vc.NewView <= _view && !_inViewChange && _newViewMessage is not null)
        {
            // The sender is still changing to a view we already entered: show it the NEW-VIEW (as often as a status may).
            if (_now - _newViewSentAt[from] >= 4L * _options.ResendIntervalMs)
            {
                _newViewSentAt[from] = _now;
                Send(from, _newViewMessage);
            }

            return;
        }

        if (vc.Sender != from || vc.NewView < _view || vc.NewView > _view + 1024)
        {
            Reject(RejectReason.OldView, from);
            return;
        }

        if (_viewChanges.TryGetValue(vc.NewView, out var existing) && existing.ContainsKey(from))
        {
            return;
        }

        // From its sender a certificate comes with its inputs, which the leader of the view needs for its NEW-VIEW, and by
        // reference to them, so a NEW-VIEW forwarding it stays small.
        if (!vc.IsWhole || vc.IsLegacyWhole || !IsValidViewChange(vc))
        {
            Reject(RejectReason.InvalidViewChange, from);
            return;
        }

        if (vc.Equivocation is { } evidence && !IsValidEquivocation(evidence, vc.NewView))
        {
            // Refused whole, as a bad suspicion proof is: an honest sender's evidence always proves what it says.
            Reject(RejectReason.InvalidEquivocation, from);
            return;
        }

        if (!TakeSuspicions(vc))
        {
            // Refused whole, as one with a bad certificate is: kept, it would count for the f+1 rule and a NEW-VIEW
            // although its sender built a lie; an honest sender's proof always passes.
            Reject(RejectReason.InvalidSuspicion, from);
            return;
        }

        StoreViewChange(vc);
        DecideFromCertificate(vc.LastHeader, vc.LastQc);
        if (vc.LastDecided > _decided)
        {
            RequestCatchUp(from);
        }

        if (vc.Equivocation is { } shown && shown.View == _view && !_inViewChange)
        {
            _equivocation = shown;
            LeaveOnProvenEquivocation($"member {from} showed the leader's two prepares for height {shown.Height}");
        }

        JoinViewOfFPlusOne();
        ChangeViewOnSuspicionOfFPlusOne();
        TryBuildNewView();
    }

    /// <summary>
    /// PBFT's f+1 rule: when f+1 other members (so at least one honest) sent VIEW-CHANGEs for views above
    /// ours, join the highest view that f+1 of them reached, the smallest view of the f+1 highest. Each
    /// member counts once, with the one future VIEW-CHANGE kept of it (its highest). VIEW-CHANGEs of our view
    /// or below never count: kept from the change that led into our view (for the NEW-VIEW and re-sending),
    /// they made their senders look as if they still wanted it, and a member in a normal view never joined
    /// the view the others had moved on to. The view joined is at most one an honest member changed to
    /// itself, so f members alone move no one, and none goes past the honest members' highest view.
    /// </summary>
    private void JoinViewOfFPlusOne()
    {
        var highest = new Dictionary<int, ulong>();
        foreach (var (view, byNode) in _viewChanges)
        {
            if (view <= _view)
            {
                continue;
            }

            foreach (var node in byNode.Keys)
            {
                if (node != _self)
                {
                    // Ascending views: the last one seen is the member's highest.
                    highest[node] = view;
                }
            }
        }

        if (highest.Count < _cluster.F + 1)
        {
            return;
        }

        var views = highest.Values.ToList();
        views.Sort();
        StartViewChange(views[^(_cluster.F + 1)], "f+1 members moved to a higher view");
    }

    /// <summary>
    /// A VIEW-CHANGE or NEW-VIEW may show the QC of the height we are missing. When we hold that
    /// proposal (we prepared it), the QC is all we need: decide now instead of waiting for a peer to
    /// serve the decision, which a byzantine member that alone holds the QC would never do.
    /// </summary>
    private void DecideFromCertificate(DecisionHeader? header, QuorumCertificate? qc)
    {
        if (header is not null && qc is not null && header.Height == _decided + 1 && header.PrevHeaderHash == _lastHeaderHash
            && _slot.Known.TryGetValue(header.Hash, out var proposal))
        {
            Decide(proposal, qc);
        }
    }

    private void StoreViewChange(ViewChangeMessage vc)
    {
        if (vc.NewView > _view)
        {
            // At most one future-view VIEW-CHANGE per member (its highest), so one member cannot fill
            // memory with certificates for a thousand views.
            foreach (var (view, others) in _viewChanges)
            {
                if (view > _view && view != vc.NewView && others.ContainsKey(vc.Sender))
                {
                    if (view > vc.NewView)
                    {
                        return;
                    }

                    others.Remove(vc.Sender);
                }
            }
        }

        if (!_viewChanges.TryGetValue(vc.NewView, out var byNode))
        {
            byNode = [];
            _viewChanges.Add(vc.NewView, byNode);
        }

        byNode[vc.Sender] = vc;
        if (vc.NewView == _view && _inViewChange && byNode.Count == _cluster.Quorum)
        {
            // The NEW-VIEW timer runs from the moment a quorum is known to be in this view.
            _viewChangeSince = _now;
        }
        foreach (var old in _viewChanges.Keys.Where(v => v < _view).ToList())
        {
            _viewChanges.Remove(old);
        }
    }

    /// <summary>Signature checked by the caller or the envelope; here the certificates inside.</summary>
    private bool IsValidViewChange(ViewChangeMessage vc)
    {
        if (vc.LastHeader is not null && (vc.LastQc is null || vc.LastQc.Verify(_cluster, vc.LastHeader) != QcCheck.Valid))
        {
            return false;
        }

        var p = vc.Prepared;
        if (p is null)
        {
            return true;
        }

        // Inputs that are not the header's make the message a lie; without inputs (forwarded in a NEW-VIEW) the
        // certified header is the whole claim.
        return p.View < vc.NewView
               && p.Header.Cluster == _cluster.Id
               && p.Height == vc.LastDecided + 1
               && (p.Inputs is null || p.InputsMatch)
               && QuorumCertificate.VerifySignatures(_cluster, VoteKind.Prepare, p.View, p.Height, p.Header.Hash, p.Prepares) == QcCheck.Valid;
    }

    private void TryBuildNewView()
    {
        if (!_inViewChange || _cluster.LeaderOf(_view) != _self || !_viewChanges.TryGetValue(_view, out var byNode)
            || byNode.Count < _cluster.Quorum || !byNode.ContainsKey(_self))
        {
            return;
        }

        // Every VIEW-CHANGE kept came whole from its sender (or is our own), so each certificate has its inputs; one that did
        // not could not be forced, and is passed over rather than trusted.
        var chosen = byNode.Values.Where(v => v.IsWhole).OrderBy(v => v.Sender).Take(_cluster.Quorum).ToList();
        if (chosen.Count < _cluster.Quorum)
        {
            return;
        }

        var (_, best) = NewViewMessage.Derive(chosen);
        var forced = best is null ? null : new ForcedProposal(best.Header, best.Inputs!.Value);
        var raw = NewViewMessage.Encode(_self, _view, chosen, forced, _cluster.Id, _key);
        Broadcast(raw);
        EnterView(NewViewMessage.Parse(raw));
    }

    private void OnNewView(int from, int signer, NewViewMessage nv)
    {
        if (signer != _cluster.LeaderOf(nv.View))
        {
            Reject(RejectReason.WrongSender, from);
            return;
        }

        if (nv.View < _view || (nv.View == _view && !_inViewChange))
        {
            return;
        }

        if (nv.ViewChanges.Count < _cluster.Quorum)
        {
            Reject(RejectReason.InvalidNewView, from);
            return;
        }

        var senders = new HashSet<int>();
        foreach (var vc in nv.ViewChanges)
        {
            if (vc.NewView != nv.View || vc.Sender < 0 || vc.Sender >= _cluster.N || !senders.Add(vc.Sender)
                || !Envelope.VerifySignature(vc.Forwarded, _cluster.Id, _cluster.Nodes[vc.Sender].PublicKey)
                || !IsValidViewChange(vc))
            {
                Reject(RejectReason.InvalidNewView, from);
                return;
            }
        }

        if (!nv.Forces(NewViewMessage.Derive(nv.ViewChanges).Forced))
        {
            Reject(RejectReason.InvalidNewView, from);
            StartViewChange(nv.View + 1, "NEW-VIEW proposed something other than its certificates force");
            return;
        }

        EnterView(nv);
    }

    private void EnterView(NewViewMessage nv)
    {
        var maxDecided = NewViewMessage.Derive(nv.ViewChanges).MaxDecided;
        DropExecutionAhead();
        _view = nv.View;
        _inViewChange = false;
        _newViewMessage = nv.Raw;
        _newViewMaxDecided = maxDecided;
        _newViewForced = nv.Forced;
        _progressSince = _now;
        _viewEnteredAt = _now;
        _resumedView = null;
        _slot.Prepares.DropViewsBelow(_view);
        _slot.OwnPrePrepareSignature = null;
        _slot.PrePrepareMessage = null;
        AppendRecord(WalRecordType.View, U64Bytes(_view));
        _wal.Flush();
        ReplicaLog.NewViewEntered(_logger, NodeId, _view, LeaderIndex);

        foreach (var vc in nv.ViewChanges)
        {
            DecideFromCertificate(vc.LastHeader, vc.LastQc);
        }

        if (maxDecided > _decided)
        {
            var ahead = nv.ViewChanges.First(v => v.LastDecided == maxDecided).Sender;
            RequestCatchUp(ahead == _self ? _cluster.LeaderOf(_view) : ahead);
        }

        if (!IsLeader)
        {
            foreach (var batch in _pool)
            {
                Send(_cluster.LeaderOf(_view), ForwardMessage(batch));
            }
        }

        LeaveOnEarlierEvidence();
        ProcessForcedProposal();
        TryPropose();
    }

    /// <summary>
    /// Evidence against this view's leader that a member showed (checked, in its VIEW-CHANGE of the view above) while we
    /// were still changing to this view: we leave at once. Without this, a member the leader equivocated to right after
    /// its NEW-VIEW left alone when its VIEW-CHANGE reached the others before the NEW-VIEW did (review).
    /// </summary>
    private void LeaveOnEarlierEvidence()
    {
        if (!_viewChanges.TryGetValue(_view + 1, out var above))
        {
            return;
        }

        // Lowest sender first: the same choice wherever the same VIEW-CHANGEs are held (any one proves it).
        foreach (var vc in above.OrderBy(p => p.Key).Select(p => p.Value))
        {
            if (vc.Equivocation is { } e && e.View == _view)
            {
                _equivocation = e;
                LeaveOnProvenEquivocation($"member {vc.Sender} showed the leader's two prepares for height {e.Height} before the NEW-VIEW came");
                return;
            }
        }
    }

    /// <summary>A NEW-VIEW's forced proposal is prepared as soon as this node reaches the height before it.</summary>
    private void ProcessForcedProposal()
    {
        var forced = _newViewForced;
        if (forced is null || _inViewChange || VotesHeld || forced.Header.Height != _decided + 1)
        {
            return;
        }

        if (_slot.Accepted is not null && _slot.AcceptedView == _view)
        {
            return;
        }

        if (AbstainFrom(_view))
        {
            return;
        }

        if (ValidateAndExecute(forced.Header, forced.Inputs, null, freshTimestamp: false, _cluster.LeaderOf(_view)) is { } proposal)
        {
            AcceptProposal(proposal, _view);
        }
        else
        {
            StartViewChange(_view + 1, "forced proposal does not execute to its certified outputs");
        }
    }
}
