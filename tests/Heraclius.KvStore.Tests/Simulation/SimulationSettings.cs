using Heraclius.Testing.Faults;

namespace Heraclius.KvStore.Tests.Simulation;

/// <summary>The faults one seeded run injects, chosen from the seed.</summary>
public sealed record SimulationSettings(
    double DropRate,
    double DuplicateRate,
    int MaxDelayMs,
    bool CrashRestart,
    int ByzantineNode,
    ByzantineMode Byzantine,
    int FaultPhaseMs,
    int Batches,
    int RequestsPerBatch)
{
    public static SimulationSettings FromSeed(int seed)
    {
        var r = new Random(seed);
        var scenario = seed % 4;
        var byzantine = scenario >= 2 ? r.Next(4) : -1;
        var modes = ByzantineMode.None;
        if (byzantine >= 0)
        {
            var all = new[] { ByzantineMode.Equivocate, ByzantineMode.WrongOutputs, ByzantineMode.LyingVotes, ByzantineMode.LyingViewChanges, ByzantineMode.Replay, ByzantineMode.Garbage };
            while (modes == ByzantineMode.None)
            {
                foreach (var m in all)
                {
                    if (r.NextDouble() < 0.4)
                    {
                        modes |= m;
                    }
                }
            }

            // Drawn from a stream of its own, so every seed keeps the scenario it had before this mode existed
            // (the seeds kept as regression tests mean what their names say).
            if (new Random(unchecked((seed * 7919) + 64)).NextDouble() < 0.4)
            {
                modes |= ByzantineMode.LyingInputsAhead;
            }
        }

        return new SimulationSettings(
            DropRate: r.NextDouble() * 0.15,
            DuplicateRate: r.NextDouble() * 0.1,
            MaxDelayMs: 1 + r.Next(30),
            CrashRestart: scenario is 1 or 3,
            ByzantineNode: byzantine,
            Byzantine: modes,
            FaultPhaseMs: 2000 + r.Next(2000),
            Batches: 20 + r.Next(30),
            RequestsPerBatch: 1 + r.Next(8));
    }
}
