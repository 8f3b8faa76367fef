using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// The leader's proposal for one (view, height): envelope ‖ u64 view ‖ proposal ‖ the leader's own prepare signature.
/// The prepare signature (over "HRCL-VOTE" ‖ prepare ‖ cluster ‖ view ‖ height ‖ H(header), as every prepare)
/// authenticates the header, and the header's inputs digest and outputs root authenticate the rest, which every
/// follower checks anyway; so the message carries no envelope signature of its own, and the leader sends no
/// separate prepare. Followers count it as the leader's prepare: per decision, three signature checks, three
/// messages and a SHA-256 pass over the whole proposal on every node fewer than a signed envelope plus a prepare.
/// </summary>
public static class PrePrepareMessage
{
    /// <summary>The pre-prepare of <paramref name="proposal"/> in <paramref name="view"/>, carrying <paramref name="prepareSignature"/>.</summary>
    public static byte[] Encode(int sender, ulong view, Proposal proposal, ReadOnlySpan<byte> prepareSignature)
    {
        if (prepareSignature.Length != SigningKey.SignatureSize)
        {
            throw new ArgumentException("an Ed25519 signature is 64 bytes", nameof(prepareSignature));
        }

        var w = Envelope.Begin(MessageType.PrePrepare, sender, Envelope.Size(MessageType.PrePrepare, 8 + proposal.EncodedLength + SigningKey.SignatureSize));
        w.U64(view);
        proposal.Write(w);
        w.Fixed(prepareSignature);
        return w.Detach();
    }

    /// <summary>Signs the leader's prepare of <paramref name="proposal"/> and encodes the pre-prepare around it (Ed25519 is deterministic: the same bytes every time).</summary>
    public static byte[] Sign(string cluster, int sender, ulong view, Proposal proposal, SigningKey key) =>
        Encode(sender, view, proposal, key.Sign(VoteStatement.Bytes(VoteKind.Prepare, cluster, view, proposal.Header.Height, proposal.Header.Hash)));

    /// <summary>
    /// Reads a pre-prepare's body (the envelope opened); the proposal's inputs and payloads are slices of
    /// <paramref name="body"/>, which must never change. Verifies nothing; throws when malformed.
    /// </summary>
    public static (ulong View, Proposal Proposal, byte[] PrepareSignature) Read(ReadOnlyMemory<byte> body)
    {
        var r = CanonicalReader.Over(body);
        var view = r.U64();
        var proposal = Proposal.Read(ref r);
        var signature = r.Fixed(SigningKey.SignatureSize).ToArray();
        r.End();
        return (view, proposal, signature);
    }
}
