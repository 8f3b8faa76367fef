using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>Stands in for the decision queues: serves fixed items above the asked height, then stays open like a live feed.</summary>
internal sealed class FakeDecisionFeed : IDecisionFeed
{
    public List<(string Destination, ulong Height, byte[] Bytes)> Items { get; } = [];

    public ConcurrentQueue<(string Destination, ulong AfterHeight)> Requests { get; } = new();

    public async IAsyncEnumerable<ReadOnlyMemory<byte>> Subscribe(string destination, ulong afterHeight, [EnumeratorCancellation] CancellationToken ct)
    {
        Requests.Enqueue((destination, afterHeight));
        foreach (var item in Items.Where(i => i.Destination == destination && i.Height > afterHeight).OrderBy(i => i.Height))
        {
            yield return item.Bytes;
        }

        await Task.Delay(Timeout.Infinite, ct);
    }
}
