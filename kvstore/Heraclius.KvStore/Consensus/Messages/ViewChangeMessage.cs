using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// VIEW-CHANGE(v): the sender's last decided height with its header and QC, and its highest-view
/// prepared certificate for the next height. Body: u64 newView ‖ u64 lastDecided ‖ [header ‖ QC
/// if lastDecided &gt; 0] ‖ u8 prepared ‖ [certificate] ‖ [suspicion proof ‖ [equivocation evidence]]. The prepared
/// byte: 0 none; 2 by reference (<see cref="CarriedCertificate.WriteReference"/>); 3 the reference followed by
/// bytes inputs, the prepared proposal's; 1 the whole proposal (a version before: u64 view ‖ proposal ‖ QC). Signed, and
/// for form 3 the signature covers the message in form 2: the inputs are authenticated by the certified header's
/// inputsDigest, not by the signature, so a NEW-VIEW forwards the message without them (<see cref="Forwarded"/>) and
/// stays small however large the proposals are. The suspicion proof (<see cref="SuspicionProof"/>) and, after it, the
/// evidence of the old leader's equivocation (<see cref="EquivocationEvidence"/>) are trailing optional fields: a
/// VIEW-CHANGE of a version before has none (or no evidence) and means what it meant.
/// </summary>
public sealed class ViewChangeMessage
{
    private const byte NoCertificate = 0;
    private const byte WholeProposal = 1;
    private const byte ByReference = 2;
    private const byte WithInputs = 3;

    public ViewChangeMessage(int sender, ulong newView, DecisionHeader? lastHeader, QuorumCertificate? lastQc, CarriedCertificate? prepared, byte[] raw,
        SuspicionProof? suspicions = null, EquivocationEvidence? equivocation = null, byte[]? forwarded = null)
    {
        Suspicions = suspicions;
        Equivocation = equivocation;
        Sender = sender;
        NewView = newView;
        LastHeader = lastHeader;
        LastQc = lastQc;
        Prepared = prepared;
        Raw = raw;
        Forwarded = forwarded ?? raw;
    }

    public int Sender { get; }

    public ulong NewView { get; }

    public DecisionHeader? LastHeader { get; }

    public QuorumCertificate? LastQc { get; }

    public ulong LastDecided => LastHeader?.Height ?? 0;

    public CarriedCertificate? Prepared { get; }

    /// <summary>The message as sent or received.</summary>
    public byte[] Raw { get; }

    /// <summary>
    /// The message as its signature covers it, signature included: <see cref="Raw"/> without the certificate's inputs.
    /// What a NEW-VIEW carries, and what a signature check reads.
    /// </summary>
    public byte[] Forwarded { get; }

    /// <summary>True when the message carries no certificate, or one with its inputs (as every sender sends it).</summary>
    public bool IsWhole => Prepared is null || Prepared.Inputs is not null;

    /// <summary>
    /// True when the certificate came as a whole proposal (form 1, a version before): its outputs are checked by nobody and
    /// forwarded as they came, so a member could pad them until a NEW-VIEW carrying it passed the transport limit (review).
    /// Read from this node's own log only; from a peer it is refused.
    /// </summary>
    public bool IsLegacyWhole { get; private init; }

    /// <summary>The signed suspicions of view NewView-1 it carries, or null (a sender of the version before).</summary>
    public SuspicionProof? Suspicions { get; }

    /// <summary>Two prepares of the leader of view NewView-1 for one height and different headers, or null.</summary>
    public EquivocationEvidence? Equivocation { get; }

    /// <summary>The VIEW-CHANGE as sent: with the prepared proposal's inputs (form 3), signed by reference (form 2).</summary>
    public static byte[] Encode(int sender, ulong newView, DecisionHeader? lastHeader, QuorumCertificate? lastQc, PreparedCertificate? prepared, string cluster, SigningKey key,
        SuspicionProof? suspicions = null, EquivocationEvidence? equivocation = null)
    {
        if (equivocation is not null && suspicions is null)
        {
            // The evidence follows the proof: without one, a reader would take it for a proof.
            throw new ArgumentException("equivocation evidence needs the suspicion proof before it", nameof(equivocation));
        }

        var w = Envelope.Begin(MessageType.ViewChange, sender, 1024 + (suspicions?.EncodedLength ?? 0) + (equivocation is null ? 0 : EquivocationEvidence.EncodedLength));
        w.U64(newView);
        w.U64(lastHeader?.Height ?? 0);
        if (lastHeader is not null)
        {
            lastHeader.Write(w);
            lastQc!.Write(w);
        }

        var formAt = w.Length;
        w.U8(prepared is null ? NoCertificate : ByReference);
        if (prepared is not null)
        {
            CarriedCertificate.Of(prepared).WriteReference(w);
        }

        var inputsAt = w.Length;
        suspicions?.Write(w);
        equivocation?.Write(w);
        var signed = Envelope.Finish(w, cluster, key);
        if (prepared is null)
        {
            return signed;
        }

        // The inputs go in after the reference, outside what was signed.
        var inputs = prepared.Proposal.Inputs.Span;
        var whole = new byte[signed.Length + 4 + inputs.Length];
        signed.AsSpan(0, inputsAt).CopyTo(whole);
        whole[formAt] = WithInputs;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(whole.AsSpan(inputsAt), (uint)inputs.Length);
        inputs.CopyTo(whole.AsSpan(inputsAt + 4));
        signed.AsSpan(inputsAt).CopyTo(whole.AsSpan(inputsAt + 4 + inputs.Length));
        return whole;
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

        var formAt = Envelope.HeaderSize + r.Position;
        CarriedCertificate? prepared;
        byte[]? forwarded = null;
        var legacyWhole = false;
        switch (r.U8())
        {
            case NoCertificate:
                prepared = null;
                break;
            case WholeProposal:
                var legacy = PreparedCertificate.Read(ref r);
                prepared = new CarriedCertificate(legacy.View, legacy.Proposal.Header, legacy.Prepares, legacy.Proposal.Inputs);
                legacyWhole = true;
                break;
            case ByReference:
                prepared = CarriedCertificate.ReadReference(ref r);
                break;
            case WithInputs:
                prepared = CarriedCertificate.ReadReference(ref r);
                var inputsAt = Envelope.HeaderSize + r.Position;
                prepared = prepared.WithInputs(r.Bytes(Proposal.MaxInputBytes));
                var inputsEnd = Envelope.HeaderSize + r.Position;
                forwarded = new byte[raw.Length - (inputsEnd - inputsAt)];
                raw.AsSpan(0, inputsAt).CopyTo(forwarded);
                forwarded[formAt] = ByReference;
                raw.AsSpan(inputsEnd).CopyTo(forwarded.AsSpan(inputsAt));
                break;
            default:
                throw new MalformedMessageException("unknown prepared certificate form");
        }

        var suspicions = r.Remaining > 0 ? SuspicionProof.Read(ref r) : null;
        var equivocation = r.Remaining > 0 ? EquivocationEvidence.Read(ref r) : null;
        r.End();
        return new ViewChangeMessage(sender, newView, header, qc, prepared, raw, suspicions, equivocation, forwarded) { IsLegacyWhole = legacyWhole };
    }
}
