using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Decisions;

/// <summary>
/// The certified summary of one decision. It has no view: a QC names the view, so the same
/// header re-proposed after a view change keeps its hash. Field order is the wire format.
/// </summary>
public sealed class DecisionHeader
{
    public const int MaxClusterIdBytes = 64;

    private byte[]? _bytes;
    private Hash32? _hash;

    public DecisionHeader(string cluster, ulong height, Hash32 prevHeaderHash, Hash32 inputsDigest, Hash32 outputsRoot, Hash32 stateRoot)
    {
        Cluster = cluster;
        Height = height;
        PrevHeaderHash = prevHeaderHash;
        InputsDigest = inputsDigest;
        OutputsRoot = outputsRoot;
        StateRoot = stateRoot;
    }

    public string Cluster { get; }

    public ulong Height { get; }

    public Hash32 PrevHeaderHash { get; }

    public Hash32 InputsDigest { get; }

    public Hash32 OutputsRoot { get; }

    /// <summary>The Merkle root over the replicated state after this decision at checkpoint heights; zero elsewhere.</summary>
    public Hash32 StateRoot { get; }

    public byte[] Bytes => _bytes ??= Encode();

    public Hash32 Hash => _hash ??= Hash32.Of(Bytes);

    /// <summary>The size of <see cref="Bytes"/>.</summary>
    public int EncodedLength => CanonicalWriter.StringSize(Cluster) + 8 + (4 * Hash32.Size);

    private byte[] Encode()
    {
        var w = new CanonicalWriter(EncodedLength);
        Write(w);
        return w.Detach();
    }

    public void Write(CanonicalWriter w)
    {
        if (_bytes is not null)
        {
            w.Fixed(_bytes);
            return;
        }

        w.String(Cluster);
        w.U64(Height);
        w.Hash(PrevHeaderHash);
        w.Hash(InputsDigest);
        w.Hash(OutputsRoot);
        w.Hash(StateRoot);
    }

    /// <summary>
    /// Reads a header and keeps the bytes it was read from as its encoding: its hash is needed for
    /// every header received, and the reader's strict rules make those bytes the canonical encoding,
    /// so re-encoding them (a writer and two arrays) bought nothing.
    /// </summary>
    public static DecisionHeader Read(ref CanonicalReader r)
    {
        var start = r.Position;
        var header = new DecisionHeader(r.String(MaxClusterIdBytes), r.U64(), r.Hash(), r.Hash(), r.Hash(), r.Hash());
        header._bytes = r.Since(start).ToArray();
        return header;
    }

    public static DecisionHeader FromBytes(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var h = Read(ref r);
        r.End();
        return h;
    }

    public override string ToString() => $"{Cluster}@{Height}#{Hash.Short}";
}
