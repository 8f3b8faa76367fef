namespace Heraclius.KvStore.Storage;

/// <summary>
/// The snapshot store of the deterministic simulation. Save is atomic and durable on return, as
/// on disk, so a simulated crash never loses or tears a snapshot and needs no hook here.
/// </summary>
/// <remarks>
/// Like <see cref="FileSnapshotStore"/> it keeps one snapshot: the last one saved. SaveAsync
/// completes before it returns, so a simulation stays deterministic.
/// </remarks>
public sealed class MemorySnapshotStore : ISnapshotStore
{
    private (ulong Height, byte[] Bytes)? _latest;

    public void Save(ulong height, ReadOnlySpan<byte> snapshot) => _latest = (height, snapshot.ToArray());

    public Task SaveAsync(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        var length = 0;
        for (var i = 0; i < parts.Count; i++)
        {
            length = checked(length + parts[i].Length);
        }

        var bytes = new byte[length];
        var offset = 0;
        for (var i = 0; i < parts.Count; i++)
        {
            parts[i].Span.CopyTo(bytes.AsSpan(offset));
            offset += parts[i].Length;
        }

        _latest = (height, bytes);
        return Task.CompletedTask;
    }

    /// <remarks>Returns a copy: the caller may mutate it without changing what is stored.</remarks>
    public (ulong Height, byte[] Bytes)? LoadLatest() =>
        _latest is { } latest ? (latest.Height, (byte[])latest.Bytes.Clone()) : null;
}
