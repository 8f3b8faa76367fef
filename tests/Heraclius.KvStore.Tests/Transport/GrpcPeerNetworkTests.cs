using System.Diagnostics;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>The gRPC peer transport over real Kestrel servers on loopback with real Ed25519 keys.</summary>
public sealed class GrpcPeerNetworkTests
{
    private static byte[] Message(int from, int to, int seq) => System.Text.Encoding.UTF8.GetBytes($"{from}>{to}#{seq}");

    private static (int From, int To, int Seq) Parse(byte[] payload)
    {
        var text = System.Text.Encoding.UTF8.GetString(payload);
        var arrow = text.IndexOf('>', StringComparison.Ordinal);
        var hash = text.IndexOf('#', StringComparison.Ordinal);
        return (int.Parse(text[..arrow]), int.Parse(text[(arrow + 1)..hash]), int.Parse(text[(hash + 1)..]));
    }

    [Fact]
    public async Task FourNodes_AllToAll_EveryMessageArrivesOnceInOrderWithItsSenderIndex()
    {
        await using var cluster = TestCluster.Create();
        for (var i = 0; i < 4; i++)
        {
            await cluster.StartServerAsync(i);
        }

        var networks = Enumerable.Range(0, 4).Select(i => cluster.StartNetwork(i)).ToArray();
        const int PerPair = 200;
        for (var seq = 0; seq < PerPair; seq++)
        {
            for (var from = 0; from < 4; from++)
            {
                for (var to = 0; to < 4; to++)
                {
                    networks[from].Send(to, Message(from, to, seq));
                }
            }
        }

        var handlers = cluster.Handlers[0];
        await Eventually.WaitUntil(() => handlers.All(h => h.Count >= 4 * PerPair), "every node to receive every message");

        for (var to = 0; to < 4; to++)
        {
            var received = handlers[to].Received;
            Assert.Equal(4 * PerPair, received.Count);
            for (var from = 0; from < 4; from++)
            {
                var fromThisSender = received.Where(r => r.From == from).Select(r => Parse(r.Payload)).ToList();
                Assert.All(fromThisSender, m => Assert.Equal((from, to), (m.From, m.To)));
                Assert.Equal(Enumerable.Range(0, PerPair), fromThisSender.Select(m => m.Seq));
            }
        }

        foreach (var network in networks)
        {
            Assert.All(network.GetStats(), s => Assert.Equal(0, s.Dropped));
            Assert.All(network.GetStats(), s => Assert.Equal(PerPair, s.Sent));
        }
    }

    [Fact]
    public async Task PeerThatIsDown_DoesNotStallSendsToOthers_AndItsQueueStaysBounded()
    {
        await using var cluster = TestCluster.Create();
        for (var i = 0; i < 3; i++)
        {
            await cluster.StartServerAsync(i);
        }

        // Node 3 never starts: its endpoint refuses connections.
        const int Capacity = 32;
        var network = cluster.StartNetwork(0, TestCluster.FastOptions(queueCapacity: Capacity));
        using var metrics = new MetricRecorder(cluster.Node(0).Id);

        var clock = Stopwatch.StartNew();
        for (var seq = 0; seq < 1000; seq++)
        {
            network.Send(3, Message(0, 3, seq));
        }

        for (var seq = 0; seq < Capacity; seq++)
        {
            network.Send(1, Message(0, 1, seq));
            network.Send(2, Message(0, 2, seq));
        }

        var sendTime = clock.Elapsed;
        await Eventually.WaitUntil(
            () => cluster.Handlers[0][1].Count == Capacity && cluster.Handlers[0][2].Count == Capacity,
            "the live peers to receive their messages");

        Assert.True(sendTime < TimeSpan.FromSeconds(2), $"sending took {sendTime}");
        var down = network.GetStats(3);
        Assert.False(down.Connected);
        Assert.Equal(Capacity, down.Queued);
        Assert.Equal(1000 - Capacity, down.DroppedQueueFull);
        Assert.Equal(0, down.Sent);
        Assert.Equal(1000 - Capacity, metrics.Sum("heraclius.transport.peer.messages.dropped", ("peer", cluster.Node(3).Id), ("reason", "queue_full")));
        Assert.Equal(0, network.GetStats(1).Dropped);
        Assert.Equal(0, network.GetStats(2).Dropped);
        Assert.Empty(cluster.Handlers[0][3].Received);
    }

    [Fact]
    public async Task PeerThatRestarts_ReceivesNewMessagesAfterReconnect()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(0);
        var server1 = await cluster.StartServerAsync(1);
        var network = cluster.StartNetwork(0);
        var inbox = cluster.Handlers[0][1];

        network.Send(1, "before"u8.ToArray());
        await Eventually.WaitUntil(() => inbox.Contains("before"), "the first message");

        await cluster.StopServerAsync(server1);
        await Eventually.WaitUntil(() => !network.GetStats(1).Connected, "the link to notice the peer is gone");
        var reconnectsWhileDown = network.GetStats(1).Reconnects;
        await Eventually.WaitUntil(() => network.GetStats(1).Reconnects > reconnectsWhileDown, "a redial while the peer is down");

        await cluster.StartServerAsync(1);
        await Eventually.WaitUntil(() => network.GetStats(1).Connected, "the link to reconnect");
        network.Send(1, "after"u8.ToArray());
        await Eventually.WaitUntil(() => inbox.Contains("after"), "a message sent after the reconnect");
        Assert.Equal(0, network.GetStats(1).HandshakeFailures);
    }

    [Fact]
    public async Task PeerThatStartsLate_ReceivesWhatWasQueuedAndWhatFollows()
    {
        await using var cluster = TestCluster.Create();
        var network = cluster.StartNetwork(0);
        network.Send(2, "queued"u8.ToArray());
        await Eventually.WaitUntil(() => network.GetStats(2).Reconnects >= 2, "the link to retry the absent peer");

        await cluster.StartServerAsync(2);
        network.Send(2, "later"u8.ToArray());
        var inbox = cluster.Handlers[0][2];
        await Eventually.WaitUntil(() => inbox.Count == 2, "both messages");
        Assert.Equal(["queued", "later"], inbox.Received.Select(r => System.Text.Encoding.UTF8.GetString(r.Payload)));
        Assert.All(inbox.Received, r => Assert.Equal(0, r.From));
    }

    [Fact]
    public async Task SendToSelf_IsDeliveredToTheLocalHandlerWithOwnIndex()
    {
        await using var cluster = TestCluster.Create();
        var network = cluster.StartNetwork(2);
        network.Send(2, "me"u8.ToArray());
        var inbox = cluster.Handlers[0][2];
        await Eventually.WaitUntil(() => inbox.Count == 1, "the loopback message");
        Assert.Equal(2, inbox.Received[0].From);
        Assert.True(network.GetStats(2).Connected);
    }

    [Fact]
    public async Task OversizedMessage_IsDroppedAndCounted_AndTheLinkKeepsWorking()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(1);
        var options = TestCluster.FastOptions();
        options.MaxMessageBytes = 1024;
        var network = cluster.StartNetwork(0, options);

        network.Send(1, new byte[1025]);
        network.Send(1, "small"u8.ToArray());

        var inbox = cluster.Handlers[0][1];
        await Eventually.WaitUntil(() => inbox.Contains("small"), "the small message");
        Assert.Equal(1, inbox.Count);
        Assert.Equal(1, network.GetStats(1).Dropped);
    }

    [Fact]
    public async Task ManySmallMessages_AreBatchedIntoFewerFrames()
    {
        await using var cluster = TestCluster.Create();
        await cluster.StartServerAsync(1);
        using var metrics = new MetricRecorder(cluster.Node(0).Id);
        var network = cluster.StartNetwork(0);

        // Queue everything before the link is up, so the first frames find a full queue.
        for (var seq = 0; seq < 2000; seq++)
        {
            network.Send(1, Message(0, 1, seq));
        }

        var inbox = cluster.Handlers[0][1];
        await Eventually.WaitUntil(() => inbox.Count == 2000, "all messages");
        Assert.Equal(Enumerable.Range(0, 2000), inbox.Received.Select(r => Parse(r.Payload).Seq));
        var frames = metrics.Sum("heraclius.transport.peer.frames.sent", ("peer", cluster.Node(1).Id));
        Assert.InRange(frames, 1, 1999);
    }

    [Fact]
    public async Task SendToAnIndexOutsideTheCluster_Throws()
    {
        await using var cluster = TestCluster.Create();
        var network = cluster.StartNetwork(0);
        Assert.Throws<ArgumentOutOfRangeException>(() => network.Send(4, new byte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => network.Send(-1, new byte[1]));
    }
}
