using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// NEW-VIEW(v) from the leader of v: 2f+1 VIEW-CHANGE(v) messages as sent, and the proposal they
/// force (the highest-view prepared certificate's, byte for byte) or none. Body: u64 view ‖ u32
/// count ‖ (bytes viewChange)* ‖ bool hasProposal ‖ [proposal]. Signed.
/// </summary>
public sealed class NewViewMessage
{
    public const int MaxViewChanges = 256;

    public NewViewMessage(ulong view, IReadOnlyList<ViewChangeMessage> viewChanges, Proposal? proposal, byte[] raw)
    {
        View = view;
        ViewChanges = viewChanges;
        Proposal = proposal;
        Raw = raw;
    }

    public ulong View { get; }

    public IReadOnlyList<ViewChangeMessage> ViewChanges { get; }

    public Proposal? Proposal { get; }

    public byte[] Raw { get; }

    public static byte[] Encode(int sender, ulong view, IReadOnlyList<ViewChangeMessage> viewChanges, Proposal? proposal, string cluster, SigningKey key)
    {
        var w = Envelope.Begin(MessageType.NewView, sender, 4096);
        w.U64(view);
        w.U32((uint)viewChanges.Count);
        foreach (var vc in viewChanges)
        {
            w.Bytes(vc.Raw);
        }

        w.Bool(proposal is not null);
        proposal?.Write(w);
        return Envelope.Finish(w, cluster, key);
    }

    public static NewViewMessage Parse(byte[] raw)
    {
        var (type, _, body) = Envelope.Open(raw);
        if (type != MessageType.NewView)
        {
            throw new MalformedMessageException("not a new view");
        }

        var r = new CanonicalReader(body.Span);
        var view = r.U64();
        var count = r.Count(MaxViewChanges);
        var vcs = new ViewChangeMessage[count];
        for (var i = 0; i < count; i++)
        {
            vcs[i] = ViewChangeMessage.Parse(r.Bytes(Proposal.MaxInputBytes * 2));
        }

        var proposal = r.Bool() ? Proposal.Read(ref r) : null;
        r.End();
        return new NewViewMessage(view, vcs, proposal, raw);
    }

    /// <summary>
    /// What a NEW-VIEW built from <paramref name="viewChanges"/> must propose: the proposal of the
    /// highest-view prepared certificate for the height after the highest decided one, or none.
    /// Every follower re-derives this and refuses a NEW-VIEW that proposes otherwise.
    /// </summary>
    public static (ulong MaxDecided, Proposal? Forced) Derive(IReadOnlyList<ViewChangeMessage> viewChanges)
    {
        ulong maxDecided = 0;
        foreach (var vc in viewChanges)
        {
            maxDecided = Math.Max(maxDecided, vc.LastDecided);
        }

        PreparedCertificate? best = null;
        foreach (var vc in viewChanges)
        {
            var p = vc.Prepared;
            if (p is not null && p.Height == maxDecided + 1 && (best is null || p.View > best.View))
            {
                best = p;
            }
        }

        return (maxDecided, best?.Proposal);
    }
}
