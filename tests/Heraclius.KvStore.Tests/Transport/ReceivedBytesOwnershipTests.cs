using System.Buffers;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Transport.Grpc;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>
/// The receive path parses messages as views of the bytes that arrived instead of copying fields
/// out of them. That is safe only because protobuf's parse is the one copy out of the transport's
/// reused buffers: these tests pin both halves.
/// </summary>
public sealed class ReceivedBytesOwnershipTests
{
    [Fact]
    public void ProtobufParse_CopiesBytesFieldsOutOfTheTransportBuffer()
    {
        var payloads = new PeerPayloads();
        payloads.Payload.Add(ByteString.CopyFrom(1, 2, 3));
        payloads.Payload.Add(ByteString.CopyFrom(4, 5));
        var wire = new PeerFrame { Payloads = payloads }.ToByteArray();
        var decisionWire = new DecisionFrame { CompactDecision = ByteString.CopyFrom(6, 7, 8) }.ToByteArray();
        var submitWire = new SubmitRequest { Batch = ByteString.CopyFrom(9, 10) }.ToByteArray();

        // gRPC hands the deserializer a sequence over its own buffers, which it reuses once the call returns.
        var frame = PeerFrame.Parser.ParseFrom(new ReadOnlySequence<byte>(wire));
        var decision = DecisionFrame.Parser.ParseFrom(new ReadOnlySequence<byte>(decisionWire));
        var submit = SubmitRequest.Parser.ParseFrom(new ReadOnlySequence<byte>(submitWire));
        Array.Clear(wire);
        Array.Clear(decisionWire);
        Array.Clear(submitWire);

        Assert.Equal([1, 2, 3], frame.Payloads.Payload[0].Memory.ToArray());
        Assert.Equal([4, 5], frame.Payloads.Payload[1].Memory.ToArray());
        Assert.Equal([6, 7, 8], decision.CompactDecision.Memory.ToArray());
        Assert.Equal([9, 10], submit.Batch.Memory.ToArray());
    }

    [Fact]
    public void ClientBatchParse_IsAViewOfTheBytesItWasGiven()
    {
        using var key = SigningKey.Generate();
        var created = ClientBatch.Create("client-0", "c0", [new ClientRequest(7, new byte[] { 1, 2, 3 }), new ClientRequest(8, new byte[] { 4 })], key);
        var bytes = created.Bytes.ToArray();

        var parsed = ClientBatch.Parse(bytes);

        Assert.True(MemoryMarshal.TryGetArray(parsed.Bytes, out var whole));
        Assert.Same(bytes, whole.Array);
        Assert.True(MemoryMarshal.TryGetArray(parsed.Requests[0].Operation, out var op));
        Assert.Same(bytes, op.Array);
        Assert.Equal([1, 2, 3], parsed.Requests[0].Operation.ToArray());
        Assert.Equal([4], parsed.Requests[1].Operation.ToArray());
        Assert.True(parsed.VerifySignature(key.PublicKey));
        Assert.Equal(created.Digest, parsed.Digest);
    }

    [Fact]
    public void BytesMemory_SlicesOnlyAReaderOverMemory_AndCopiesFromASpan()
    {
        var w = new CanonicalWriter(16);
        w.Bytes([1, 2, 3]);
        var bytes = w.Detach();

        var overMemory = CanonicalReader.Over(bytes);
        Assert.True(MemoryMarshal.TryGetArray(overMemory.BytesMemory(16), out var slice));
        Assert.Same(bytes, slice.Array);
        Assert.Equal(4, slice.Offset);

        var overSpan = new CanonicalReader(bytes);
        Assert.True(MemoryMarshal.TryGetArray(overSpan.BytesMemory(16), out var copy));
        Assert.NotSame(bytes, copy.Array);
        Assert.Equal([1, 2, 3], copy.Array);

        var tooLong = CanonicalReader.Over(bytes);
        try
        {
            tooLong.BytesMemory(2);
            Assert.Fail("a field over the limit was read");
        }
        catch (MalformedMessageException)
        {
        }
    }
}
