using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.Node.Commands;

/// <summary>
/// What a measured interval cost the machine, per operation: fsyncs, WAL bytes and signature checks (what carries
/// over to real disks and CPUs), decisions and view changes, and the process's CPU, allocation and GC.
/// </summary>
internal sealed class CostMeter : IDisposable
{
    private readonly BenchCluster _cluster;
    private readonly ClusterCounters[] _before;
    private readonly long _verifies;
    private readonly long _allocated;
    private readonly TimeSpan _pause;
    private readonly int _gen0;
    private readonly int _gen2;
    private readonly TimeSpan _cpu;
    private readonly TimeSpan _jit;
    private readonly GcPauseRecorder _gcPauses = new();
    private readonly AllocationSampler? _allocations = AllocationSampler.Enabled ? new() : null;

    private CostMeter(BenchCluster cluster, ClusterCounters[] before)
    {
        _cluster = cluster;
        _before = before;
        _verifies = CryptoCounters.Verifies;
        _allocated = GC.GetTotalAllocatedBytes();
        _pause = GC.GetTotalPauseDuration();
        _gen0 = GC.CollectionCount(0);
        _gen2 = GC.CollectionCount(2);
        _cpu = Environment.CpuUsage.TotalTime;
        _jit = System.Runtime.JitInfo.GetCompilationTime();
    }

    public static async Task<CostMeter> StartAsync(BenchCluster cluster) => new(cluster, await cluster.CountersAsync());

    /// <summary>
    /// Prints the per-operation lines for <paramref name="ops"/> operations over <paramref name="elapsedSeconds"/>
    /// (and one line per cluster when verbose); returns the requests per coordinator decision.
    /// </summary>
    public async Task<double> PrintAsync(long ops, double elapsedSeconds, string label, bool verbose)
    {
        var after = await _cluster.CountersAsync();
        var verifies = CryptoCounters.Verifies - _verifies; // counted per process, so over every cluster together
        var allocated = GC.GetTotalAllocatedBytes() - _allocated;
        var pause = GC.GetTotalPauseDuration() - _pause;
        var cpu = Environment.CpuUsage.TotalTime - _cpu;
        double PerOp(long n) => n / (double)Math.Max(ops, 1);
        var delta = _cluster.Topology.Clusters.Select((c, i) => (Cluster: c, D: after[i] - _before[i])).ToList();
        var coordinatorDecisions = delta.Where(d => d.Cluster.Kind == ClusterKind.Coordinator).Sum(d => d.D.Decisions);
        var coordinatorRequests = delta.Where(d => d.Cluster.Kind == ClusterKind.Coordinator).Sum(d => d.D.Requests);
        var batchAvg = coordinatorDecisions == 0 ? 0 : coordinatorRequests / (double)coordinatorDecisions;
        Console.WriteLine($"  {label} fsyncs_per_op={PerOp(delta.Sum(d => d.D.Fsyncs)):F4} wal_bytes_per_op={PerOp(delta.Sum(d => d.D.WalBytes)):F0} sig_verifies_per_op={PerOp(verifies):F4} decisions={delta.Sum(d => d.D.Decisions)} view_changes={delta.Sum(d => d.D.ViewChanges)} batch_avg={batchAvg:F1}");
        // The whole process (every node and every client): what an operation costs the machine.
        Console.WriteLine($"  cpu_us_per_op={cpu.TotalMicroseconds / Math.Max(ops, 1):F1} alloc_bytes_per_op={PerOp(allocated):F0} gc_pause_pct={pause.TotalSeconds / elapsedSeconds * 100:F1} gen0={GC.CollectionCount(0) - _gen0} gen2={GC.CollectionCount(2) - _gen2} jit_ms={(System.Runtime.JitInfo.GetCompilationTime() - _jit).TotalMilliseconds:F0}");
        // Which collections paused the process long enough to show in the latency tail.
        Console.WriteLine($"  {_gcPauses.Summary()}");
        Console.WriteLine($"  {_gcPauses.PromotionSummary()}");
        if (_allocations is not null)
        {
            Console.WriteLine(_allocations.Summary(25));
        }
        if (verbose)
        {
            foreach (var (c, d) in delta)
            {
                Console.WriteLine($"  cluster={c.Id} kind={KeygenCommand.Kind(c.Kind)} decisions={d.Decisions} view_changes={d.ViewChanges} fsyncs_per_op={PerOp(d.Fsyncs):F4} wal_bytes_per_op={PerOp(d.WalBytes):F0} inputs_ahead_used={d.AheadUsed} wasted={d.AheadWasted} pre_prepares_without_inputs={d.PrePreparesWithoutInputs} inbound_checks={d.InboundChecks}"
                                  + (c.Kind == ClusterKind.Coordinator ? $" batch_avg={(d.Decisions == 0 ? 0 : d.Requests / (double)d.Decisions):F1}" : ""));
            }
        }

        return batchAvg;
    }

    public void Dispose()
    {
        _gcPauses.Dispose();
        _allocations?.Dispose();
    }
}
