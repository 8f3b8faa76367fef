using System.Net;
using Grpc.Core;
using Heraclius.KvStore.Transport;
using Heraclius.Testing.Cluster;
using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>Submit, Subscribe and Status round-trip through a real server to fakes of the consensus layer.</summary>
public sealed class ClientServicesTests
{
    private static async Task<(NodeServer Server, FakeClientGateway Gateway, FakeDecisionFeed Feed, FakeStatusSource Status)> StartAsync(
        TestCluster cluster,
        Action<TransportServerOptions>? configure = null)
    {
        var gateway = new FakeClientGateway();
        var feed = new FakeDecisionFeed();
        var status = new FakeStatusSource(cluster.Node(1));
        var server = await NodeServer.StartAsync(
            new NodeServerOptions
            {
                Node = cluster.Local(1),
                PeerHandler = new RecordingHandler(),
                DecisionFeed = feed,
                ClientGateway = gateway,
                StatusSource = status,
                Port = 0,
                ConfigureTransport = configure,
            },
            builder => builder.Logging.ClearProviders(),
            ct: TestContext.Current.CancellationToken);
        return (server, gateway, feed, status);
    }

    [Fact]
    public async Task Submit_ReturnsTheGatewaysAnswer_AndPassesTheExactBytes()
    {
        await using var cluster = TestCluster.Create();
        var (server, gateway, _, _) = await StartAsync(cluster);
        await using var _ = server;
        Assert.NotEqual(0, server.Address.Port);
        using var client = new GrpcNodeClient(server.Address);

        var ok = await client.SubmitAsync(new byte[] { 1, 2, 3 }, TestContext.Current.CancellationToken);
        var refused = await client.SubmitAsync(new byte[] { 9 }, TestContext.Current.CancellationToken);

        Assert.True(ok.Accepted);
        Assert.Null(ok.ErrorCode);
        Assert.False(refused.Accepted);
        Assert.Equal(SubmitErrorCodes.UnknownClient, refused.ErrorCode);
        Assert.Equal("no such client", refused.ErrorMessage);
        Assert.Equal([[1, 2, 3], [9]], gateway.Batches.ToArray());
    }

    [Fact]
    public async Task Submit_AboveTheBatchLimit_IsRefusedAsOversized_WithoutReachingTheGateway()
    {
        await using var cluster = TestCluster.Create();
        var (server, gateway, _, _) = await StartAsync(cluster, o => o.MaxSubmitBatchBytes = 1024);
        await using var _ = server;
        using var client = new GrpcNodeClient(server.Address);

        var result = await client.SubmitAsync(new byte[1025], TestContext.Current.CancellationToken);

        Assert.False(result.Accepted);
        Assert.Equal(SubmitErrorCodes.Oversized, result.ErrorCode);
        Assert.Empty(gateway.Batches);
    }

    [Fact]
    public async Task Subscribe_StreamsTheFeedsDecisionsAfterTheHeight_ForTheDestination()
    {
        await using var cluster = TestCluster.Create();
        var (server, _, feed, _) = await StartAsync(cluster);
        await using var _ = server;
        for (ulong h = 1; h <= 5; h++)
        {
            feed.Items.Add(("c0", h, [(byte)h, 0xAA]));
            feed.Items.Add(("audit", h, [(byte)h, 0xBB]));
        }

        using var client = new GrpcNodeClient(server.Address);
        var received = new List<byte[]>();
        await foreach (var decision in client.SubscribeAsync("c0", afterHeight: 2, TestContext.Current.CancellationToken))
        {
            received.Add(decision.ToArray());
            if (received.Count == 3)
            {
                break;
            }
        }

        Assert.Equal([[3, 0xAA], [4, 0xAA], [5, 0xAA]], received);
        Assert.Equal(("c0", 2UL), Assert.Single(feed.Requests));
    }

    [Fact]
    public async Task Subscribe_WithoutADestination_IsInvalidArgument()
    {
        await using var cluster = TestCluster.Create();
        var (server, _, _, _) = await StartAsync(cluster);
        await using var _ = server;
        using var client = new GrpcNodeClient(server.Address);

        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in client.SubscribeAsync("", 0, TestContext.Current.CancellationToken))
            {
            }
        });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }

    [Fact]
    public async Task Status_RoundTripsEveryField()
    {
        await using var cluster = TestCluster.Create();
        var (server, _, _, status) = await StartAsync(cluster);
        await using var _ = server;
        using var client = new GrpcNodeClient(server.Address);

        Assert.Equal(status.Status, await client.StatusAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Healthz_AnswersHealthyOverHttp2()
    {
        await using var cluster = TestCluster.Create();
        var (server, _, _, _) = await StartAsync(cluster);
        await using var _ = server;
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Address, "/healthz"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task UnreachableNode_IsAnRpcException_NotARefusal()
    {
        var port = FreePorts.Reserve(1)[0];
        using var client = new GrpcNodeClient(new Uri($"http://127.0.0.1:{port}"));

        var e = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(new byte[] { 1 }, TestContext.Current.CancellationToken));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
    }
}
