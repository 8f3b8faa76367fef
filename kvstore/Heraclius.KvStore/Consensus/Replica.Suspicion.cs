using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus;

// Suspicion: a member whose timer expired says so before it leaves the view.
public sealed partial class Replica
{
    // The view whose leader this member suspects, or null. Not a promise: the member keeps voting in the view.
    private ulong? _suspectedView;
    // Whether an input starved (decisions come, it never gets in): then decisions do not withdraw the suspicion.
    private bool _suspicionOfStarvation;
    // The view whose leader each peer's last status suspected, or null (a member changing view never suspects).
    private readonly ulong?[] _peerSuspectedView = new ulong?[256];

    /// <summary>Times this member's timers expired against a view's leader (at most once per view).</summary>
    public long LeaderSuspicions { get; private set; }

    /// <summary>Whether this member currently suspects its view's leader without having left the view.</summary>
    public bool SuspectsLeader => _suspectedView == _view && !_inViewChange;

    /// <summary>
    /// A progress or starvation timer expired. A VIEW-CHANGE is a promise (its sender never votes in the view
    /// again, and a NEW-VIEW built on it may already be out), so it cannot be taken back; a member that sent
    /// one alone, because only it could not reach the leader (links still coming up after a start, a leader
    /// that ignores one follower), sat outside a view the others kept deciding in, and the cluster silently
    /// had no fault left to tolerate. So an expired timer first makes a suspicion, sent in the status and
    /// withdrawn by the next decision (a starved input: when it gets in), and the member keeps working in the
    /// view; it changes view when f+1 other members (one of them honest) suspect the leader. Safety is untouched:
    /// only the moment a VIEW-CHANGE is sent moves. Liveness: a leader that fails a quorum expires every honest
    /// member's timer, and the f+1st suspicion moves them all; f members alone never move anyone.
    /// </summary>
    private void SuspectLeader(string why, bool starved)
    {
        if (_suspectedView != _view)
        {
            // Peers that never saw what waits have no timer running: shown it once per view, they can suspect too.
            ShowPeersWhatWaits();
            _suspectedView = _view;
            _suspicionOfStarvation = starved;
            LeaderSuspicions++;
            ReplicaLog.LeaderSuspected(_logger, NodeId, _view, why);
            BroadcastStatus();
        }
        else if (starved)
        {
            _suspicionOfStarvation = true;
        }

        ChangeViewOnSuspicionOfFPlusOne();
    }

    /// <summary>
    /// Progress in the view (a decision) or nothing left to wait for: the suspicion is withdrawn. A decision does
    /// not withdraw a starved input's suspicion: decisions that keep leaving it out are what it is about.
    /// </summary>
    private void WithdrawSuspicion(bool decided)
    {
        if (_suspectedView is null || (decided && _suspicionOfStarvation && _suspectedView == _view))
        {
            return;
        }

        var current = _suspectedView == _view && !_inViewChange;
        _suspectedView = null;
        _suspicionOfStarvation = false;
        if (current)
        {
            BroadcastStatus();
        }
    }

    /// <summary>
    /// When f+1 other members suspect the leader of our view, this member changes view too, whether or not its own
    /// timer expired (at least one of them is honest, and waiting for our own timer only delays the change).
    /// A member counts when its last status suspects our view or when it sent a VIEW-CHANGE for a higher view.
    /// A status showing a member in a higher normal view does not count: its NEW-VIEW, which that member
    /// shows us, takes us there without a view change of our own. Statuses are unsigned: the transport
    /// authenticated their sender, and a suspicion commits nobody to anything.
    /// Our own suspicion does not count (it did until review): with it, a byzantine member that told only a lone
    /// suspect "me too" made f+1 for that node alone, which then left a view the others kept deciding in. Others
    /// only, f+1 of them hold an honest one; a leader that fails a quorum still expires every honest member's timer,
    /// and each of them then sees the 2f others (a single-node cluster, which has no others, moves on its own).
    /// </summary>
    private void ChangeViewOnSuspicionOfFPlusOne()
    {
        if (_inViewChange || VotesHeld)
        {
            // Held after installing a snapshot, a node signs nothing; statuses are not held, so the next one
            // after the hold counts again.
            return;
        }

        var others = 0;
        for (var i = 0; i < _cluster.N; i++)
        {
            if (i != _self && (_peerSuspectedView[i] == _view || SentViewChangeAbove(i, _view)))
            {
                others++;
            }
        }

        if (others >= _cluster.F + 1 || (_cluster.N == 1 && _suspectedView == _view))
        {
            StartViewChange(_view + 1, "f+1 other members suspect the leader");
        }
    }

    private bool SentViewChangeAbove(int member, ulong view)
    {
        foreach (var (v, byNode) in _viewChanges)
        {
            if (v > view && byNode.ContainsKey(member))
            {
                return true;
            }
        }

        return false;
    }

    private void BroadcastStatus()
    {
        var w = Envelope.Begin(MessageType.Status, _self, 33);
        w.U64(_view);
        w.Bool(_inViewChange);
        w.U64(_decided);
        w.Bool(SuspectsLeader);
        Broadcast(w.ToArray());
    }
}
