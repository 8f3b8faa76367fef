using System.Buffers.Binary;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// A decision as a catch-up reply carries it: the header, its inputs and the QC, without the outputs, which the node
/// catching up computes anyway and checks against the certified header (a decision's answers may be many times its
/// inputs, and a reply must fit one transport message); or, from a node of the version before, the whole decision.
/// Lean encoding: u32 0xFFFFFFFF ‖ header ‖ bytes inputs ‖ QC; a whole decision starts with its header's cluster id,
/// whose length is never that.
/// </summary>
public sealed record CatchUpDecision(DecisionHeader Header, ReadOnlyMemory<byte> Inputs, QuorumCertificate Qc, Proposal? Whole)
{
    private const uint LeanMarker = uint.MaxValue;

    public ulong Height => Header.Height;

    /// <summary>The size of <paramref name="decision"/>'s lean encoding.</summary>
    public static int LeanLength(Decision decision) =>
        4 + decision.Header.EncodedLength + 4 + decision.Proposal.Inputs.Length + decision.Qc.EncodedLength;

    /// <summary>Writes <paramref name="decision"/> lean, as a length-prefixed item (<see cref="CanonicalWriter.Bytes"/>).</summary>
    public static void WriteLean(CanonicalWriter w, Decision decision)
    {
        w.U32((uint)LeanLength(decision));
        w.U32(LeanMarker);
        decision.Header.Write(w);
        w.Bytes(decision.Proposal.Inputs.Span);
        decision.Qc.Write(w);
    }

    public static CatchUpDecision Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == LeanMarker)
        {
            var r = new CanonicalReader(bytes[4..]);
            var header = DecisionHeader.Read(ref r);
            var inputs = r.Bytes(Proposal.MaxInputBytes);
            var qc = QuorumCertificate.Read(ref r);
            r.End();
            return new CatchUpDecision(header, inputs, qc, null);
        }

        var whole = Decision.FromBytes(bytes);
        return new CatchUpDecision(whole.Header, whole.Proposal.Inputs, whole.Qc, whole.Proposal);
    }
}
