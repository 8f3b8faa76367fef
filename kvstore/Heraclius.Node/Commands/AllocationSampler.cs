using System.Diagnostics.Tracing;

namespace Heraclius.Node.Commands;

/// <summary>
/// The runtime's allocation ticks (one event per ~100 KB a heap allocated, naming the type of the object that
/// crossed the mark), counted by type: a sampled picture of which types a bench allocates, in process and
/// without a profiler. Opted into with HERACLIUS_BENCH_ALLOCATIONS=1, since the verbose GC events cost time.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int AllocationTick = 10;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _bytesByType = new(StringComparer.Ordinal);
    private long _total;

    public static bool Enabled => Environment.GetEnvironmentVariable("HERACLIUS_BENCH_ALLOCATIONS") == "1";

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == RuntimeGcEvents.SourceName)
        {
            EnableEvents(source, EventLevel.Verbose, RuntimeGcEvents.Keyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventId != AllocationTick || e.Payload is not { Count: >= 6 } p)
        {
            return;
        }

        // AllocationAmount64 is the bytes since the previous tick of this heap and kind; TypeName the sampled object's type.
        var bytes = Convert.ToInt64(p[3], System.Globalization.CultureInfo.InvariantCulture);
        var type = p[5] as string ?? "?";
        lock (_lock)
        {
            _bytesByType[type] = _bytesByType.GetValueOrDefault(type) + bytes;
            _total += bytes;
        }
    }

    /// <summary>The <paramref name="top"/> types by sampled bytes, as their share of all sampled bytes.</summary>
    public string Summary(int top)
    {
        lock (_lock)
        {
            var total = Math.Max(_total, 1);
            var lines = _bytesByType.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(top)
                .Select(kv => $"    {kv.Value * 100.0 / total,5:F1}% {kv.Key}");
            return $"  allocations by sampled type ({_total / (1024 * 1024)} MB sampled):\n{string.Join('\n', lines)}";
        }
    }
}
