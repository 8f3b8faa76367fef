using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>Collects the inbound subscriptions' measurements for one node (filtered on the node tag, since nodes share a process).</summary>
internal sealed class InboundMetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, Dictionary<string, string?> Tags)> _measurements = new();
    private readonly string _nodeId;

    public InboundMetricRecorder(string nodeId)
    {
        _nodeId = nodeId;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == InboundMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.Start();
    }

    public long Sum(string instrument, params (string Key, string Value)[] tags) =>
        _measurements
            .Where(m => m.Instrument == instrument && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && v == t.Value))
            .Sum(m => m.Value);

    /// <summary>Observes the gauges now and returns the latest value of <paramref name="instrument"/>, or null if none was reported.</summary>
    public long? Gauge(string instrument)
    {
        _listener.RecordObservableInstruments();
        long? last = null;
        foreach (var m in _measurements)
        {
            if (m.Instrument == instrument)
            {
                last = m.Value;
            }
        }

        return last;
    }

    public void Dispose() => _listener.Dispose();

    private void Record(string instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var map = new Dictionary<string, string?>();
        foreach (var tag in tags)
        {
            map[tag.Key] = tag.Value?.ToString();
        }

        if (map.TryGetValue("node", out var node) && node == _nodeId)
        {
            _measurements.Enqueue((instrument, value, map));
        }
    }
}
