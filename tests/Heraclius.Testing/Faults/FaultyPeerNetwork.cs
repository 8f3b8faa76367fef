using Heraclius.KvStore.Transport;

namespace Heraclius.Testing.Faults;

/// <summary>
/// Wraps a node's real gRPC peer network: while partitioned, drops what it sends to the other side;
/// with a rewriter, sends what a byzantine member would send instead.
/// </summary>
public sealed class FaultyPeerNetwork : IPeerNetwork
{
    private readonly IPeerNetwork _inner;
    private readonly ByzantineRewriter? _byzantine;
    private readonly Lock _lock = new();

    public FaultyPeerNetwork(IPeerNetwork inner, ByzantineRewriter? byzantine = null)
    {
        _inner = inner;
        _byzantine = byzantine;
    }

    /// <summary>Peers this node cannot reach while set (both directions are cut when every side sets it).</summary>
    public HashSet<int> Unreachable { get; } = [];

    /// <summary>While set, messages it returns true for (peer index, message) are lost, as on a lossy link.</summary>
    public Func<int, ReadOnlyMemory<byte>, bool>? Drop { get; set; }

    public void Send(int toNodeIndex, ReadOnlyMemory<byte> message)
    {
        lock (_lock)
        {
            if (Unreachable.Contains(toNodeIndex) || Drop?.Invoke(toNodeIndex, message) == true)
            {
                return;
            }

            if (_byzantine is null)
            {
                _inner.Send(toNodeIndex, message);
                return;
            }

            // The rewriter keeps state (history, random stream) and is called from the replica thread only.
            foreach (var m in _byzantine.Rewrite(toNodeIndex, message.ToArray()))
            {
                _inner.Send(toNodeIndex, m);
            }
        }
    }

    public void Cut(params int[] peers)
    {
        lock (_lock)
        {
            Unreachable.UnionWith(peers);
        }
    }

    public void Heal()
    {
        lock (_lock)
        {
            Unreachable.Clear();
        }
    }
}
