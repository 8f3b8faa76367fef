using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>
/// A source node's decision queue with fault injection: serves fixed compact decisions as its
/// <see cref="Behaviour"/> says, and records every subscription it sees and how many are open.
/// </summary>
internal sealed class ScriptedDecisionFeed(string servedDestination, IReadOnlyList<(ulong Height, byte[] Bytes)> items, FeedBehaviour behaviour = FeedBehaviour.Honest)
    : IDecisionFeed
{
    private int _active;

    /// <summary>Read at the start of each subscription, so a test can turn a node honest or faulty between calls.</summary>
    public FeedBehaviour Behaviour { get; set; } = behaviour;

    public ConcurrentQueue<(string Destination, ulong AfterHeight)> Requests { get; } = new();

    /// <summary>Subscriptions being served now.</summary>
    public int Active => Volatile.Read(ref _active);

    public async IAsyncEnumerable<ReadOnlyMemory<byte>> Subscribe(string destination, ulong afterHeight, [EnumeratorCancellation] CancellationToken ct)
    {
        Requests.Enqueue((destination, afterHeight));
        Interlocked.Increment(ref _active);
        try
        {
            if (destination == servedDestination)
            {
                switch (Behaviour)
                {
                    case FeedBehaviour.Honest:
                        foreach (var (height, bytes) in items)
                        {
                            if (height > afterHeight)
                            {
                                yield return bytes;
                            }
                        }

                        break;
                    case FeedBehaviour.Garbage:
                        for (var i = 0; i < 3; i++)
                        {
                            var junk = new byte[Random.Shared.Next(1, 600)];
                            Random.Shared.NextBytes(junk);
                            yield return junk;
                        }

                        break;
                    case FeedBehaviour.Stale:
                        while (true)
                        {
                            yield return items[0].Bytes;
                            await Task.Delay(20, ct);
                        }

                    case FeedBehaviour.Withholding:
                        break;
                }
            }

            await Task.Delay(Timeout.Infinite, ct);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }
}
