using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// NEW-VIEW(v) from the leader of v: 2f+1 VIEW-CHANGE(v) messages as signed (<see cref="ViewChangeMessage.Forwarded"/>:
/// their certificates by reference), and the proposal they force (the highest-view prepared certificate's) or none.
/// Body: u64 view ‖ u32 count ‖ (bytes viewChange)* ‖ u8 forced ‖ [header ‖ bytes inputs]. The forced byte: 0 none, 2 the
/// header and inputs, 1 a whole proposal (a version before). Signed. Its size is one proposal's inputs and 2f+1 small
/// messages, whatever the proposals: each follower executes the forced inputs itself and checks the certified header.
/// </summary>
public sealed class NewViewMessage
{
    public const int MaxViewChanges = 256;

    private const byte NoProposal = 0;
    private const byte WholeProposal = 1;
    private const byte HeaderAndInputs = 2;

    public NewViewMessage(ulong view, IReadOnlyList<ViewChangeMessage> viewChanges, ForcedProposal? forced, byte[] raw)
    {
        View = view;
        ViewChanges = viewChanges;
        Forced = forced;
        Raw = raw;
    }

    public ulong View { get; }

    public IReadOnlyList<ViewChangeMessage> ViewChanges { get; }

    /// <summary>The proposal the leader says its VIEW-CHANGEs force, unchecked (see <see cref="Forces"/>).</summary>
    public ForcedProposal? Forced { get; }

    public byte[] Raw { get; }

    public static byte[] Encode(int sender, ulong view, IReadOnlyList<ViewChangeMessage> viewChanges, ForcedProposal? forced, string cluster, SigningKey key)
    {
        var w = Envelope.Begin(MessageType.NewView, sender, 4096 + (forced?.Inputs.Length ?? 0));
        w.U64(view);
        w.U32((uint)viewChanges.Count);
        foreach (var vc in viewChanges)
        {
            w.Bytes(vc.Forwarded);
        }

        w.U8(forced is null ? NoProposal : HeaderAndInputs);
        if (forced is not null)
        {
            forced.Header.Write(w);
            w.Bytes(forced.Inputs.Span);
        }

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

        ForcedProposal? forced;
        switch (r.U8())
        {
            case NoProposal:
                forced = null;
                break;
            case WholeProposal:
                var whole = Proposal.Read(ref r);
                forced = new ForcedProposal(whole.Header, whole.Inputs);
                break;
            case HeaderAndInputs:
                forced = new ForcedProposal(DecisionHeader.Read(ref r), r.Bytes(Proposal.MaxInputBytes));
                break;
            default:
                throw new MalformedMessageException("unknown forced proposal form");
        }

        r.End();
        return new NewViewMessage(view, vcs, forced, raw);
    }

    /// <summary>
    /// What a NEW-VIEW built from <paramref name="viewChanges"/> must propose: the highest-view prepared certificate for
    /// the height after the highest decided one, or none. Every follower re-derives this and refuses a NEW-VIEW that
    /// proposes otherwise (<see cref="Forces"/>).
    /// </summary>
    public static (ulong MaxDecided, CarriedCertificate? Forced) Derive(IReadOnlyList<ViewChangeMessage> viewChanges)
    {
        ulong maxDecided = 0;
        foreach (var vc in viewChanges)
        {
            maxDecided = Math.Max(maxDecided, vc.LastDecided);
        }

        CarriedCertificate? best = null;
        foreach (var vc in viewChanges)
        {
            var p = vc.Prepared;
            if (p is not null && p.Height == maxDecided + 1 && (best is null || p.View > best.View))
            {
                best = p;
            }
        }

        return (maxDecided, best);
    }

    /// <summary>
    /// True when the proposal carried is the one <paramref name="certificate"/> (<see cref="Derive"/>'s) forces: none for none,
    /// else its header, and inputs whose SHA-256 is that header's inputsDigest.
    /// </summary>
    public bool Forces(CarriedCertificate? certificate) =>
        certificate is null
            ? Forced is null
            : Forced is not null && Forced.Header.Hash == certificate.Header.Hash && Hash32.Of(Forced.Inputs.Span) == certificate.Header.InputsDigest;
}
