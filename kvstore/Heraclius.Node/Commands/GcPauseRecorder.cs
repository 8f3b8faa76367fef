using System.Diagnostics.Tracing;

namespace Heraclius.Node.Commands;

/// <summary>
/// The runtime's own GC events, in process: every pause (suspension to restart) with the generation and
/// kind of the collection that caused it, so a bench can say which collections make its latency tail; and what
/// each collection promoted out of gen0 and gen1, which is what a blocking one copies while the process waits.
/// </summary>
internal sealed class GcPauseRecorder : EventListener
{
    private const int GcStart = 1;
    private const int SuspendBegin = 9;
    private const int RestartEnd = 3;
    private const int HeapStats = 4;
    private const double Megabyte = 1_000_000;

    private readonly Lock _lock = new();
    private readonly List<(double Ms, int Generation, string Kind)> _pauses = [];
    private readonly List<(int Generation, ulong FromGen0, ulong FromGen1)> _promotions = [];
    private DateTime _suspendedAt;
    private int _generation = -1;
    private string _kind = "";

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == RuntimeGcEvents.SourceName)
        {
            EnableEvents(source, EventLevel.Informational, RuntimeGcEvents.Keyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        lock (_lock)
        {
            switch (e.EventId)
            {
                case SuspendBegin:
                    _suspendedAt = e.TimeStamp;
                    break;
                case GcStart when e.Payload is { Count: >= 4 } p:
                    _generation = Convert.ToInt32(p[1], System.Globalization.CultureInfo.InvariantCulture);
                    _kind = Convert.ToInt32(p[3], System.Globalization.CultureInfo.InvariantCulture) switch
                    {
                        0 => "blocking",
                        1 => "background",
                        _ => "foreground",
                    };
                    break;
                case HeapStats when e.Payload is { Count: >= 4 } p:
                    // GCHeapStats_V2: size and bytes promoted of gen0, then of gen1, ...
                    _promotions.Add((_generation, ToUInt64(p[1]), ToUInt64(p[3])));
                    break;
                case RestartEnd when _suspendedAt != default:
                    _pauses.Add(((e.TimeStamp - _suspendedAt).TotalMilliseconds, _generation, _kind));
                    _suspendedAt = default;
                    break;
            }
        }
    }

    /// <summary>Forgets the pauses so far (the warm-up's).</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _pauses.Clear();
            _promotions.Clear();
        }
    }

    /// <summary>
    /// The megabytes promoted per collection: out of gen0 (every collection), and out of gen1 (collections of gen1 and
    /// gen2), average, largest and in all. Long-lived objects allocated young are copied once into gen1 and again into gen2;
    /// their rate, not the allocation rate, sets how long the blocking collections pause.
    /// </summary>
    public string PromotionSummary()
    {
        lock (_lock)
        {
            var fromGen0 = _promotions.Select(p => p.FromGen0 / Megabyte).ToList();
            var fromGen1 = _promotions.Where(p => p.Generation >= 1).Select(p => p.FromGen1 / Megabyte).ToList();
            return $"gc_promoted_mb gen0_avg={Average(fromGen0):F0} gen0_max={Max(fromGen0):F0} gen0_total={fromGen0.Sum():F0} gen1_avg={Average(fromGen1):F0} gen1_max={Max(fromGen1):F0} gen1_total={fromGen1.Sum():F0}";
        }
    }

    private static double Average(List<double> values) => values.Count == 0 ? 0 : values.Average();

    private static double Max(List<double> values) => values.Count == 0 ? 0 : values.Max();

    private static ulong ToUInt64(object? value) => Convert.ToUInt64(value, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The longest pause, and the pauses of 20 ms or more by generation and kind of collection.</summary>
    public string Summary()
    {
        lock (_lock)
        {
            var max = _pauses.Count == 0 ? 0 : _pauses.Max(p => p.Ms);
            var longOnes = _pauses.Where(p => p.Ms >= 20).GroupBy(p => $"gen{Math.Max(p.Generation, 0)}_{p.Kind}")
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key}={g.Count()}/{g.Max(p => p.Ms):F0}ms");
            return $"gc_pauses={_pauses.Count} gc_max_pause_ms={max:F0} gc_pauses_20ms_plus: {string.Join(" ", longOnes.DefaultIfEmpty("none"))}";
        }
    }
}
