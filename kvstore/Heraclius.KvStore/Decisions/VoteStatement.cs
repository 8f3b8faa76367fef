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

    /// <summary>The size of the statement for <paramref name="cluster"/>.</summary>
    public static int Size(string cluster) => Domain.Length + 1 + CanonicalWriter.StringSize(cluster) + 8 + 8 + Hash32.Size;

    public static byte[] Bytes(VoteKind kind, string cluster, ulong view, ulong height, Hash32 headerHash)
    {
        var statement = GC.AllocateUninitializedArray<byte>(Size(cluster));
        Write(statement, kind, cluster, view, height, headerHash);
        return statement;
    }

    /// <summary>
    /// Writes the statement into <paramref name="destination"/>, exactly <see cref="Size"/> bytes: a
    /// replica verifies one per vote it receives, from a stack buffer rather than a writer and two arrays.
    /// </summary>
    public static void Write(Span<byte> destination, VoteKind kind, string cluster, ulong view, ulong height, Hash32 headerHash)
    {
        var w = new SpanWriter(destination);
        w.Fixed(Domain);
        w.U8((byte)kind);
        w.String(cluster);
        w.U64(view);
        w.U64(height);
        w.Hash(headerHash);
        w.End();
    }
}
