using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>A proposal with 2f+1 prepare signatures of one view over its header: what a VIEW-CHANGE carries forward.</summary>
public sealed class PreparedCertificate
{
    public PreparedCertificate(ulong view, Proposal proposal, IReadOnlyList<QcSignature> prepares)
    {
        View = view;
        Proposal = proposal;
        Prepares = prepares;
    }

    public ulong View { get; }

    public Proposal Proposal { get; }

    public IReadOnlyList<QcSignature> Prepares { get; }

    public ulong Height => Proposal.Header.Height;

    public void Write(CanonicalWriter w)
    {
        w.U64(View);
        Proposal.Write(w);
        new QuorumCertificate(View, Prepares).Write(w);
    }

    public static PreparedCertificate Read(ref CanonicalReader r)
    {
        var view = r.U64();
        var proposal = Proposal.Read(ref r);
        return new PreparedCertificate(view, proposal, ReadPrepares(ref r, view));
    }

    /// <summary>The prepares after a certificate's view and header or proposal, written as a QC that must be of that view.</summary>
    internal static IReadOnlyList<QcSignature> ReadPrepares(ref CanonicalReader r, ulong view)
    {
        var sigs = QuorumCertificate.Read(ref r);
        if (sigs.View != view)
        {
            throw new MalformedMessageException("prepared certificate mixes views");
        }

        return sigs.Signatures;
    }
}
