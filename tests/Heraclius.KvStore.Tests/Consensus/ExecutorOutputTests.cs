using Heraclius.KvStore.Client;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Xunit;
using ExecutionContext = Heraclius.KvStore.StateMachine.ExecutionContext;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// The output groups are written straight into reused builders; their bytes must stay exactly what
/// encoding each message (or reply) on its own and then the group gave: the format is certified.
/// </summary>
public sealed class ExecutorOutputTests
{
    private const string Peer = "s1";

    /// <summary>Per request: the operation to a peer, a derived audit record, and the operation as the answer.</summary>
    private sealed class EchoService : IReplicatedService
    {
        public RequestOutcome ExecuteRequest(IStateAccess state, in ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs)
        {
            outputs.Send(Peer, operation);
            outputs.Audit([.. operation, 0xAA]);
            return RequestOutcome.Answered(operation.ToArray());
        }

        public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
        {
        }
    }

    [Fact]
    public void GroupsAreByteForByteTheEncodingOfTheirItems_AndBuildersAreReusedCleanly()
    {
        var executor = new Executor(new EchoService(), 64, new RoutingSettings(ReplicaFixture.T.ClusterId, ["s0", Peer], 64));
        var state = new ReplicatedState(64);
        byte[][] first = [[1, 2, 3], [], [.. Enumerable.Repeat((byte)7, 3000)]];
        byte[][] second = [[9]];
        var seq = 1UL;
        foreach (var operations in new[] { first, second })
        {
            var requests = operations.Select(o => new ClientRequest(seq++, o)).ToArray();
            var batch = ClientBatch.Create("client-0", ReplicaFixture.T.ClusterId, requests, ReplicaFixture.T.ClientKeys[0]);
            var result = executor.Execute(state, seq, new ProposalInputs(1000 + seq, [batch]), stateRoot: default);
            result.Transaction.Complete();

            var peer = Assert.Single(result.Outputs, g => g.Destination == Peer);
            Assert.Equal(ClusterPayload.Encode(operations), peer.Payload.ToArray());

            var audit = Assert.Single(result.Outputs, g => g.Destination == IServiceOutputs.AuditDestination);
            Assert.Equal(ClusterPayload.Encode([.. operations.Select(o => (byte[])[.. o, 0xAA])]), audit.Payload.ToArray());

            var client = Assert.Single(result.Outputs, g => g.Destination == "client-0");
            var expected = requests.Select(r => new ClientReply(r.Seq, r.Hash("client-0"), ReplyStatus.Executed, r.Operation.ToArray())).ToList();
            Assert.Equal(ClientReply.EncodeGroup(expected), client.Payload.ToArray());
            Assert.DoesNotContain(result.Outputs, g => g.Destination == "s0");
        }
    }

    [Fact]
    public void ClusterPayloadValidate_AcceptsAndRefusesWhatDecodeDoes()
    {
        byte[][] messages = [[1], [], [2, 3, 4], [.. Enumerable.Repeat((byte)5, 300)]];
        var payload = ClusterPayload.Encode(messages);
        Assert.Equal(messages.Length, ClusterPayload.Validate(payload));
        var walked = new List<byte[]>();
        foreach (var m in ClusterPayload.Messages(payload))
        {
            walked.Add(m.ToArray());
        }

        Assert.Equal(messages, walked);
        Assert.Equal(0, ClusterPayload.Validate(ClusterPayload.Encode([])));

        byte[][] malformed =
        [
            payload[..^1],
            [.. payload, 0],
            [],
            [9, 0, 0, 0, 0, 0, 0, 0],
            [1, 0, 0, 0, 5, 0, 0, 0, 1],
        ];
        foreach (var bad in malformed)
        {
            Assert.Throws<MalformedMessageException>(() => ClusterPayload.Decode(bad));
            Assert.Throws<MalformedMessageException>(() => ClusterPayload.Validate(bad));
        }
    }
}
