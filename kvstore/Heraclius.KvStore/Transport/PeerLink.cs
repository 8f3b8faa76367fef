using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport.Grpc;
using Microsoft.Extensions.Logging;
using PeerRpc = Heraclius.KvStore.Transport.Grpc.Peer;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// The outbound stream to one peer: dials, authenticates both ends, then drains the peer's queue
/// into frames. Any failure ends the stream; the loop redials with jittered exponential back-off
/// and never touches the queue's writers, so <see cref="IPeerNetwork.Send"/> never waits on it.
/// </summary>
internal sealed class PeerLink : IOutboundLink
{
    private readonly LocalNode _local;
    private readonly NodeInfo _peer;
    private readonly PeerNetworkOptions _options;
    private readonly TransportMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Func<TimeSpan, TimeSpan> _jitter;
    private readonly OutboundQueue _queue;
    private readonly GrpcChannel _channel;
    private readonly PeerRpc.PeerClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly LogRateLimiter _failureLog = new(TimeSpan.FromSeconds(5));
    private readonly Task _loop;

    // Read and written only by the sender loop: a message taken from the queue that did not fit
    // in the previous frame.
    private ReadOnlyMemory<byte>? _carry;
    private volatile bool _connected;
    private volatile string? _lastFailure;
    private long _reconnects;
    private long _handshakeFailures;

    public PeerLink(
        LocalNode local,
        NodeInfo peer,
        PeerNetworkOptions options,
        TransportMetrics metrics,
        ILoggerFactory loggerFactory,
        Func<TimeSpan, TimeSpan> jitter)
    {
        _local = local;
        _peer = peer;
        _options = options;
        _metrics = metrics;
        _logger = loggerFactory.CreateLogger<GrpcPeerNetwork>();
        _jitter = jitter;
        _queue = new OutboundQueue(local.Node.Id, peer, options.QueueCapacity, metrics, _logger);
        _channel = GrpcChannels.Create(
            new Uri(peer.Endpoint),
            options.ConnectTimeout,
            options.KeepAlivePingDelay,
            options.KeepAlivePingTimeout,
            TransportLimits.MaxFrameBytes,
            loggerFactory);
        _client = new PeerRpc.PeerClient(_channel);
        _loop = Task.Run(RunAsync);
    }

    public PeerLinkStats Stats => new(
        _peer.Index,
        _peer.Id,
        _connected,
        _queue.Count,
        _queue.Sent,
        _queue.Dropped,
        _queue.DroppedQueueFull,
        Interlocked.Read(ref _reconnects),
        Interlocked.Read(ref _handshakeFailures),
        _lastFailure);

    public void Enqueue(ReadOnlyMemory<byte> message) => _queue.Enqueue(message);

    public void CountDropped(string reason) => _queue.CountDropped(reason, 1);

    /// <summary>Stops the loop and closes the stream; messages still queued are discarded.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Channel.Writer.TryComplete();
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _channel.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        var backoff = _options.InitialBackoff;
        var attempts = 0L;
        while (!stop.IsCancellationRequested)
        {
            if (attempts++ > 0)
            {
                Interlocked.Increment(ref _reconnects);
                _metrics.Reconnect(_peer.Id);
            }

            if (await RunConnectionAsync(stop))
            {
                backoff = _options.InitialBackoff;
            }

            try
            {
                await Task.Delay(_jitter(backoff), stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
        }
    }

    /// <summary>One connection, from dial to failure. True if the handshake succeeded.</summary>
    private async Task<bool> RunConnectionAsync(CancellationToken stop)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
        AsyncDuplexStreamingCall<PeerFrame, PeerFrame>? call = null;
        Task? watcher = null;
        var established = false;
        try
        {
            call = _client.Connect(cancellationToken: attempt.Token);
            await HandshakeAsync(call, attempt.Token);
            established = true;
            _connected = true;
            _metrics.PeerStreamOpened("outbound");
            _logger.PeerConnected(_local.Node.Id, _peer.Id, _peer.Endpoint);
            watcher = WatchAsync(call, attempt);
            await PumpAsync(call, attempt.Token);
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // Disposing.
        }
        catch (PeerHandshakeException e)
        {
            HandshakeFailed(e.Reason, e);
        }
        catch (RpcException e) when (!established && e.StatusCode is StatusCode.PermissionDenied or StatusCode.InvalidArgument or StatusCode.DeadlineExceeded)
        {
            HandshakeFailed(HandshakeFailureReasons.Rejected, e);
        }
        catch (Exception e) when (established)
        {
            if (_failureLog.TryAcquire(out var suppressed))
            {
                _logger.PeerDisconnected(_local.Node.Id, _peer.Id, suppressed, e is OperationCanceledException ? null : e);
            }
        }
        catch (Exception e)
        {
            _logger.PeerDialFailed(_local.Node.Id, _peer.Id, _peer.Endpoint, e);
        }
        finally
        {
            if (established)
            {
                _connected = false;
                _metrics.PeerStreamClosed("outbound");
            }

            await attempt.CancelAsync();
            if (watcher is not null)
            {
                await watcher;
            }

            call?.Dispose();
        }

        return established;
    }

    private async Task HandshakeAsync(AsyncDuplexStreamingCall<PeerFrame, PeerFrame> call, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.HandshakeTimeout);
        try
        {
            var self = _local.Node;
            var nonce = PeerHandshake.NewNonce();
            await call.RequestStream.WriteAsync(
                new PeerFrame { Hello = new PeerHello { NodeId = self.Id, Nonce = UnsafeByteOperations.UnsafeWrap(nonce) } },
                timeout.Token);

            var challenge = (await ReadAsync(call, PeerFrame.KindOneofCase.Challenge, timeout.Token)).Challenge;
            if (!string.Equals(challenge.NodeId, _peer.Id, StringComparison.Ordinal))
            {
                throw new PeerHandshakeException(HandshakeFailureReasons.WrongListener, $"dialled {_peer.Id} but the listener says it is another node");
            }

            if (challenge.Nonce.Length != PeerHandshake.NonceSize)
            {
                throw new PeerHandshakeException(HandshakeFailureReasons.Malformed, "the challenge nonce has the wrong size");
            }

            var statement = PeerHandshake.DialerStatement(self.ClusterId, self.Id, _peer.Id, challenge.Nonce.Span);
            await call.RequestStream.WriteAsync(
                new PeerFrame { Proof = new PeerProof { Signature = UnsafeByteOperations.UnsafeWrap(_local.Key.Sign(statement)) } },
                timeout.Token);

            var accepted = (await ReadAsync(call, PeerFrame.KindOneofCase.Accepted, timeout.Token)).Accepted;
            var expected = PeerHandshake.ListenerStatement(_peer.ClusterId, _peer.Id, self.Id, nonce);
            if (!_peer.PublicKey.Verify(expected, accepted.Signature.Span))
            {
                throw new PeerHandshakeException(HandshakeFailureReasons.ListenerBadSignature, $"the listener's signature does not verify with {_peer.Id}'s key");
            }
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new PeerHandshakeException(HandshakeFailureReasons.Timeout, "the listener did not finish the handshake in time", e);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new PeerHandshakeException(HandshakeFailureReasons.Timeout, "the listener did not finish the handshake in time", e);
        }
    }

    private static async Task<PeerFrame> ReadAsync(
        AsyncDuplexStreamingCall<PeerFrame, PeerFrame> call,
        PeerFrame.KindOneofCase expected,
        CancellationToken ct)
    {
        if (!await call.ResponseStream.MoveNext(ct))
        {
            throw new PeerHandshakeException(HandshakeFailureReasons.StreamClosed, "the listener ended the stream during the handshake");
        }

        var frame = call.ResponseStream.Current;
        return frame.KindCase == expected
            ? frame
            : throw new PeerHandshakeException(HandshakeFailureReasons.Malformed, $"expected {expected}, got {frame.KindCase}");
    }

    /// <summary>
    /// The listener sends nothing after the handshake, so the response stream ending (or failing)
    /// is how a closed or dead stream shows up while the queue is idle.
    /// </summary>
    private static async Task WatchAsync(AsyncDuplexStreamingCall<PeerFrame, PeerFrame> call, CancellationTokenSource attempt)
    {
        try
        {
            await call.ResponseStream.MoveNext(attempt.Token);
        }
        catch (Exception)
        {
            // Whatever ended the stream, the pump has to stop and the loop redial.
        }
        finally
        {
            try
            {
                await attempt.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private async Task PumpAsync(AsyncDuplexStreamingCall<PeerFrame, PeerFrame> call, CancellationToken ct)
    {
        var reader = _queue.Channel.Reader;
        while (true)
        {
            if (_carry is null && !await reader.WaitToReadAsync(ct))
            {
                return;
            }

            var payloads = new PeerPayloads();
            long bytes = 0;
            if (_carry is { } carried)
            {
                payloads.Payload.Add(UnsafeByteOperations.UnsafeWrap(carried));
                bytes += carried.Length;
                _carry = null;
            }

            while (payloads.Payload.Count < _options.MaxBatchMessages && reader.TryRead(out var message))
            {
                if (payloads.Payload.Count > 0 && bytes + message.Length > _options.MaxBatchBytes)
                {
                    _carry = message;
                    break;
                }

                payloads.Payload.Add(UnsafeByteOperations.UnsafeWrap(message));
                bytes += message.Length;
            }

            if (payloads.Payload.Count == 0)
            {
                continue;
            }

            try
            {
                await call.RequestStream.WriteAsync(new PeerFrame { Payloads = payloads }, ct);
            }
            catch
            {
                // The frame may or may not have reached the peer; consensus retransmits what matters.
                _queue.CountDropped("send_failed", payloads.Payload.Count);
                throw;
            }

            _queue.CountSent(payloads.Payload.Count, bytes);
        }
    }

    private void HandshakeFailed(string reason, Exception e)
    {
        Interlocked.Increment(ref _handshakeFailures);
        _lastFailure = reason;
        _metrics.HandshakeFailed("dialer", reason);
        if (_failureLog.TryAcquire(out var suppressed))
        {
            _logger.DialerHandshakeFailed(_local.Node.Id, _peer.Id, reason, suppressed, e);
        }
    }
}
