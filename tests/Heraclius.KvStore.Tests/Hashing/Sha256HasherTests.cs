using System.Runtime.InteropServices;
using System.Security.Cryptography;
using CsCheck;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.Tests.Hashing;

public sealed class Sha256HasherTests
{
    // Inputs split into parts at random points: each part is appended on its own.
    private static readonly Gen<(byte[] Data, int[] Cuts)> SplitInputs =
        Gen.Byte.Array[0, 400].SelectMany(data => Gen.Int[0, data.Length].Array[0, 4].Select(cuts => (data, cuts)));

    [Fact]
    public void WhereLibcrypto3Loads_TheOpenSslPathIsTaken()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libcrypto.so.3", out var handle))
        {
            return;
        }

        NativeLibrary.Free(handle);
        Assert.True(OpenSslSha256.Available);
        using var hasher = Sha256Hasher.Create();
        Assert.True(hasher.IsNative);
        Assert.True(Hash32.ThreadHasher.IsNative);
    }

    [Fact]
    public void BothHashers_GiveSha256_OfAnyInputAppendedInAnyParts_AndStartAfreshAfterEachDigest()
    {
        // Sample runs on several threads: a hasher each, reused for ten inputs.
        SplitInputs.Array[10].Sample(inputs =>
        {
            using var fast = Sha256Hasher.Create();
            using var portable = Sha256Hasher.CreatePortable();
            foreach (var (data, cuts) in inputs)
            {
                var expected = SHA256.HashData(data);
                Assert.Equal(expected, DigestInParts(fast, data, cuts));
                Assert.Equal(expected, DigestInParts(portable, data, cuts));
            }
        }, iter: 300);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(55)]
    [InlineData(56)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(119)]
    [InlineData(120)]
    [InlineData(1 << 20)]
    public void AtEveryPaddingBoundary_AndForAMebibyte_TheDigestIsSha256(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        using var fast = Sha256Hasher.Create();
        Assert.Equal(SHA256.HashData(data), DigestInParts(fast, data, []));
        Assert.Equal(Hash32.Parse(SHA256.HashData(data)), Hash32.Of(data));
    }

    [Fact]
    public void MerkleHashes_AreTheRfc9162Shapes_OverSha256()
    {
        var left = Hash32.Of("left"u8);
        var right = Hash32.Of("right"u8);
        Assert.Equal(Hash32.Parse(SHA256.HashData([0x00, .. "leaf"u8])), MerkleTree.LeafHash("le"u8, "af"u8));
        Assert.Equal(Hash32.Parse(SHA256.HashData([0x01, .. left.ToArray(), .. right.ToArray()])), MerkleTree.NodeHash(left, right));
        Assert.Equal(Hash32.Parse(SHA256.HashData([])), MerkleTree.EmptyRoot);
    }

    [Fact]
    public void EveryThread_HashesWithItsOwnContext()
    {
        var inputs = Enumerable.Range(0, 64).Select(i => Enumerable.Range(0, 100 + i).Select(b => (byte)(b * i)).ToArray()).ToArray();
        var expected = inputs.Select(SHA256.HashData).ToArray();
        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var k = i % inputs.Length;
            Assert.Equal(Hash32.Parse(expected[k]), Hash32.Of(inputs[k]));
        });
    }

    private static byte[] DigestInParts(Sha256Hasher hasher, byte[] data, int[] cuts)
    {
        var start = 0;
        foreach (var cut in cuts.Order())
        {
            hasher.AppendData(data.AsSpan(start, cut - start));
            start = cut;
        }

        hasher.AppendData(data.AsSpan(start));
        var digest = new byte[Hash32.Size];
        hasher.GetHashAndReset(digest);
        return digest;
    }
}
