using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus;

// Suspicion: a member whose timer expired says so before it leaves the view.
public sealed partial class Replica
{
    // The view whose leader this member suspects, or null. Not a promise: the member keeps voting in the view.
    private ulong? _suspectedView;
    // Whether an input starved (decisions come, it never gets in): then decisions do not withdraw the suspicion.
    private bool _suspicionOfStarvation;
    // Each member's latest signed suspicion held (its view and signature): from its status, or relayed in a VIEW-CHANGE.
    // One per member, the highest view; a status of that view that no longer suspects withdraws it.
    private readonly (ulong View, byte[] Signature)?[] _suspicions = new (ulong, byte[])?[256];
    // Our own signature of the last view we suspected (Ed25519 is deterministic: signed once, sent in every status).
    private (ulong View, byte[] Signature)? _ownSuspicion;

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
    /// A member counts when we hold its signed suspicion of our view: from its status, from its own VIEW-CHANGE(v+1),
    /// or relayed in anyone's VIEW-CHANGE(v+1). A status showing a member in a higher normal view does not count:
    /// its NEW-VIEW, which that member shows us, takes us there without a view change of our own.
    /// Only signed suspicions count, so a member that leaves always holds the f+1 it left on and sends them in its
    /// VIEW-CHANGE, and every member still in the view that receives it follows (the same f+1 are f+1 others there
    /// too, or f plus the relaying sender's own). Counted unsigned (statuses, a VIEW-CHANGE above the view), a
    /// byzantine member telling a third honest node alone "me too" beside one honest lone suspicion took that node
    /// out of a view the others kept deciding in, with nothing to show them (review).
    /// Our own suspicion does not count (it did until review): with it, a byzantine member that told only a lone
    /// suspect "me too" made f+1 for that node alone. Others only, f+1 of them hold an honest one; a leader that fails
    /// a quorum still expires every honest member's timer, and each of them then sees the 2f others (a single-node
    /// cluster, which has no others, moves on its own).
    /// </summary>
    private void ChangeViewOnSuspicionOfFPlusOne()
    {
        if (_inViewChange || VotesHeld)
        {
            // Held after installing a snapshot, a node signs nothing; statuses are not held, so the next one
            // after the hold counts again.
            return;
        }

        if (SuspectingOthers(_view) >= _cluster.F + 1 || (_cluster.N == 1 && _suspectedView == _view))
        {
            StartViewChange(_view + 1, "f+1 other members suspect the leader");
        }
    }

    private int SuspectingOthers(ulong view)
    {
        var others = 0;
        for (var i = 0; i < _cluster.N; i++)
        {
            if (i != _self && _suspicions[i] is { } held && held.View == view)
            {
                others++;
            }
        }

        return others;
    }

    /// <summary>
    /// What our VIEW-CHANGE(<paramref name="newView"/>) carries: our own suspicion of the view below it (we leave it
    /// for good, whatever the cause) and, when we hold them, f+1 other members' (the lowest members, so the proof has
    /// the same bytes wherever it is built from the same knowledge). Exactly f+1: any f+1 hold an honest member, more
    /// would only cost every receiver more checks.
    /// </summary>
    private SuspicionProof? SuspicionProofFor(ulong newView)
    {
        if (newView == 0)
        {
            return null;
        }

        var view = newView - 1;
        var others = new List<SignedSuspicion>(_cluster.F + 1);
        if (SuspectingOthers(view) >= _cluster.F + 1)
        {
            for (var i = 0; i < _cluster.N && others.Count < _cluster.F + 1; i++)
            {
                if (i != _self && _suspicions[i] is { } held && held.View == view)
                {
                    others.Add(new SignedSuspicion(i, held.Signature));
                }
            }
        }

        return new SuspicionProof(view, OwnSuspicion(view), others);
    }

    private byte[] OwnSuspicion(ulong view)
    {
        if (_ownSuspicion is not { } own || own.View != view)
        {
            own = (view, _key.Sign(SuspicionStatement.Bytes(_cluster.Id, view)));
            _ownSuspicion = own;
        }

        return own.Signature;
    }

    /// <summary>True when <paramref name="signature"/> is <paramref name="member"/>'s suspicion of <paramref name="view"/> in this cluster.</summary>
    private bool VerifySuspicion(int member, ulong view, ReadOnlySpan<byte> signature)
    {
        if (_suspicions[member] is { } held && held.View == view && signature.SequenceEqual(held.Signature))
        {
            // Held already, so checked already: a suspecting member's every status carries the same signature.
            return true;
        }

        var size = SuspicionStatement.Size(_cluster.Id);
        var statement = size <= 256 ? stackalloc byte[size] : new byte[size];
        SuspicionStatement.Write(statement, _cluster.Id, view);
        return _cluster.Nodes[member].PublicKey.Verify(statement, signature);
    }

    /// <summary>Keeps a verified suspicion of a view up to ours when it is the member's latest (one per member: the highest such view).</summary>
    private void HoldSuspicion(int member, ulong view, byte[] signature)
    {
        // Only views up to ours: only ours is ever counted, and a suspicion of a view above it (which anyone may sign
        // for itself) held as the member's latest pinned its slot, so its relayed suspicion of our view was dropped.
        if (view > _view)
        {
            return;
        }

        if (_suspicions[member] is not { } held || held.View < view)
        {
            _suspicions[member] = (view, signature);
        }
    }

    /// <summary>
    /// Checks a VIEW-CHANGE's suspicion proof whole before anything of it is kept: of the view below the VIEW-CHANGE's,
    /// the other members' part empty or f+1 to n-1 distinct members other than the sender, ascending, every signature
    /// valid. Then keeps each. False (the VIEW-CHANGE is refused) when any check fails: an honest sender's proof
    /// always passes, and a refused one changes nothing.
    /// </summary>
    private bool TakeSuspicions(ViewChangeMessage vc)
    {
        if (vc.Suspicions is not { } proof)
        {
            return true;
        }

        var others = proof.Others;
        if (vc.NewView == 0 || proof.View != vc.NewView - 1 || (others.Count > 0 && (others.Count < _cluster.F + 1 || others.Count > _cluster.N - 1)))
        {
            return false;
        }

        for (var i = 0; i < others.Count; i++)
        {
            var member = others[i].Member;
            if (member >= _cluster.N || member == vc.Sender || (i > 0 && member <= others[i - 1].Member))
            {
                return false;
            }
        }

        if (!VerifySuspicion(vc.Sender, proof.View, proof.SenderSignature))
        {
            return false;
        }

        for (var i = 0; i < others.Count; i++)
        {
            if (!VerifySuspicion(others[i].Member, proof.View, others[i].Signature))
            {
                return false;
            }
        }

        HoldSuspicion(vc.Sender, proof.View, proof.SenderSignature);
        for (var i = 0; i < others.Count; i++)
        {
            HoldSuspicion(others[i].Member, proof.View, others[i].Signature);
        }

        return true;
    }

    /// <summary>
    /// A status's word on its sender's suspicion, its signature (when it suspects) already checked: a suspicion of the
    /// view it shows is kept; a status of a normal view that does not suspect withdraws a suspicion held of that view.
    /// A suspicion held of another view stays: a member in a higher view left ours for good, and one in a lower view
    /// does not speak for ours.
    /// </summary>
    private void TakeStatusSuspicion(int from, ulong view, bool inViewChange, byte[]? signature)
    {
        if (signature is not null)
        {
            HoldSuspicion(from, view, signature);
        }
        else if (!inViewChange && _suspicions[from] is { } held && held.View == view)
        {
            _suspicions[from] = null;
        }
    }

    private void BroadcastStatus()
    {
        var suspects = SuspectsLeader;
        var w = Envelope.Begin(MessageType.Status, _self, 33 + (suspects ? SigningKey.SignatureSize : 0));
        w.U64(_view);
        w.Bool(_inViewChange);
        w.U64(_decided);
        w.Bool(suspects);
        if (suspects)
        {
            w.Fixed(OwnSuspicion(_view));
        }

        Broadcast(w.ToArray());
    }
}
