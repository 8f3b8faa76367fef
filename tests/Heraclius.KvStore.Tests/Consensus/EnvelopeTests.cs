using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>Every message type a replica sends must open at its peers (ForwardInbound once did not).</summary>
public sealed class EnvelopeTests
{
    public static TheoryData<MessageType> AllTypes() => [.. Enum.GetValues<MessageType>()];

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void EveryDefinedType_Opens(MessageType type)
    {
        var w = Envelope.Begin(type, 2, 64);
        w.U64(42);
        var message = Envelope.IsSigned(type)
            ? Envelope.Finish(w, "c0", ReplicaFixture.T.NodeKeys[2])
            : w.ToArray();
        var (opened, sender, _) = Envelope.Open(message);
        Assert.Equal(type, opened);
        Assert.Equal(2, sender);
    }

    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)200)]
    public void AnUndefinedType_IsMalformed(byte type)
    {
        var w = Envelope.Begin(MessageType.Status, 1, 64);
        w.U64(1);
        var message = w.ToArray();
        message[0] = type;
        Assert.Throws<MalformedMessageException>(() => Envelope.Open(message));
    }
}
