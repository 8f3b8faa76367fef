using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Decisions;

/// <summary>
/// The exact bytes a prepare or commit signature covers:
/// "HRCL-VOTE" ‖ u8 kind ‖ cluster ‖ u64 view ‖ u64 height ‖ H(header).
/// </summary>
public static class VoteStatement
{
    private static readonly byte[] Domain = "HRCL-VOTE"u8.ToArray();

    public static byte[] Bytes(VoteKind kind, string cluster, ulong view, ulong height, Hash32 headerHash)
    {
        var w = new CanonicalWriter(96);
        w.Fixed(Domain);
        w.U8((byte)kind);
        w.String(cluster);
        w.U64(view);
        w.U64(height);
        w.Hash(headerHash);
        return w.ToArray();
    }
}
