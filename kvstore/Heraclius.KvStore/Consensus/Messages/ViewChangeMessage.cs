using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// VIEW-CHANGE(v): the sender's last decided height with its header and QC, and its highest-view
/// prepared certificate for the next height. Body: u64 newView ‖ u64 lastDecided ‖ [header ‖ QC
/// if lastDecided &gt; 0] ‖ bool hasPrepared ‖ [prepared certificate] ‖ [suspicion proof]. Signed; kept as raw
/// bytes because NEW-VIEW forwards it unchanged as proof. The suspicion proof (<see cref="SuspicionProof"/>) is a
/// trailing optional field: a VIEW-CHANGE of the version before has none and means what it meant.
/// </summary>
public sealed class ViewChangeMessage
{
    public ViewChangeMessage(int sender, ulong newView, DecisionHeader? lastHeader, QuorumCertificate? lastQc, PreparedCertificate? prepared, byte[] raw,
        SuspicionProof? suspicions = null)
    {
        Suspicions = suspicions;
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

    public static byte[] Encode(int sender, ulong newView, DecisionHeader? lastHeader, QuorumCertificate? lastQc, PreparedCertificate? prepared, string cluster, SigningKey key,
        SuspicionProof? suspicions = null)
    {
        var w = Envelope.Begin(MessageType.ViewChange, sender, 512 + (suspicions?.EncodedLength ?? 0));
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
        r.End();
        return new ViewChangeMessage(sender, newView, header, qc, prepared, raw, suspicions);
    }
}
