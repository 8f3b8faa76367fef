using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// Two prepare signatures of a view's leader for one height over different headers: transferable proof, checkable by
/// any member, that the leader equivocated. A VIEW-CHANGE(v+1) may carry it for the leader of view v, so a member shown
/// an equivocation alone takes the others along instead of leaving alone.
/// Body: u64 view ‖ u64 height ‖ (hash32 header ‖ sig64 prepare) × 2, the two headers in ascending byte order (one
/// encoding for one pair, wherever it is built).
/// </summary>
public sealed class EquivocationEvidence
{
    public const int EncodedLength = 8 + 8 + (2 * (Hash32.Size + SigningKey.SignatureSize));

    private EquivocationEvidence(ulong view, ulong height, Hash32 first, byte[] firstSignature, Hash32 second, byte[] secondSignature)
    {
        View = view;
        Height = height;
        First = first;
        FirstSignature = firstSignature;
        Second = second;
        SecondSignature = secondSignature;
    }

    /// <summary>The view whose leader signed both prepares.</summary>
    public ulong View { get; }

    public ulong Height { get; }

    public Hash32 First { get; }

    public byte[] FirstSignature { get; }

    public Hash32 Second { get; }

    public byte[] SecondSignature { get; }

    /// <summary>True when the headers are distinct and in ascending byte order, as <see cref="Of"/> writes them.</summary>
    public bool IsCanonical => Compare(First, Second) < 0;

    /// <summary>The evidence of two prepares, put in canonical order.</summary>
    public static EquivocationEvidence Of(ulong view, ulong height, Hash32 a, byte[] aSignature, Hash32 b, byte[] bSignature) =>
        Compare(a, b) <= 0
            ? new EquivocationEvidence(view, height, a, aSignature, b, bSignature)
            : new EquivocationEvidence(view, height, b, bSignature, a, aSignature);

    public void Write(CanonicalWriter w)
    {
        w.U64(View);
        w.U64(Height);
        w.Hash(First);
        w.Fixed(FirstSignature);
        w.Hash(Second);
        w.Fixed(SecondSignature);
    }

    /// <summary>Reads the encoding as it is; whether it proves anything (order, signer, signatures) the replica checks.</summary>
    public static EquivocationEvidence Read(ref CanonicalReader r)
    {
        var view = r.U64();
        var height = r.U64();
        var first = r.Hash();
        var firstSignature = r.Fixed(SigningKey.SignatureSize).ToArray();
        var second = r.Hash();
        var secondSignature = r.Fixed(SigningKey.SignatureSize).ToArray();
        return new EquivocationEvidence(view, height, first, firstSignature, second, secondSignature);
    }

    private static int Compare(Hash32 a, Hash32 b)
    {
        Span<byte> x = stackalloc byte[Hash32.Size];
        Span<byte> y = stackalloc byte[Hash32.Size];
        a.WriteTo(x);
        b.WriteTo(y);
        return x.SequenceCompareTo(y);
    }
}
