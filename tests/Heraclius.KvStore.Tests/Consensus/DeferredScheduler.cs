namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A slow disk for snapshot saves: queued tasks run only when the test says so (<see cref="RunAll"/>), or
/// inline when someone waits on one, as a disk finishes the write it has; <see cref="Drop"/> is power loss.
/// </summary>
public sealed class DeferredScheduler : TaskScheduler
{
    private readonly List<Task> _queue = [];

    public int Pending => _queue.Count;

    protected override IEnumerable<Task> GetScheduledTasks() => _queue;

    protected override void QueueTask(Task task) => _queue.Add(task);

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued)
    {
        _queue.Remove(task);
        return TryExecuteTask(task);
    }

    protected override bool TryDequeue(Task task) => _queue.Remove(task);

    public void RunAll()
    {
        while (_queue.Count > 0)
        {
            var t = _queue[0];
            _queue.RemoveAt(0);
            TryExecuteTask(t);
        }
    }

    /// <summary>Power loss: the queued saves never happen.</summary>
    public void Drop() => _queue.Clear();
}
