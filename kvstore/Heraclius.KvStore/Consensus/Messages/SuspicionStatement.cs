using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// The exact bytes a suspicion signature covers: "HRCL-SUSPECT" ‖ cluster ‖ u64 view. Its own domain tag, so a
/// suspicion can never be read as a vote ("HRCL-VOTE"), a signed message ("HRCL-MSG") or a client batch
/// ("HRCL-BATCH"), nor those as a suspicion.
/// </summary>
public static class SuspicionStatement
{
    private static readonly byte[] Domain = "HRCL-SUSPECT"u8.ToArray();

    /// <summary>The size of the statement for <paramref name="cluster"/>.</summary>
    public static int Size(string cluster) => Domain.Length + CanonicalWriter.StringSize(cluster) + 8;

    public static byte[] Bytes(string cluster, ulong view)
    {
        var statement = GC.AllocateUninitializedArray<byte>(Size(cluster));
        Write(statement, cluster, view);
        return statement;
    }

    /// <summary>Writes the statement into <paramref name="destination"/>, exactly <see cref="Size"/> bytes.</summary>
    public static void Write(Span<byte> destination, string cluster, ulong view)
    {
        var w = new SpanWriter(destination);
        w.Fixed(Domain);
        w.String(cluster);
        w.U64(view);
        w.End();
    }
}
