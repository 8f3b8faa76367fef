namespace Heraclius.KvStore.Routing;

/// <summary>
/// A node's decision queues towards other clusters: per destination, the encoded compact decisions
/// of its decided groups that the destination has not acknowledged yet, in height order. Written by
/// the replica thread, read by subscription streams on other threads.
/// </summary>
public sealed class OutboundQueues
{
    private readonly object _lock = new();
    private readonly Dictionary<string, List<OutboundEntry>> _queues = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Appends a decided group (ignored when not above the queue's last height: replays after restart).</summary>
    public void Add(string destination, ulong height, byte[] compactDecision)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            if (!_queues.TryGetValue(destination, out var list))
            {
                list = [];
                _queues.Add(destination, list);
            }

            if (list.Count > 0 && list[^1].Height >= height)
            {
                return;
            }

            list.Add(new OutboundEntry(height, compactDecision));
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.SetResult();
    }

    /// <summary>Drops what <paramref name="destination"/> acknowledged: every entry up to <paramref name="height"/>.</summary>
    public void PruneThrough(string destination, ulong height)
    {
        lock (_lock)
        {
            if (_queues.TryGetValue(destination, out var list))
            {
                var n = 0;
                while (n < list.Count && list[n].Height <= height)
                {
                    n++;
                }

                if (n > 0)
                {
                    list.RemoveRange(0, n);
                }
            }
        }
    }

    /// <summary>Entries above <paramref name="afterHeight"/>, and a task that completes when anything is added.</summary>
    public IReadOnlyList<OutboundEntry> After(string destination, ulong afterHeight, out Task changed)
    {
        lock (_lock)
        {
            changed = _changed.Task;
            if (!_queues.TryGetValue(destination, out var list))
            {
                return [];
            }

            var i = list.FindIndex(e => e.Height > afterHeight);
            return i < 0 ? [] : list.GetRange(i, list.Count - i);
        }
    }

    public int Count(string destination)
    {
        lock (_lock)
        {
            return _queues.TryGetValue(destination, out var list) ? list.Count : 0;
        }
    }

    /// <summary>Every queued entry, by destination then height (what a WAL rewrite must keep).</summary>
    public IReadOnlyList<(string Destination, OutboundEntry Entry)> All()
    {
        lock (_lock)
        {
            return [.. _queues.OrderBy(q => q.Key, StringComparer.Ordinal).SelectMany(q => q.Value.Select(e => (q.Key, e)))];
        }
    }
}
