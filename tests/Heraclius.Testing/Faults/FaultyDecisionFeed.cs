using System.Runtime.CompilerServices;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.Testing.Faults;

/// <summary>
/// Wraps a node's real decision queues (fault injection only): subscriptions of other clusters get
/// what <see cref="Fault"/> says, while client subscriptions pass through, so a client of this node
/// still hears its answers and only the inter-cluster path is attacked.
/// </summary>
public sealed class FaultyDecisionFeed : IDecisionFeed
{
    private readonly IDecisionFeed _inner;
    private readonly ClusterTopology _topology;
    private long _subscriptions;
    private long _corrupted;

    public FaultyDecisionFeed(IDecisionFeed inner, ClusterTopology topology, DecisionFeedFault fault)
    {
        _inner = inner;
        _topology = topology;
        Fault = fault;
    }

    public DecisionFeedFault Fault { get; }

    /// <summary>Subscriptions of other clusters served faultily so far, so a test can tell the fault was met.</summary>
    public long FaultySubscriptions => Interlocked.Read(ref _subscriptions);

    /// <summary>Frames of garbage served so far.</summary>
    public long CorruptedFrames => Interlocked.Read(ref _corrupted);

    public IAsyncEnumerable<ReadOnlyMemory<byte>> Subscribe(string destination, ulong afterHeight, CancellationToken ct)
    {
        if (Fault == DecisionFeedFault.Honest || !_topology.TryGetCluster(destination, out _))
        {
            return _inner.Subscribe(destination, afterHeight, ct);
        }

        Interlocked.Increment(ref _subscriptions);
        return Fault switch
        {
            DecisionFeedFault.Withhold => WithholdAsync(ct),
            DecisionFeedFault.RandomBytes => RandomBytesAsync(destination, afterHeight, ct),
            _ => FlippedPayloadAsync(destination, afterHeight, ct),
        };
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> WithholdAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        yield break;
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> RandomBytesAsync(string destination, ulong afterHeight, [EnumeratorCancellation] CancellationToken ct)
    {
        // At once, so a subscriber meets the garbage even while the source has nothing to send.
        yield return Junk();
        await foreach (var _ in _inner.Subscribe(destination, afterHeight, ct).WithCancellation(ct))
        {
            yield return Junk();
        }
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> FlippedPayloadAsync(string destination, ulong afterHeight, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var frame in _inner.Subscribe(destination, afterHeight, ct).WithCancellation(ct))
        {
            var real = CompactDecision.FromBytes(frame.Span);
            if (real.Group.Payload.Length == 0)
            {
                yield return Junk();
                continue;
            }

            var payload = real.Group.Payload.ToArray();
            payload[Random.Shared.Next(payload.Length)] ^= (byte)(1 + Random.Shared.Next(255));
            Interlocked.Increment(ref _corrupted);

            // A fresh buffer per frame: the transport may still be writing the previous one.
            yield return new CompactDecision(real.Header, real.Qc, real.Group with { Payload = payload }, real.Proof).ToBytes();
        }
    }

    private byte[] Junk()
    {
        var junk = new byte[Random.Shared.Next(1, 600)];
        Random.Shared.NextBytes(junk);
        Interlocked.Increment(ref _corrupted);
        return junk;
    }
}
