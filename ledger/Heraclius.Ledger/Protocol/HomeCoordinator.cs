using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.Ledger.Protocol;

/// <summary>
/// The one coordinator that runs two-phase commit for a transfer chain: XXH64(first transfer id,
/// 16 bytes LE) mod C over the coordinators in id order (part of the format). Clients send a chain
/// there; any other coordinator answers <c>wrong_coordinator</c>.
/// </summary>
public sealed class HomeCoordinator
{
    public HomeCoordinator(ClusterTopology topology)
    {
        ArgumentNullException.ThrowIfNull(topology);
        Coordinators = [.. topology.Coordinators.Select(c => c.Id).Order(StringComparer.Ordinal)];
        if (Coordinators.Count == 0)
        {
            throw new ArgumentException("the topology has no coordinator clusters", nameof(topology));
        }
    }

    /// <summary>Coordinator ids in routing order.</summary>
    public IReadOnlyList<string> Coordinators { get; }

    public string Of(UInt128 firstTransferId)
    {
        Span<byte> id = stackalloc byte[16];
        LedgerCodec.WriteIdTo(id, firstTransferId);
        return Coordinators[(int)(StableHash.Of(id) % (ulong)Coordinators.Count)];
    }
}
