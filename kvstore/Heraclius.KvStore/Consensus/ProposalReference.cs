using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus;

/// <summary>
/// A proposal named in a WAL record instead of copied into it: u64 height ‖ H(header). The header
/// commits to the inputs (digest) and the outputs (Merkle root), so the hash names one proposal exactly.
/// </summary>
internal readonly record struct ProposalReference(ulong Height, Hash32 HeaderHash)
{
    public static ProposalReference Of(DecisionHeader header) => new(header.Height, header.Hash);

    public void Write(CanonicalWriter w)
    {
        w.U64(Height);
        w.Hash(HeaderHash);
    }

    public static ProposalReference Read(ref CanonicalReader r) => new(r.U64(), r.Hash());

    public override string ToString() => $"height {Height} header {HeaderHash.Short}";
}
