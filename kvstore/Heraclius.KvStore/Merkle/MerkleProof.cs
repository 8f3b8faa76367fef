using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Merkle;

/// <summary>An inclusion proof for one leaf: its index, the tree size and the sibling hashes from the leaf up.</summary>
public sealed record MerkleProof(uint LeafIndex, uint LeafCount, Hash32[] Path)
{
    public const int MaxDepth = 64;

    /// <summary>True when <paramref name="leafHash"/> at this proof's index rebuilds <paramref name="root"/>.</summary>
    public bool Verify(Hash32 leafHash, Hash32 root)
    {
        if (LeafCount == 0 || LeafIndex >= LeafCount)
        {
            return false;
        }

        // RFC 9162 section 2.1.3.2.
        ulong fn = LeafIndex;
        ulong sn = LeafCount - 1;
        var r = leafHash;
        foreach (var p in Path)
        {
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                r = MerkleTree.NodeHash(p, r);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = MerkleTree.NodeHash(r, p);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && r == root;
    }

    public int EncodedLength => 12 + (Path.Length * Hash32.Size);

    public void Write(CanonicalWriter w)
    {
        w.U32(LeafIndex);
        w.U32(LeafCount);
        w.U32((uint)Path.Length);
        foreach (var h in Path)
        {
            w.Hash(h);
        }
    }

    public static MerkleProof Read(ref CanonicalReader r)
    {
        var index = r.U32();
        var count = r.U32();
        var depth = r.Count(MaxDepth);
        var path = new Hash32[depth];
        for (var i = 0; i < depth; i++)
        {
            path[i] = r.Hash();
        }

        return new MerkleProof(index, count, path);
    }
}
