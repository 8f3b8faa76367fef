using System.Globalization;

namespace Heraclius.KvStore.Tests.WalFuzz;

/// <summary>
/// The WAL crash fuzzer: one cluster of real replicas over a lossy simulated network, WALs that crash
/// the node before or after an operation, snapshot saves that stay in flight and are lost in a crash,
/// whole-node crashes, partitions long enough to need snapshot catch-up, an equivocating byzantine member
/// in even seeds. Checks: honest nodes never decide two headers at one height, never sign two votes of
/// one kind for one (view, height), never sign anew while an installed snapshot is not durable
/// (<c>VotesHeld</c>), never sign in a view below one they signed in; clients never get a wrong answer.
/// </summary>
/// <remarks>
/// Environment: FUZZ_FROM (first seed, 1), FUZZ_COUNT (seeds, 32: about 20 s), FUZZ_LIVENESS=1
/// (also require every request answered and equal heights after healing; seeds ≡ 0 mod 4 have a byzantine
/// member with lying VIEW-CHANGEs; seeds 0..255 are live, see <see cref="Regression_LyingViewChangeSeeds_AreLive"/>), FUZZ_LOAD, FUZZ_PHASE, FUZZ_HOLDCRASH, FUZZ_SETTLE, FUZZ_MAXEVENTS, FUZZ_LOG
/// (a file: one line per seed). A restarted leader's second pre-prepare for one (view, height) is a
/// violation. <see cref="Stats"/> runs only when asked for.
/// </remarks>
[Trait("Category", "WalFuzz")]
public sealed class FuzzTests
{
    private readonly ITestOutputHelper _output;

    public FuzzTests(ITestOutputHelper output) => _output = output;

    private static int From => int.Parse(Environment.GetEnvironmentVariable("FUZZ_FROM") ?? "1", CultureInfo.InvariantCulture);

    private static int Count => int.Parse(Environment.GetEnvironmentVariable("FUZZ_COUNT") ?? "32", CultureInfo.InvariantCulture);

    private static bool CheckLiveness => Environment.GetEnvironmentVariable("FUZZ_LIVENESS") == "1";

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        foreach (var s in Enumerable.Range(From, Count))
        {
            data.Add(s);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Fuzz(int seed)
    {
        var sim = new FuzzCluster(seed);
        var v = sim.Run(checkLiveness: CheckLiveness);
        _output.WriteLine($"{sim} crashes {sim.Crashes} events {sim.Events}");
        Assert.True(v.Count == 0, $"{sim}\n" + string.Join("\n", v.Take(20)));
    }

    /// <summary>
    /// Liveness seeds (FUZZ_LIVENESS=1, the default FUZZ_LOAD=10 and FUZZ_PHASE=2), all with a byzantine member
    /// sending lying VIEW-CHANGEs. 124 and 60 stalled on the old f+1 rule: a member in a normal view counted
    /// the kept VIEW-CHANGEs of its own view and never joined the higher view of the others. With only views
    /// above ours counted, 56 88 112 180 196 212 236 ran views away (or stalled) until two more fixes, each
    /// of which alone rescued them: the starvation marks count from the view's start (a backlog older than
    /// four base timeouts made followers leave every new view on their first tick), and a proposal is checked
    /// against the decided state, not through an open execution of an equivocating leader's twin (whose
    /// timestamp, one above, made the NEW-VIEW's certified proposal look stale, refused in every view).
    /// 8 100 108 192 ran views away with that f+1 rule at 93d2045 (they pass with it since ae846c8); 48 once failed on main.
    /// </summary>
    [Theory]
    [InlineData(8)]
    [InlineData(48)]
    [InlineData(56)]
    [InlineData(60)]
    [InlineData(88)]
    [InlineData(100)]
    [InlineData(108)]
    [InlineData(112)]
    [InlineData(124)]
    [InlineData(180)]
    [InlineData(192)]
    [InlineData(196)]
    [InlineData(212)]
    [InlineData(236)]
    public void Regression_LyingViewChangeSeeds_AreLive(int seed)
    {
        var sim = new FuzzCluster(seed);
        var v = sim.Run(checkLiveness: true);
        Assert.True(v.Count == 0, $"{sim}\n" + string.Join("\n", v.Take(20)));
    }

    /// <summary>
    /// Review of the f+1 rule change (live): FUZZ_LIVENESS=1 FUZZ_LOAD=10 seed 428 stalls on live (passes on main;
    /// main fails 8 other seeds of 256..511, live only this one). Final state: honest 0 and 2 changing to view 2,
    /// honest 3 changing to view 3, byzantine 1 in view 3 with invalid (lying) VIEW-CHANGEs. 0 and 2 restarted in
    /// view 2 (a restart re-enters its view as a view change) and need 3's VIEW-CHANGE(2), which 3 no longer has:
    /// it restarted in view 3 and _recentViewChanges is not rebuilt from the WAL. 3's VIEW-CHANGE(3) is one member
    /// above them, short of f+1 without the byzantine one. Not the f+1 rule's own fault (the old rule also counts
    /// nothing here). Live since a node that resumed its normal view as a view change moves on to the next view
    /// when no peer re-sends the NEW-VIEW in time, as its progress timer would have before the crash.
    /// Seed 80 stalled the same way once an expired timer only made a suspicion: honest 0 and 3 had entered view 2
    /// and restarted before any compaction (their VIEW-CHANGE(2) still in the WAL, so no resume timer), honest 1,
    /// which entered view 2 by the NEW-VIEW alone and never sent a VIEW-CHANGE(2), was changing to view 3. Live
    /// since the view logged after a VIEW-CHANGE of it marks the view entered, and such a node resumes with the timer.
    /// </summary>
    [Theory]
    [InlineData(80)]
    [InlineData(428)]
    public void Regression_RestartLosesLowerViewChange_IsLive(int seed)
    {
        var sim = new FuzzCluster(seed);
        var v = sim.Run(checkLiveness: true);
        Assert.True(v.Count == 0, $"{sim}\n" + string.Join("\n", v.Take(20)));
    }

    /// <summary>Runs the seeds in one test and prints what they exercised (installs, holds, crashes during a hold) and every violation.</summary>
    [Fact(Explicit = true)]
    public void Stats()
    {
        long crashes = 0, vc = 0, snaps = 0;
        ulong height = 0;
        var bad = new List<string>();
        var total = System.Diagnostics.Stopwatch.StartNew();
        for (var seed = From; seed < From + Count; seed++)
        {
            var sim = new FuzzCluster(seed);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var v = sim.Run(checkLiveness: CheckLiveness);
            if (Environment.GetEnvironmentVariable("FUZZ_LOG") is { } log)
            {
                File.AppendAllText(log, $"seed {seed}: {watch.ElapsedMilliseconds} ms, {sim.Events} events, {sim.Crashes} crashes, {v.Count} violations {string.Join(" | ", v.Take(2))}\n");
            }

            crashes += sim.Crashes;
            foreach (var n in sim.Nodes.Where(n => n.Replica is not null))
            {
                vc += n.Replica!.ViewChangesStarted;
                snaps += n.Replica.SnapshotsInstalled;
                height = Math.Max(height, n.Replica.DecidedHeight);
            }

            if (v.Count > 0)
            {
                bad.Add($"{sim}: " + string.Join(" | ", v.Take(3)));
            }
        }

        _output.WriteLine($"{Count} seeds from {From} in {total.Elapsed.TotalSeconds:F1} s: crashes {crashes} viewchanges {vc} snapshots (last incarnations) {snaps} maxheight {height}");
        foreach (var (k, c) in CrashingWal.Stats.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            _output.WriteLine($"  {k}: {c}");
        }

        foreach (var b in bad)
        {
            _output.WriteLine(b);
        }
    }
}
