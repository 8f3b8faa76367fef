// Cluster tests run real nodes with millisecond timers on a 2-core machine; running them beside
// the CPU-heavy simulation starves their timers, so test classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
