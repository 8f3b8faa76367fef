using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A snapshot store whose background saves stay in flight until the test releases them, as a slow
/// disk would: a crash before <see cref="Release"/> loses the save, as a crash mid-write does.
/// </summary>
internal sealed class HeldSnapshotStore : ISnapshotStore
{
    private readonly MemorySnapshotStore _durable = new();
    private (ulong Height, IReadOnlyList<ReadOnlyMemory<byte>> Parts, TaskCompletionSource Done)? _inFlight;

    public bool InFlight => _inFlight is not null;

    public void Save(ulong height, ReadOnlySpan<byte> snapshot) => _durable.Save(height, snapshot);

    public Task SaveAsync(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        Assert.Null(_inFlight);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _inFlight = (height, parts, done);
        return done.Task;
    }

    /// <summary>Finishes the save in flight: the snapshot becomes durable, then the task completes.</summary>
    public void Release()
    {
        var (height, parts, done) = _inFlight!.Value;
        _inFlight = null;
        _durable.SaveAsync(height, parts).GetAwaiter().GetResult();
        done.SetResult();
    }

    /// <summary>Fails the save in flight, as a full disk would; nothing becomes durable.</summary>
    public void Fail()
    {
        var done = _inFlight!.Value.Done;
        _inFlight = null;
        done.SetException(new IOException("disk full"));
    }

    public (ulong Height, byte[] Bytes)? LoadLatest() => _durable.LoadLatest();
}
