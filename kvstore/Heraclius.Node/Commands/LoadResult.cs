using Heraclius.KvStore.Client;

namespace Heraclius.Node.Commands;

/// <summary>What the benchmark's virtual users saw: latencies of executed operations (a list per user, written only by it) and counts of the rest.</summary>
internal sealed class LoadResult
{
    private readonly long[] _refusals = new long[256];
    private long _timeouts;

    public LoadResult(int users)
    {
        Latencies = [.. Enumerable.Range(0, users).Select(_ => new List<double>())];
    }

    public IReadOnlyList<List<double>> Latencies { get; }

    public long Timeouts => Interlocked.Read(ref _timeouts);

    public void CountTimeout() => Interlocked.Increment(ref _timeouts);

    public void CountRefusal(ReplyStatus status) => Interlocked.Increment(ref _refusals[(byte)status]);

    public (ReplyStatus Status, long Count)[] Refusals() =>
        [.. _refusals.Select((n, i) => ((ReplyStatus)i, Interlocked.Read(ref _refusals[i]))).Where(r => r.Item2 > 0)];
}
