using System.Diagnostics.Tracing;

namespace Heraclius.Node.Commands;

/// <summary>
/// The runtime's own GC events, in process: every pause (suspension to restart) with the generation and
/// kind of the collection that caused it, so a bench can say which collections make its latency tail.
/// </summary>
internal sealed class GcPauseRecorder : EventListener
{
    private const int GcStart = 1;
    private const int SuspendBegin = 9;
    private const int RestartEnd = 3;

    private readonly Lock _lock = new();
    private readonly List<(double Ms, int Generation, string Kind)> _pauses = [];
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
        }
    }

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
