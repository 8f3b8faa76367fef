using Heraclius.KvStore.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// One node's subscription to the decision queue one source cluster keeps for the node's cluster:
/// a loop that reads from one source node at a time and hands every frame to the
/// <see cref="IInboundSink"/>, which verifies it. Live once constructed; dispose to stop.
/// <para>
/// Replica i starts at source node i mod n, so a cluster's replicas read from distinct source
/// nodes, and moves to the next node (r + 1) when the node serves something invalid (at once),
/// when the stream fails or ends (after a jittered back-off that grows when every node failed in
/// turn), and when nothing was accepted for <see cref="InboundSubscriptionOptions.StallTimeoutMs"/>
/// (a node that withholds or serves only stale groups). When the sink is overloaded it pauses and
/// resubscribes to the same node. Every (re)subscription starts after
/// <see cref="IInboundSink.ResumeAfter"/>, so nothing the node already holds is asked for twice.
/// </para>
/// <para>
/// The loop never throws: every failure is logged (rate-limited), counted and retried. One gRPC
/// channel per source node is opened when first needed and kept until dispose.
/// </para>
/// </summary>
public sealed class DecisionSubscriber : IAsyncDisposable
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(5);

    private readonly NodeInfo _self;
    private readonly ClusterInfo _source;
    private readonly IInboundSink _sink;
    private readonly InboundMetrics _metrics;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeSpan _stallTimeout;
    private readonly int _stallTimeoutMs;
    private readonly int _retryBackoffMs;
    private readonly int _maxBackoffMs;
    private readonly LogRateLimiter _invalidLog = new(LogInterval);
    private readonly LogRateLimiter _failureLog = new(LogInterval);
    private readonly LogRateLimiter _sinkLog = new(LogInterval);
    private readonly CancellationTokenSource _stop = new();

    // Touched only by the loop until it has ended, then by DisposeAsync.
    private readonly GrpcNodeClient?[] _clients;
    private readonly Task _loop;

    // Written only by the loop: streams that failed or served invalid data since the last accepted
    // decision. Once it reaches n, every source node failed in turn and the back-off grows.
    private int _failuresInRow;

    private volatile int _nodeIndex;
    private volatile bool _subscribed;
    private volatile string? _lastFailure;
    private long _accepted;
    private long _stale;
    private long _invalid;
    private long _overloaded;
    private long _rotations;
    private long _failures;
    private int _disposed;

    /// <param name="self">The receiving node; its cluster is the destination asked for and its index picks the first source node.</param>
    /// <param name="source">The cluster to receive from.</param>
    /// <param name="sink">Verifies and takes what is received.</param>
    /// <param name="options">Stall timeout and back-off; defaults when null.</param>
    /// <param name="metrics">The node's inbound instruments, shared by its subscribers.</param>
    /// <param name="loggerFactory">Logging; none when null.</param>
    public DecisionSubscriber(
        NodeInfo self,
        ClusterInfo source,
        IInboundSink sink,
        InboundSubscriptionOptions? options,
        InboundMetrics metrics,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(metrics);
        if (source.Id == self.ClusterId)
        {
            throw new ArgumentException($"node {self.Id} cannot subscribe to its own cluster", nameof(source));
        }

        options ??= new InboundSubscriptionOptions();
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        _self = self;
        _source = source;
        _sink = sink;
        _metrics = metrics;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<DecisionSubscriber>();
        _stallTimeoutMs = options.StallTimeoutMs;
        _stallTimeout = TimeSpan.FromMilliseconds(options.StallTimeoutMs);
        _retryBackoffMs = options.RetryBackoffMs;
        _maxBackoffMs = options.MaxBackoffMs;
        _clients = new GrpcNodeClient?[source.N];
        _nodeIndex = self.Index % source.N;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The cluster this subscription receives from.</summary>
    public ClusterInfo Source => _source;

    public InboundSubscriptionStats Stats
    {
        get
        {
            var index = _nodeIndex;
            return new InboundSubscriptionStats(
                _source.Id,
                index,
                _source.Nodes[index].Id,
                _subscribed,
                Interlocked.Read(ref _accepted),
                Interlocked.Read(ref _stale),
                Interlocked.Read(ref _invalid),
                Interlocked.Read(ref _overloaded),
                Interlocked.Read(ref _rotations),
                Interlocked.Read(ref _failures),
                _lastFailure);
        }
    }

    /// <summary>Stops the loop, ends the open call and closes the channels.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        await _loop;
        foreach (var client in _clients)
        {
            client?.Dispose();
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            TimeSpan pause;
            try
            {
                pause = await SubscribeOnceAsync(stop);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Nothing above is expected to throw; if it does, the loop still must not end.
                pause = StreamFailed("failed", e);
            }

            if (pause > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(pause, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>One call to the current source node, until it fails, stalls or has to end. Returns the pause before the next.</summary>
    private async Task<TimeSpan> SubscribeOnceAsync(CancellationToken stop)
    {
        ulong afterHeight;
        try
        {
            afterHeight = _sink.ResumeAfter(_source.Id);
        }
        catch (Exception e) when (!stop.IsCancellationRequested)
        {
            return SinkFailed(e);
        }

        var index = _nodeIndex;
        var node = _source.Nodes[index];
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var open = false;
        try
        {
            var client = _clients[index] ??= new GrpcNodeClient(new Uri(node.Endpoint), _loggerFactory);
            _logger.Subscribing(_self.Id, node.Id, _source.Id, afterHeight);

            // The stall clock covers connecting too, so a node that never answers is left as well.
            attempt.CancelAfter(_stallTimeout);
            open = true;
            _subscribed = true;
            _metrics.SubscriptionOpened();
            await foreach (var frame in client.SubscribeAsync(_self.ClusterId, afterHeight, attempt.Token))
            {
                InboundVerdict verdict;
                try
                {
                    verdict = _sink.Offer(_source.Id, frame);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    return SinkFailed(e);
                }

                switch (verdict)
                {
                    case InboundVerdict.Accepted:
                        Interlocked.Increment(ref _accepted);
                        _metrics.Accepted(_source.Id);
                        _failuresInRow = 0;
                        attempt.CancelAfter(_stallTimeout);
                        break;
                    case InboundVerdict.Stale:
                    case InboundVerdict.Ahead:
                        // Not progress: a node that serves only what we hold, or skips what we need, is left at the stall timeout.
                        Interlocked.Increment(ref _stale);
                        _metrics.Stale(_source.Id);
                        break;
                    case InboundVerdict.Overloaded:
                        Interlocked.Increment(ref _overloaded);
                        _metrics.Overloaded(_source.Id);
                        var delay = Jitter(_retryBackoffMs);
                        _logger.Overloaded(_self.Id, node.Id, _source.Id, (long)delay.TotalMilliseconds);
                        return delay;
                    default:
                        return InvalidServed(node);
                }
            }

            return StreamFailed("ended", null);
        }
        catch (Exception) when (attempt.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            _logger.Stalled(_self.Id, node.Id, _source.Id, _stallTimeoutMs);
            Rotate("stalled");
            return TimeSpan.Zero;
        }
        catch (Exception e) when (!stop.IsCancellationRequested)
        {
            return StreamFailed("failed", e);
        }
        finally
        {
            if (open)
            {
                _subscribed = false;
                _metrics.SubscriptionClosed();
            }
        }
    }

    private TimeSpan InvalidServed(NodeInfo node)
    {
        Interlocked.Increment(ref _invalid);
        _metrics.Invalid(_source.Id);
        if (_invalidLog.TryAcquire(out var suppressed))
        {
            _logger.InvalidDecision(_self.Id, node.Id, _source.Id, suppressed);
        }

        Rotate("invalid");

        // At once, unless every node has failed in turn: then back off rather than spin.
        return ++_failuresInRow <= _source.N ? TimeSpan.Zero : Backoff();
    }

    private TimeSpan StreamFailed(string what, Exception? exception)
    {
        var node = _source.Nodes[_nodeIndex];
        Interlocked.Increment(ref _failures);
        _metrics.Failed(_source.Id);
        _lastFailure = exception is null ? what : $"{what}: {exception.GetType().Name}: {exception.Message}";
        _failuresInRow++;
        var delay = Backoff();
        if (_failureLog.TryAcquire(out var suppressed))
        {
            _logger.StreamFailed(_self.Id, node.Id, _source.Id, what, (long)delay.TotalMilliseconds, suppressed, exception);
        }

        Rotate("failed");
        return delay;
    }

    private TimeSpan SinkFailed(Exception exception)
    {
        var delay = Jitter(_retryBackoffMs);
        if (_sinkLog.TryAcquire(out var suppressed))
        {
            _logger.SinkFailed(_self.Id, _source.Id, (long)delay.TotalMilliseconds, suppressed, exception);
        }

        return delay;
    }

    private void Rotate(string reason)
    {
        _nodeIndex = (_nodeIndex + 1) % _source.N;
        Interlocked.Increment(ref _rotations);
        _metrics.Rotated(_source.Id, reason);
    }

    /// <summary>The retry back-off, doubled for every full round of failures (each source node failed in turn), capped.</summary>
    private TimeSpan Backoff()
    {
        var rounds = Math.Min(Math.Max(_failuresInRow - 1, 0) / _source.N, 30);
        return Jitter(Math.Min((double)_retryBackoffMs * (1L << rounds), _maxBackoffMs));
    }

    /// <summary>Equal jitter: uniformly in [d/2, d], so that nodes that failed together do not retry together.</summary>
    private static TimeSpan Jitter(double delayMs) => TimeSpan.FromMilliseconds(delayMs * (0.5 + (Random.Shared.NextDouble() / 2)));
}
