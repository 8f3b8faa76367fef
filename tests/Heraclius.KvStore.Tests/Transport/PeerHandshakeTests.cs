using Grpc.Core;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Transport;
using Heraclius.KvStore.Transport.Grpc;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>Peer streams are bound to node identities: impostors, strangers and garbage are refused and deliver nothing.</summary>
public sealed class PeerHandshakeTests
{
    private const string Failures = "heraclius.transport.handshake.failures";

    [Fact]
    public void DialerStatement_HasTheDocumentedBytes()
    {
        var nonce = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var statement = PeerHandshake.DialerStatement("c0", "c0-n1", "c0-n2", nonce);
        byte[] expected =
        [
            17, 0, 0, 0, .. "heraclius-peer-v1"u8,
            2, 0, 0, 0, .. "c0"u8,
            5, 0, 0, 0, .. "c0-n1"u8,
            5, 0, 0, 0, .. "c0-n2"u8,
            .. nonce,
        ];
        Assert.Equal(expected, statement);

        var listener = PeerHandshake.ListenerStatement("c0", "c0-n2", "c0-n1", nonce);
        Assert.Equal([26, 0, 0, 0, .. "heraclius-peer-v1-listener"u8], listener[..30]);
        Assert.NotEqual(statement, listener);
    }

    [Fact]
    public async Task DialerWithAKeyNotInTheTopology_IsRefused_AndNothingIsDelivered()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(0);
        using var metrics = new MetricRecorder(cluster.Node(0).Id);

        // The impostor claims to be node 1 and signs with its own key.
        using var impostorKey = SigningKey.Generate();
        var impostor = new LocalNode(cluster.WithKey(1, impostorKey.PublicKey), cluster.Node(1).Id, impostorKey);
        await using var network = new GrpcPeerNetwork(impostor, new RecordingHandler(), TestCluster.FastOptions());
        for (var i = 0; i < 10; i++)
        {
            network.Send(0, "forged"u8.ToArray());
        }

        await Eventually.WaitUntil(() => network.GetStats(0).HandshakeFailures >= 2, "the impostor to be refused twice");
        var stats = network.GetStats(0);
        Assert.Equal(HandshakeFailureReasons.Rejected, stats.LastFailure);
        Assert.False(stats.Connected);
        Assert.Equal(0, stats.Sent);
        Assert.True(metrics.Sum(Failures, ("side", "listener"), ("reason", HandshakeFailureReasons.BadSignature)) >= 2);
        Assert.Empty(cluster.Handlers[0][0].Received);
    }

    [Fact]
    public async Task ListenerWithAKeyNotInTheTopology_IsNeverSentAnything()
    {
        await using var cluster = TestCluster.Create();

        // An impostor listens at node 0's endpoint and accepts node 1, but cannot sign as node 0.
        using var impostorKey = SigningKey.Generate();
        var impostor = new LocalNode(cluster.WithKey(0, impostorKey.PublicKey), cluster.Node(0).Id, impostorKey);
        var impostorInbox = new RecordingHandler();
        await cluster.StartServerAsync(0, asNode: impostor, handler: impostorInbox);

        var network = cluster.StartNetwork(1);
        network.Send(0, "secret"u8.ToArray());
        await Eventually.WaitUntil(() => network.GetStats(0).HandshakeFailures >= 2, "the dialer to refuse the impostor twice");
        Assert.Equal(HandshakeFailureReasons.ListenerBadSignature, network.GetStats(0).LastFailure);
        Assert.Empty(impostorInbox.Received);
        Assert.Equal(1, network.GetStats(0).Queued);
    }

    [Fact]
    public async Task UnknownNodeId_IsRefusedWithPermissionDenied()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(0);
        using var metrics = new MetricRecorder(cluster.Node(0).Id);

        using var call = new RawPeerCall(cluster.Node(0).Endpoint);
        await call.HelloAsync("stranger");
        Assert.Equal(StatusCode.PermissionDenied, await call.StatusAsync());
        Assert.Equal(1, metrics.Sum(Failures, ("reason", HandshakeFailureReasons.UnknownNode)));
    }

    [Fact]
    public async Task ReplayedSignatureForAnotherListener_IsRefused_AndNothingIsDelivered()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(0);
        using var metrics = new MetricRecorder(cluster.Node(0).Id);
        var dialer = cluster.Node(1);

        using var call = new RawPeerCall(cluster.Node(0).Endpoint);
        await call.HelloAsync(dialer.Id);
        var challenge = (await call.ReadAsync())!.Challenge;

        // Node 1's real key, but over a statement addressed to node 2: worthless to node 0.
        var wrong = PeerHandshake.DialerStatement(dialer.ClusterId, dialer.Id, cluster.Node(2).Id, challenge.Nonce.Span);
        await call.ProofAsync(cluster.Key(1).Sign(wrong));
        await call.PayloadAsync("forged"u8.ToArray());

        Assert.Equal(StatusCode.PermissionDenied, await call.StatusAsync());
        Assert.Equal(1, metrics.Sum(Failures, ("reason", HandshakeFailureReasons.BadSignature)));
        Assert.Empty(cluster.Handlers[0][0].Received);
    }

    [Fact]
    public async Task NodeOfAnotherCluster_IsRefusedByDefault_AndAdmittedWhenThePolicyAllows()
    {
        await using var cluster = TestCluster.Create(clusters: 2);
        await cluster.StartServerAsync(0, cluster: 0);
        await cluster.StartServerAsync(1, cluster: 0, configure: o => o.AdmitPeer = PeerAdmissionPolicies.AnyNode);
        using var metrics = new MetricRecorder(cluster.Node(0).Id);
        var outsider = cluster.Node(2, cluster: 1);

        using (var refused = new RawPeerCall(cluster.Node(0).Endpoint))
        {
            await refused.HelloAsync(outsider.Id);
            Assert.Equal(StatusCode.PermissionDenied, await refused.StatusAsync());
            Assert.Equal(1, metrics.Sum(Failures, ("reason", HandshakeFailureReasons.NotMember)));
        }

        using var admitted = new RawPeerCall(cluster.Node(1).Endpoint);
        var accepted = await admitted.HandshakeAsync(outsider, cluster.Key(2, cluster: 1), cluster.Node(1));
        Assert.Equal(PeerFrame.KindOneofCase.Accepted, accepted!.KindCase);
        await admitted.PayloadAsync("hello from afar"u8.ToArray());
        var inbox = cluster.Handlers[0][1];
        await Eventually.WaitUntil(() => inbox.Count == 1, "the admitted message");
        Assert.Equal(2, inbox.Received[0].From);
    }

    [Fact]
    public async Task MalformedHandshakes_AreRefusedWithInvalidArgument_AndTheServerKeepsServing()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(0);
        using var metrics = new MetricRecorder(cluster.Node(0).Id);

        using (var payloadFirst = new RawPeerCall(cluster.Node(0).Endpoint))
        {
            await payloadFirst.PayloadAsync("no hello"u8.ToArray());
            Assert.Equal(StatusCode.InvalidArgument, await payloadFirst.StatusAsync());
        }

        using (var shortNonce = new RawPeerCall(cluster.Node(0).Endpoint))
        {
            await shortNonce.SendAsync(new PeerFrame { Hello = new PeerHello { NodeId = cluster.Node(1).Id, Nonce = Google.Protobuf.ByteString.CopyFrom(1, 2, 3) } });
            Assert.Equal(StatusCode.InvalidArgument, await shortNonce.StatusAsync());
        }

        using (var helloTwice = new RawPeerCall(cluster.Node(0).Endpoint))
        {
            await helloTwice.HelloAsync(cluster.Node(1).Id);
            await helloTwice.HelloAsync(cluster.Node(1).Id);
            Assert.Equal(StatusCode.InvalidArgument, await helloTwice.StatusAsync());
        }

        Assert.Equal(3, metrics.Sum(Failures, ("reason", HandshakeFailureReasons.Malformed)));

        var network = cluster.StartNetwork(1);
        network.Send(0, "still serving"u8.ToArray());
        await Eventually.WaitUntil(() => cluster.Handlers[0][0].Contains("still serving"), "an honest node's message");
        Assert.Single(cluster.Handlers[0][0].Received);
    }

    [Fact]
    public async Task DialerThatStallsTheHandshake_IsCutOffWithDeadlineExceeded()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(0, configure: o => o.HandshakeTimeout = TimeSpan.FromMilliseconds(200));
        using var metrics = new MetricRecorder(cluster.Node(0).Id);

        using var call = new RawPeerCall(cluster.Node(0).Endpoint);
        await call.HelloAsync(cluster.Node(1).Id);
        Assert.Equal(PeerFrame.KindOneofCase.Challenge, (await call.ReadAsync())!.KindCase);
        Assert.Equal(StatusCode.DeadlineExceeded, await call.StatusAsync());
        Assert.Equal(1, metrics.Sum(Failures, ("reason", HandshakeFailureReasons.Timeout)));
    }

    [Fact]
    public async Task FrameAboveTheSizeCap_EndsTheStreamWithResourceExhausted_AndIsNotDelivered()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(0, configure: o =>
        {
            o.MaxFrameBytes = 64 * 1024;
            o.MaxSubmitBatchBytes = 64 * 1024;
        });

        using var call = new RawPeerCall(cluster.Node(0).Endpoint);
        var accepted = await call.HandshakeAsync(cluster.Node(1), cluster.Key(1), cluster.Node(0));
        Assert.Equal(PeerFrame.KindOneofCase.Accepted, accepted!.KindCase);
        await call.PayloadAsync(new byte[100 * 1024]);
        Assert.Equal(StatusCode.ResourceExhausted, await call.StatusAsync());
        Assert.Empty(cluster.Handlers[0][0].Received);
    }

    [Fact]
    public async Task ListenerSignature_VerifiesWithTheListenersKeyOverTheDialersNonce()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(3);

        using var call = new RawPeerCall(cluster.Node(3).Endpoint);
        Random.Shared.NextBytes(call.Nonce);
        var accepted = (await call.HandshakeAsync(cluster.Node(0), cluster.Key(0), cluster.Node(3)))!.Accepted;
        var statement = PeerHandshake.ListenerStatement(cluster.Node(3).ClusterId, cluster.Node(3).Id, cluster.Node(0).Id, call.Nonce);
        Assert.True(cluster.Node(3).PublicKey.Verify(statement, accepted.Signature.Span));
    }
}
