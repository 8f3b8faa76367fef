using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A snapshot store whose saves, one by one, complete at once or stay in flight on a slow disk: a save
/// in flight runs when the test releases it, or when the replica waits for it (a checkpoint or a second
/// install waits for the previous save), as a disk would finish the write it has; <see cref="Crash"/>
/// loses it.
/// </summary>
internal sealed class ScriptedSnapshotStore : ISnapshotStore
{
    private readonly MemorySnapshotStore _durable = new();
    private readonly Queue<bool> _inFlight = new();
    private readonly DeferredScheduler _disk = new();

    /// <summary>Whether each next save stays in flight (true) or completes at once (false); saves beyond the script complete at once.</summary>
    public ScriptedSnapshotStore(params bool[] inFlight)
    {
        foreach (var f in inFlight)
        {
            _inFlight.Enqueue(f);
        }
    }

    /// <summary>Heights saved durably, in order.</summary>
    public List<ulong> Durable { get; } = [];

    public bool InFlight => _disk.Pending > 0;

    public void Save(ulong height, ReadOnlySpan<byte> snapshot)
    {
        _durable.Save(height, snapshot);
        Durable.Add(height);
    }

    public Task SaveAsync(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        if (_inFlight.Count == 0 || !_inFlight.Dequeue())
        {
            SaveNow(height, parts);
            return Task.CompletedTask;
        }

        return Task.Factory.StartNew(() => SaveNow(height, parts), CancellationToken.None, TaskCreationOptions.None, _disk);
    }

    private void SaveNow(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        _durable.SaveAsync(height, parts).GetAwaiter().GetResult();
        Durable.Add(height);
    }

    /// <summary>The disk finishes every save in flight.</summary>
    public void Release() => _disk.RunAll();

    /// <summary>Power loss: the saves in flight never happen (their tasks never complete; the replica that waited is gone).</summary>
    public void Crash() => _disk.Drop();

    public (ulong Height, byte[] Bytes)? LoadLatest() => _durable.LoadLatest();
}
