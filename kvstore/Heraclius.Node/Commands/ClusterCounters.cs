namespace Heraclius.Node.Commands;

/// <summary>A cluster's counters read by the benchmark: WAL fsyncs and bytes of all its nodes, and decisions, client requests decided and view changes at one member.</summary>
internal readonly record struct ClusterCounters(long Fsyncs, long WalBytes, long Decisions, long Requests, long ViewChanges)
{
    public static ClusterCounters operator -(ClusterCounters a, ClusterCounters b) =>
        new(a.Fsyncs - b.Fsyncs, a.WalBytes - b.WalBytes, a.Decisions - b.Decisions, a.Requests - b.Requests, a.ViewChanges - b.ViewChanges);
}
