using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// The leader's proposal for one (view, height): envelope ‖ u64 view ‖ u8 form ‖ body ‖ the leader's own prepare signature,
/// where the body is, by <see cref="PrePrepareForm"/>: the whole proposal (0); the header and bytes inputs (1); the header
/// alone (2), its inputs being those the leader sent ahead for that view and height.
/// The prepare signature (over "HRCL-VOTE" ‖ prepare ‖ cluster ‖ view ‖ height ‖ H(header), as every prepare)
/// authenticates the header, and the header's inputs digest and outputs root authenticate the rest, which every
/// follower checks anyway; so the message carries no envelope signature of its own, and the leader sends no
/// separate prepare. Followers count it as the leader's prepare: per decision, three signature checks, three
/// messages and a SHA-256 pass over the whole proposal on every node fewer than a signed envelope plus a prepare.
/// </summary>
/// <remarks>
/// Why the lean forms: every follower executes the inputs and compares what it got with the header anyway, so outputs
/// shipped alongside only repeated what it computes, and inputs sent ahead arrived a second time. A leader sends the
/// lean form once; what it retransmits, and what a restarted leader sends again, is the inputs form, so a follower
/// that missed the inputs ahead (a dropped message, a reconnect) gets them within one resend interval. The whole form is
/// still read (a leader of a version before sends it) but no longer sent: its outputs have no bound of their own.
/// </remarks>
public static class PrePrepareMessage
{
    /// <summary>The pre-prepare of the whole <paramref name="proposal"/> in <paramref name="view"/>, carrying <paramref name="prepareSignature"/>.</summary>
    public static byte[] Encode(int sender, ulong view, Proposal proposal, ReadOnlySpan<byte> prepareSignature) =>
        Encode(sender, view, proposal, PrePrepareForm.Whole, prepareSignature);

    /// <summary>The pre-prepare of <paramref name="proposal"/> in <paramref name="form"/>.</summary>
    public static byte[] Encode(int sender, ulong view, Proposal proposal, PrePrepareForm form, ReadOnlySpan<byte> prepareSignature)
    {
        if (prepareSignature.Length != SigningKey.SignatureSize)
        {
            throw new ArgumentException("an Ed25519 signature is 64 bytes", nameof(prepareSignature));
        }

        var body = form switch
        {
            PrePrepareForm.Whole => proposal.EncodedLength,
            PrePrepareForm.Inputs => proposal.Header.EncodedLength + 4 + proposal.Inputs.Length,
            PrePrepareForm.HeaderOnly => proposal.Header.EncodedLength,
            _ => throw new ArgumentOutOfRangeException(nameof(form)),
        };
        var w = Envelope.Begin(MessageType.PrePrepare, sender, Envelope.Size(MessageType.PrePrepare, 8 + 1 + body + SigningKey.SignatureSize));
        w.U64(view);
        w.U8((byte)form);
        switch (form)
        {
            case PrePrepareForm.Whole:
                proposal.Write(w);
                break;
            case PrePrepareForm.Inputs:
                proposal.Header.Write(w);
                w.Bytes(proposal.Inputs.Span);
                break;
            default:
                proposal.Header.Write(w);
                break;
        }

        w.Fixed(prepareSignature);
        return w.Detach();
    }

    /// <summary>
    /// Signs the leader's prepare of <paramref name="proposal"/> and encodes the pre-prepare around it in <paramref name="form"/>
    /// (Ed25519 is deterministic: the same bytes every time).
    /// </summary>
    public static byte[] Sign(string cluster, int sender, ulong view, Proposal proposal, SigningKey key, PrePrepareForm form = PrePrepareForm.Whole) =>
        Encode(sender, view, proposal, form, key.Sign(VoteStatement.Bytes(VoteKind.Prepare, cluster, view, proposal.Header.Height, proposal.Header.Hash)));

    /// <summary>
    /// Reads a pre-prepare's body (the envelope opened); inputs and payloads are slices of <paramref name="body"/>, which
    /// must never change. Verifies nothing; throws when malformed.
    /// </summary>
    public static PrePrepare Read(ReadOnlyMemory<byte> body)
    {
        var r = CanonicalReader.Over(body);
        var view = r.U64();
        var form = (PrePrepareForm)r.U8();
        Proposal? whole = null;
        DecisionHeader header;
        ReadOnlyMemory<byte>? inputs = null;
        switch (form)
        {
            case PrePrepareForm.Whole:
                whole = Proposal.Read(ref r);
                header = whole.Header;
                inputs = whole.Inputs;
                break;
            case PrePrepareForm.Inputs:
                header = DecisionHeader.Read(ref r);
                inputs = r.BytesMemory(Proposal.MaxInputBytes);
                break;
            case PrePrepareForm.HeaderOnly:
                header = DecisionHeader.Read(ref r);
                break;
            default:
                throw new MalformedMessageException($"unknown pre-prepare form {(byte)form}");
        }

        var signature = r.Fixed(SigningKey.SignatureSize).ToArray();
        r.End();
        return new PrePrepare(view, header, form, inputs, whole, signature);
    }
}
