using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>
/// Stands in for the replica host's sink with the real checks: parse, source, destination, QC and
/// proof, then takes a group only if it continues the source's chain. Records what it took.
/// </summary>
internal sealed class VerifyingInboundSink(ClusterTopology topology, string destination) : IInboundSink
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ulong> _cursors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ulong>> _accepted = new(StringComparer.Ordinal);
    private int _overloadsLeft;
    private long _offers;

    /// <summary>How many valid, wanted groups to refuse as overloaded before taking any.</summary>
    public int OverloadFirst
    {
        set => Volatile.Write(ref _overloadsLeft, value);
    }

    public long Offers => Interlocked.Read(ref _offers);

    public void SetCursor(string source, ulong height)
    {
        lock (_lock)
        {
            _cursors[source] = height;
        }
    }

    /// <summary>The heights taken from <paramref name="source"/>, in the order they were taken.</summary>
    public ulong[] Accepted(string source)
    {
        lock (_lock)
        {
            return _accepted.TryGetValue(source, out var list) ? [.. list] : [];
        }
    }

    public ulong ResumeAfter(string sourceCluster)
    {
        lock (_lock)
        {
            return _cursors.GetValueOrDefault(sourceCluster);
        }
    }

    public InboundVerdict Offer(string sourceCluster, ReadOnlyMemory<byte> compactDecision)
    {
        Interlocked.Increment(ref _offers);
        CompactDecision decision;
        try
        {
            decision = CompactDecision.FromBytes(compactDecision.Span);
        }
        catch (Exception)
        {
            return InboundVerdict.Invalid;
        }

        if (decision.Header.Cluster != sourceCluster || decision.Verify(topology, destination) != CompactDecisionCheck.Valid)
        {
            return InboundVerdict.Invalid;
        }

        lock (_lock)
        {
            var cursor = _cursors.GetValueOrDefault(sourceCluster);
            if (decision.Header.Height <= cursor || decision.Group.PrevHeight != cursor)
            {
                return InboundVerdict.Stale;
            }

            if (_overloadsLeft > 0)
            {
                _overloadsLeft--;
                return InboundVerdict.Overloaded;
            }

            _cursors[sourceCluster] = decision.Header.Height;
            if (!_accepted.TryGetValue(sourceCluster, out var list))
            {
                _accepted[sourceCluster] = list = [];
            }

            list.Add(decision.Header.Height);
            return InboundVerdict.Accepted;
        }
    }
}
