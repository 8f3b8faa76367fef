using System.Diagnostics;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Cluster;

/// <summary>How <see cref="BftClient"/> cuts batches: the callers a decision answered go together, without waiting out the delay.</summary>
[Trait("Category", "Cluster")]
public sealed class ClientBatchingTests
{
    private const int Users = 16;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static async Task Put(BftClient client, string key)
    {
        var reply = await client.SendAsync(KvOperation.Put(System.Text.Encoding.UTF8.GetBytes(key), [1]).ToBytes()).WaitAsync(Bound);
        Assert.Equal(ReplyStatus.Executed, reply.Status);
    }

    [Fact]
    public async Task CallersADecisionAnswered_SendAgainInOneBatch_WithoutWaitingTheDelay()
    {
        var delay = TimeSpan.FromSeconds(5);
        await using var cluster = new GrpcCluster();
        await cluster.StartAsync();
        await using var client = await cluster.ClientAsync(1, options: new BftClientOptions { BatchDelay = delay });

        // Nothing answered yet: the first operation waits the whole delay, and every user's goes with it.
        var answeredAt = new long[Users];
        await Task.WhenAll(Enumerable.Range(0, Users).Select(async u =>
        {
            await Put(client, $"first-{u}");
            answeredAt[u] = Stopwatch.GetTimestamp();
            // A closed-loop caller: the next operation follows its answer at once.
            await Put(client, $"second-{u}");
        }));
        var lastSecond = Stopwatch.GetTimestamp();

        // One batch for the first operations, one for the second: the second batch waited for all sixteen
        // answered callers, not for the first of them, and not for the delay.
        Assert.Equal(2, client.BatchesSent);
        Assert.True(Stopwatch.GetElapsedTime(answeredAt.Min(), lastSecond) < delay / 2, "the answered callers' batch waited out the delay");
    }

    [Fact]
    public async Task FewerCallersReturnThanWereAnswered_TheBatchGoesAfterTheDelay()
    {
        var delay = TimeSpan.FromSeconds(1);
        await using var cluster = new GrpcCluster();
        await cluster.StartAsync();
        await using var client = await cluster.ClientAsync(1, options: new BftClientOptions { BatchDelay = delay });
        await Task.WhenAll(Enumerable.Range(0, Users).Select(u => Put(client, $"first-{u}")));

        // Sixteen were answered and one comes back: the batcher waits for the others up to the delay, then sends what it has.
        var started = Stopwatch.GetTimestamp();
        await Put(client, "alone");
        Assert.True(Stopwatch.GetElapsedTime(started) >= delay * 0.9, "the batch went before the delay with most answered callers missing");
        Assert.Equal(2, client.BatchesSent);
    }
}
