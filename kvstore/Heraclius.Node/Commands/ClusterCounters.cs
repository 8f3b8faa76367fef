namespace Heraclius.Node.Commands;

/// <summary>A cluster's counters read by the benchmark: WAL fsyncs and bytes of all its nodes, decisions, client requests decided and view changes at one member; executions of inputs sent ahead that followers took or rolled back, other clusters' compact decisions verified, and header-only pre-prepares set aside for want of their inputs ahead, over all members.</summary>
internal readonly record struct ClusterCounters(long Fsyncs, long WalBytes, long Decisions, long Requests, long ViewChanges, long AheadUsed, long AheadWasted, long InboundChecks, long PrePreparesWithoutInputs)
{
    public static ClusterCounters operator -(ClusterCounters a, ClusterCounters b) =>
        new(a.Fsyncs - b.Fsyncs, a.WalBytes - b.WalBytes, a.Decisions - b.Decisions, a.Requests - b.Requests, a.ViewChanges - b.ViewChanges,
            a.AheadUsed - b.AheadUsed, a.AheadWasted - b.AheadWasted, a.InboundChecks - b.InboundChecks, a.PrePreparesWithoutInputs - b.PrePreparesWithoutInputs);
}
