using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Tests.Simulation;

/// <summary>The end-of-run checks the seeded simulation and the crash fuzzer share, over their honest nodes.</summary>
internal static class ClusterInvariants
{
    /// <summary>Every client request answered, and the honest replicas (all running) at one height with empty pools.</summary>
    public static bool Settled(IEnumerable<SimulatedClient> clients, IReadOnlyList<Replica?> honest) =>
        !clients.Any(c => c.Pending.Count > 0)
        && honest.All(r => r is not null && r.DecidedHeight == honest[0]!.DecidedHeight && r.PoolBatches == 0);

    /// <summary>No two honest nodes decided different headers at one height, and no client saw an answer to another request.</summary>
    public static void CheckSafety(IReadOnlyList<Dictionary<ulong, Hash32>> honestDecided, IEnumerable<SimulatedClient> clients, List<string> violations)
    {
        foreach (var h in honestDecided.SelectMany(d => d.Keys).Distinct())
        {
            var hashes = honestDecided.Where(d => d.ContainsKey(h)).Select(d => d[h]).Distinct().ToList();
            if (hashes.Count > 1)
            {
                violations.Add($"SAFETY: honest nodes decided {hashes.Count} different headers at height {h}");
            }
        }

        foreach (var c in clients)
        {
            if (c.Rejected > 0)
            {
                violations.Add($"client {c.Id} saw {c.Rejected} answers with the wrong request hash");
            }
        }
    }
}
