using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Consensus;

// Equivocation evidence: a leader's two prepares for one height, shown to every member in the VIEW-CHANGE.
public sealed partial class Replica
{
    // The latest evidence this member holds that a leader equivocated (two verified prepares): its VIEW-CHANGE of the
    // view above carries it. Logged only inside that VIEW-CHANGE (its bytes are logged whole, so a restart re-sends it).
    private EquivocationEvidence? _equivocation;

    /// <summary>
    /// Keeps the evidence when <paramref name="signature"/>, the leader of <paramref name="view"/>'s verified prepare of
    /// <paramref name="hash"/>, contradicts the leader's prepare we hold for another header at this height. True when it did.
    /// </summary>
    private bool TakeLeaderEquivocation(ulong view, ulong height, Hash32 hash, byte[] signature)
    {
        if (!_slot.Prepares.TryGet(view, _cluster.LeaderOf(view), out var held, out var heldSignature) || held == hash)
        {
            return false;
        }

        _equivocation = EquivocationEvidence.Of(view, height, held, heldSignature, hash, signature);
        return true;
    }

    /// <summary>The evidence our VIEW-CHANGE(<paramref name="newView"/>) carries: of the leader of the view below it, if we hold any.</summary>
    private EquivocationEvidence? EquivocationFor(ulong newView) =>
        _equivocation is { } e && newView > 0 && e.View == newView - 1 ? e : null;

    /// <summary>
    /// A member shown that the leader of our view signed prepares of two headers for one height leaves the view at
    /// once, with the evidence, so each member it reaches leaves too (before, the one shown it left alone, and the
    /// cluster went on without it, one fault short). Safety is untouched: only the moment a VIEW-CHANGE is sent moves.
    /// </summary>
    private void LeaveOnProvenEquivocation(string why)
    {
        if (_equivocation is { } e && e.View == _view && !_inViewChange && !VotesHeld)
        {
            StartViewChange(_view + 1, why);
        }
    }

    /// <summary>
    /// True when a VIEW-CHANGE's evidence proves that the leader of the view below it equivocated: of that view,
    /// two headers in canonical order (so distinct), each signature that leader's prepare of its header at the height.
    /// </summary>
    private bool IsValidEquivocation(EquivocationEvidence e, ulong newView)
    {
        if (newView == 0 || e.View != newView - 1 || !e.IsCanonical)
        {
            return false;
        }

        var leader = _cluster.LeaderOf(e.View);
        return VerifyVote(leader, VoteKind.Prepare, e.View, e.Height, e.First, e.FirstSignature)
            && VerifyVote(leader, VoteKind.Prepare, e.View, e.Height, e.Second, e.SecondSignature);
    }
}
