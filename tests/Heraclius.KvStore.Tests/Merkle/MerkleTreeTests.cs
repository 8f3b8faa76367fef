using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.Tests.Merkle;

public sealed class MerkleTreeTests
{
    private static List<byte[]> Leaves(int count) =>
        [.. Enumerable.Range(0, count).Select(i => System.Text.Encoding.UTF8.GetBytes($"leaf-{i}"))];

    [Fact]
    public void EveryLeafOfTreesOf1To33Leaves_Verifies()
    {
        for (var n = 1; n <= 33; n++)
        {
            var hashes = Leaves(n).Select(l => MerkleTree.LeafHash(l)).ToList();
            var root = MerkleTree.Root(hashes);
            for (var i = 0; i < n; i++)
            {
                var proof = MerkleTree.Prove(hashes, i);
                Assert.True(proof.Verify(hashes[i], root), $"leaf {i} of {n}");
            }
        }
    }

    [Fact]
    public void LevelsBuiltOnce_HaveTheTreesRoot_AndProveEveryLeaf_ForTreesOf1To70Leaves()
    {
        for (var n = 1; n <= 70; n++)
        {
            var hashes = Leaves(n).Select(l => MerkleTree.LeafHash(l)).ToList();
            var root = MerkleTree.Root(hashes);
            var levels = new MerkleLevels(hashes);
            Assert.Equal(root, levels.Root);
            for (var i = 0; i < n; i++)
            {
                var proof = levels.Prove(i);
                Assert.True(proof.Verify(hashes[i], root), $"leaf {i} of {n}");
                Assert.False(proof.Verify(hashes[(i + 1) % n], root) && n > 1, $"leaf {i} of {n} proved another leaf");
            }
        }
    }

    [Fact]
    public void AnyFlippedByteInLeafProofOrRoot_FailsVerification()
    {
        for (var n = 1; n <= 33; n++)
        {
            var leaves = Leaves(n);
            var hashes = leaves.Select(l => MerkleTree.LeafHash(l)).ToList();
            var root = MerkleTree.Root(hashes);
            for (var i = 0; i < n; i++)
            {
                var proof = MerkleTree.Prove(hashes, i);
                var leaf = leaves[i];
                for (var b = 0; b < leaf.Length; b++)
                {
                    var tampered = (byte[])leaf.Clone();
                    tampered[b] ^= 0x01;
                    Assert.False(proof.Verify(MerkleTree.LeafHash(tampered), root));
                }

                for (var p = 0; p < proof.Path.Length; p++)
                {
                    for (var b = 0; b < Hash32.Size; b++)
                    {
                        var bytes = proof.Path[p].ToArray();
                        bytes[b] ^= 0x80;
                        var path = (Hash32[])proof.Path.Clone();
                        path[p] = Hash32.Parse(bytes);
                        Assert.False((proof with { Path = path }).Verify(hashes[i], root));
                    }
                }

                var rootBytes = root.ToArray();
                rootBytes[i % Hash32.Size] ^= 0x04;
                Assert.False(proof.Verify(hashes[i], Hash32.Parse(rootBytes)));
                if (n > 1)
                {
                    Assert.False((proof with { LeafIndex = (uint)((i + 1) % n) }).Verify(hashes[i], root));
                }
            }
        }
    }

    [Fact]
    public void LeafAndNodeDomainsAreSeparated_AnInnerNodeIsNotALeaf()
    {
        var hashes = Leaves(4).Select(l => MerkleTree.LeafHash(l)).ToList();
        var root = MerkleTree.Root(hashes);
        var inner = MerkleTree.NodeHash(hashes[0], hashes[1]);
        var twoLeafProof = new MerkleProof(0, 2, [MerkleTree.NodeHash(hashes[2], hashes[3])]);
        Assert.True(twoLeafProof.Verify(inner, root));
        var innerBytes = new byte[64];
        hashes[0].WriteTo(innerBytes);
        hashes[1].WriteTo(innerBytes.AsSpan(32));
        Assert.NotEqual(inner, MerkleTree.LeafHash(innerBytes));
    }

    [Fact]
    public void RootMatchesTheRecursiveDefinition()
    {
        for (var n = 1; n <= 33; n++)
        {
            var hashes = Leaves(n).Select(l => MerkleTree.LeafHash(l)).ToList();
            Assert.Equal(Recursive(hashes), MerkleTree.Root(hashes));
        }

        static Hash32 Recursive(List<Hash32> h)
        {
            if (h.Count == 1)
            {
                return h[0];
            }

            var k = 1;
            while (k * 2 < h.Count)
            {
                k *= 2;
            }

            return MerkleTree.NodeHash(Recursive(h[..k]), Recursive(h[k..]));
        }
    }
}
