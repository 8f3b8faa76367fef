using System.Diagnostics.Metrics;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// The instruments of a node's decision subscriptions, on the meter <see cref="MeterName"/>. Every
/// measurement is tagged with the local <c>node</c> id (tests host several nodes in one process);
/// counters are also tagged with the <c>source</c> cluster.
/// </summary>
public sealed class InboundMetrics : IDisposable
{
    public const string MeterName = "Heraclius.Inbound";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly KeyValuePair<string, object?> _node;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _stale;
    private readonly Counter<long> _invalid;
    private readonly Counter<long> _overloaded;
    private readonly Counter<long> _rotations;
    private readonly Counter<long> _failures;
    private int _active;

    /// <param name="nodeId">The local node, the <c>node</c> tag of every measurement.</param>
    /// <param name="meterFactory">The host's meter factory; without one the instance owns its meter.</param>
    public InboundMetrics(string nodeId, IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _node = new("node", nodeId);
        _accepted = _meter.CreateCounter<long>("heraclius.inbound.decisions.accepted", "{decision}", "Compact decisions from other clusters taken into the replica's inbound pool.");
        _stale = _meter.CreateCounter<long>("heraclius.inbound.decisions.stale", "{decision}", "Valid compact decisions already held or processed.");
        _invalid = _meter.CreateCounter<long>("heraclius.inbound.decisions.invalid", "{decision}", "Compact decisions that failed parsing or verification: the serving node is faulty.");
        _overloaded = _meter.CreateCounter<long>("heraclius.inbound.decisions.overloaded", "{decision}", "Compact decisions the node could not take yet; the subscription paused and resumed.");
        _rotations = _meter.CreateCounter<long>("heraclius.inbound.rotations", "{rotation}", "Moves of a subscription to the next node of the source cluster, by reason (invalid, stalled, failed).");
        _failures = _meter.CreateCounter<long>("heraclius.inbound.failures", "{stream}", "Subscription streams that failed, ended or could not be opened.");
        _meter.CreateObservableGauge("heraclius.inbound.subscriptions.active", () => new Measurement<int>(Volatile.Read(ref _active), _node), "{subscription}", "Decision subscriptions with a call open now.");
    }

    internal void Accepted(string source) => _accepted.Add(1, _node, new("source", source));

    internal void Stale(string source) => _stale.Add(1, _node, new("source", source));

    internal void Invalid(string source) => _invalid.Add(1, _node, new("source", source));

    internal void Overloaded(string source) => _overloaded.Add(1, _node, new("source", source));

    internal void Rotated(string source, string reason) => _rotations.Add(1, _node, new("source", source), new("reason", reason));

    internal void Failed(string source) => _failures.Add(1, _node, new("source", source));

    internal void SubscriptionOpened() => Interlocked.Increment(ref _active);

    internal void SubscriptionClosed() => Interlocked.Decrement(ref _active);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
