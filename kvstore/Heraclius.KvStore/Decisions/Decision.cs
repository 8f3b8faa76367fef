using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Decisions;

/// <summary>A decided proposal with the QC that proves it. Self-certifying: any node may serve it.</summary>
public sealed class Decision
{
    public Decision(Proposal proposal, QuorumCertificate qc)
    {
        Proposal = proposal;
        Qc = qc;
    }

    public Proposal Proposal { get; }

    public QuorumCertificate Qc { get; }

    public DecisionHeader Header => Proposal.Header;

    public ulong Height => Proposal.Header.Height;

    public void Write(CanonicalWriter w)
    {
        Proposal.Write(w);
        Qc.Write(w);
    }

    /// <summary>The size of <see cref="ToBytes"/>.</summary>
    public int EncodedLength => Proposal.EncodedLength + Qc.EncodedLength;

    public byte[] ToBytes()
    {
        var w = new CanonicalWriter(EncodedLength);
        Write(w);
        return w.Detach();
    }

    public static Decision Read(ref CanonicalReader r) => new(Proposal.Read(ref r), QuorumCertificate.Read(ref r));

    public static Decision FromBytes(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var d = Read(ref r);
        r.End();
        return d;
    }
}
