// Process tests start four node processes with millisecond timers on a small machine; running test
// classes side by side would starve those timers, so they run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
