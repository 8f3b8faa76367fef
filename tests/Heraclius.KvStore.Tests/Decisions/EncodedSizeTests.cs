using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.Tests.Simulation;
using static Heraclius.KvStore.Tests.Decisions.CertifiedDecisionFactory;

namespace Heraclius.KvStore.Tests.Decisions;

/// <summary>
/// The sizes and shortcuts that let big messages be allocated once must describe exactly the bytes
/// the plain encoding produces: a wrong size would only cost a copy, but a wrong leaf hash is a fork.
/// </summary>
public sealed class EncodedSizeTests
{
    private static readonly TestTopology T = new(4, 1);

    [Fact]
    public void EncodedLengths_EqualTheEncodedBytes()
    {
        var p = Proposal(T, groups: 5);
        var qc = Qc(T, p.Header);
        Assert.Equal(p.Header.Bytes.Length, p.Header.EncodedLength);
        Assert.Equal(p.Bytes.Length, p.EncodedLength);
        Assert.Equal(new Decision(p, qc).ToBytes().Length, p.EncodedLength + qc.EncodedLength);
        foreach (var g in p.Outputs)
        {
            Assert.Equal(g.ToBytes().Length, g.EncodedLength);
        }

        var compact = p.Compact(qc, 3);
        var w = new CanonicalWriter();
        compact.Proof.Write(w);
        Assert.Equal(w.Length, compact.Proof.EncodedLength);
        Assert.Equal(compact.ToBytes(), CompactDecision.FromBytes(compact.ToBytes()).ToBytes());
    }

    [Fact]
    public void GroupLeafHash_IsTheLeafHashOfTheGroupBytes()
    {
        foreach (var destination in new[] { "c0", "client-7", "ü-ñ", new string('x', 600) })
        {
            var g = new OutputGroup(destination, 41, 43, (byte[])[.. Enumerable.Range(0, 300).Select(i => (byte)i)]);
            Assert.Equal(MerkleTree.LeafHash(g.ToBytes()), g.LeafHash());
        }
    }

    [Fact]
    public void SpanWriter_WritesWhatCanonicalWriterWrites()
    {
        var canonical = new CanonicalWriter();
        canonical.U8(7);
        canonical.String("client-ü");
        canonical.U64(ulong.MaxValue - 3);
        canonical.Hash(Crypto.Hash32.Of([5]));
        canonical.Bytes([1, 2, 3]);
        canonical.Fixed([9, 9]);
        canonical.U32(17);

        var bytes = new byte[canonical.Length];
        var w = new SpanWriter(bytes);
        w.U8(7);
        w.String("client-ü");
        w.U64(ulong.MaxValue - 3);
        w.Hash(Crypto.Hash32.Of([5]));
        w.Bytes([1, 2, 3]);
        w.Fixed([9, 9]);
        w.U32(17);
        w.End();
        Assert.Equal(canonical.ToArray(), bytes);
    }

    [Fact]
    public void ClusterPayload_DecodesTheMessagesItEncoded_AsSlices()
    {
        byte[][] messages = [[1], [], [2, 3, 4], [.. Enumerable.Repeat((byte)5, 300)]];
        var payload = Routing.ClusterPayload.Encode(messages);
        var decoded = Routing.ClusterPayload.Decode(payload);
        Assert.Equal(messages.Length, decoded.Length);
        for (var i = 0; i < messages.Length; i++)
        {
            Assert.Equal(messages[i], decoded[i].ToArray());
        }

        Assert.Throws<MalformedMessageException>(() => Routing.ClusterPayload.Decode(payload.AsMemory(0, payload.Length - 1)));
    }

    [Fact]
    public void Detach_HandsOverAnExactArrayAndEmptiesTheWriter()
    {
        var exact = new CanonicalWriter(12);
        exact.U32(1);
        exact.U64(2);
        var bytes = exact.Detach();
        Assert.Equal(12, bytes.Length);
        Assert.Equal(0, exact.Length);
        exact.U8(9);
        Assert.Equal(1u, BitConverter.ToUInt32(bytes));

        var loose = new CanonicalWriter(64);
        loose.Bytes([1, 2, 3]);
        Assert.Equal(new byte[] { 3, 0, 0, 0, 1, 2, 3 }, loose.Detach());

        var grown = new CanonicalWriter(0);
        for (var i = 0; i < 1000; i++)
        {
            grown.U32((uint)i);
        }

        Assert.Equal(4000, grown.WrittenSpan.Length);
        Assert.Equal(999u, BitConverter.ToUInt32(grown.WrittenSpan[3996..]));
    }
}
