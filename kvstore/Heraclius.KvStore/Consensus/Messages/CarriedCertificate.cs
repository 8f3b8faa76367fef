using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// The prepared certificate a VIEW-CHANGE carries: the view, the prepared header and 2f+1 prepare signatures of that
/// view over it, and the proposal's inputs when the message came straight from its sender (a NEW-VIEW forwards the
/// VIEW-CHANGE without them). The outputs never travel: whoever needs the proposal executes the inputs, and the
/// header's outputsRoot and stateRoot, which the prepares certify, say what that execution must give.
/// </summary>
public sealed class CarriedCertificate
{
    public CarriedCertificate(ulong view, DecisionHeader header, IReadOnlyList<QcSignature> prepares, ReadOnlyMemory<byte>? inputs)
    {
        View = view;
        Header = header;
        Prepares = prepares;
        Inputs = inputs;
    }

    public ulong View { get; }

    public DecisionHeader Header { get; }

    public IReadOnlyList<QcSignature> Prepares { get; }

    /// <summary>The prepared proposal's inputs, unchecked against the header (see <see cref="InputsMatch"/>), or null in a VIEW-CHANGE forwarded by reference.</summary>
    public ReadOnlyMemory<byte>? Inputs { get; }

    public ulong Height => Header.Height;

    /// <summary>True when the inputs carried are the header's (their SHA-256 is its inputsDigest).</summary>
    public bool InputsMatch => Inputs is { } inputs && Crypto.Hash32.Of(inputs.Span) == Header.InputsDigest;

    public static CarriedCertificate Of(PreparedCertificate prepared) =>
        new(prepared.View, prepared.Proposal.Header, prepared.Prepares, prepared.Proposal.Inputs);

    /// <summary>The reference form, what the sender's signature covers: u64 view ‖ header ‖ prepares (as a QC of that view).</summary>
    public void WriteReference(CanonicalWriter w)
    {
        w.U64(View);
        Header.Write(w);
        new QuorumCertificate(View, Prepares).Write(w);
    }

    public static CarriedCertificate ReadReference(ref CanonicalReader r)
    {
        var view = r.U64();
        var header = DecisionHeader.Read(ref r);
        return new CarriedCertificate(view, header, PreparedCertificate.ReadPrepares(ref r, view), null);
    }

    public CarriedCertificate WithInputs(ReadOnlyMemory<byte> inputs) => new(View, Header, Prepares, inputs);
}
