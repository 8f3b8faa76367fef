using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// VIEW-CHANGE(v): the sender's last decided height with its header and QC, and its highest-view
/// prepared certificate for the next height. Body: u64 newView ‖ u64 lastDecided ‖ [header ‖ QC
/// if lastDecided &gt; 0] ‖ bool hasPrepared ‖ [prepared certificate] ‖ [suspicion proof ‖ [equivocation evidence]].
/// Signed; kept as raw bytes because NEW-VIEW forwards it unchanged as proof. The suspicion proof
/// (<see cref="SuspicionProof"/>) and, after it, the evidence of the old leader's equivocation
/// (<see cref="EquivocationEvidence"/>) are trailing optional fields: a VIEW-CHANGE of a version before has none (or
/// no evidence) and means what it meant.
/// </summary>
public sealed class ViewChangeMessage
{
    public ViewChangeMessage(int sender, ulong newView, DecisionHeader? lastHeader, QuorumCertificate? lastQc, PreparedCertificate? prepared, byte[] raw,
        SuspicionProof? suspicions = null, EquivocationEvidence? equivocation = null)
    {
        Suspicions = suspicions;
        Equivocation = equivocation;
        Sender = sender;
        NewView = newView;
        LastHeader = lastHeader;
        LastQc = lastQc;
        Prepared = prepared;
        Raw = raw;
    }

    public int Sender { get; }

    public ulong NewView { get; }

    public DecisionHeader? LastHeader { get; }

    public QuorumCertificate? LastQc { get; }

    public ulong LastDecided => LastHeader?.Height ?? 0;

    public PreparedCertificate? Prepared { get; }

    public byte[] Raw { get; }

    /// <summary>The signed suspicions of view NewView-1 it carries, or null (a sender of the version before).</summary>
    public SuspicionProof? Suspicions { get; }

    /// <summary>Two prepares of the leader of view NewView-1 for one height and different headers, or null.</summary>
    public EquivocationEvidence? Equivocation { get; }

    public static byte[] Encode(int sender, ulong newView, DecisionHeader? lastHeader, QuorumCertificate? lastQc, PreparedCertificate? prepared, string cluster, SigningKey key,
        SuspicionProof? suspicions = null, EquivocationEvidence? equivocation = null)
    {
        if (equivocation is not null && suspicions is null)
        {
            // The evidence follows the proof: without one, a reader would take it for a proof.
            throw new ArgumentException("equivocation evidence needs the suspicion proof before it", nameof(equivocation));
        }

        var w = Envelope.Begin(MessageType.ViewChange, sender, 512 + (suspicions?.EncodedLength ?? 0) + (equivocation is null ? 0 : EquivocationEvidence.EncodedLength));
        w.U64(newView);
        w.U64(lastHeader?.Height ?? 0);
        if (lastHeader is not null)
        {
            lastHeader.Write(w);
            lastQc!.Write(w);
        }

        w.Bool(prepared is not null);
        prepared?.Write(w);
        suspicions?.Write(w);
        equivocation?.Write(w);
        return Envelope.Finish(w, cluster, key);
    }

    public static ViewChangeMessage Parse(byte[] raw)
    {
        var (type, sender, body) = Envelope.Open(raw);
        if (type != MessageType.ViewChange)
        {
            throw new MalformedMessageException("not a view change");
        }

        var r = new CanonicalReader(body.Span);
        var newView = r.U64();
        var lastDecided = r.U64();
        DecisionHeader? header = null;
        QuorumCertificate? qc = null;
        if (lastDecided > 0)
        {
            header = DecisionHeader.Read(ref r);
            qc = QuorumCertificate.Read(ref r);
            if (header.Height != lastDecided)
            {
                throw new MalformedMessageException("view change height mismatch");
            }
        }

        var prepared = r.Bool() ? PreparedCertificate.Read(ref r) : null;
        var suspicions = r.Remaining > 0 ? SuspicionProof.Read(ref r) : null;
        var equivocation = r.Remaining > 0 ? EquivocationEvidence.Read(ref r) : null;
        r.End();
        return new ViewChangeMessage(sender, newView, header, qc, prepared, raw, suspicions, equivocation);
    }
}
