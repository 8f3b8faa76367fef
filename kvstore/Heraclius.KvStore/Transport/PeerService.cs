using Google.Protobuf;
using Grpc.Core;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport.Grpc;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PeerRpc = Heraclius.KvStore.Transport.Grpc.Peer;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// The listening end of peer streams: authenticates the dialer (and itself to the dialer), then
/// hands every payload to the local <see cref="IPeerMessageHandler"/> with the dialer's index.
/// Refuses anything else with a status, counts it and logs it at a bounded rate; bad input ends
/// one call, never the node. A singleton: one per hosted node.
/// </summary>
internal sealed class PeerService : PeerRpc.PeerBase
{
    private readonly LocalNode _local;
    private readonly IPeerMessageHandler _handler;
    private readonly TransportServerOptions _options;
    private readonly TransportMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;
    private readonly LogRateLimiter _refusalLog;
    private readonly LogRateLimiter _handlerLog;

    public PeerService(
        LocalNode local,
        IPeerMessageHandler handler,
        IOptions<TransportServerOptions> options,
        TransportMetrics metrics,
        ILogger<PeerService> logger,
        IHostApplicationLifetime lifetime)
    {
        _local = local;
        _handler = handler;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _stopping = lifetime.ApplicationStopping;
        _refusalLog = new LogRateLimiter(_options.LogInterval);
        _handlerLog = new LogRateLimiter(_options.LogInterval);
    }

    public override async Task Connect(IAsyncStreamReader<PeerFrame> requestStream, IServerStreamWriter<PeerFrame> responseStream, ServerCallContext context)
    {
        // Peer streams live as long as the node: end them when the host stops, so that shutdown
        // does not wait for the dialers, who will redial another incarnation.
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _stopping);
        var dialer = await HandshakeAsync(requestStream, responseStream, context, call.Token);
        if (dialer is null)
        {
            return;
        }

        _metrics.PeerStreamOpened("inbound");
        _logger.PeerAccepted(_local.Node.Id, dialer.Id, context.Peer);
        try
        {
            while (await requestStream.MoveNext(call.Token))
            {
                var frame = requestStream.Current;
                if (frame.KindCase != PeerFrame.KindOneofCase.Payloads)
                {
                    _logger.ProtocolViolation(_local.Node.Id, dialer.Id, $"a {frame.KindCase} frame after the handshake");
                    throw new RpcException(new Status(StatusCode.InvalidArgument, "only payload frames may follow the handshake"));
                }

                Deliver(dialer, frame.Payloads);
            }

            _logger.InboundStreamEnded(_local.Node.Id, dialer.Id, null);
        }
        catch (Exception e) when (e is not RpcException && call.IsCancellationRequested)
        {
            // The dialer went away, or this node is stopping.
            _logger.InboundStreamEnded(_local.Node.Id, dialer.Id, e);
        }
        catch (IOException e)
        {
            // The dialer reset the stream or the connection broke.
            _logger.InboundStreamEnded(_local.Node.Id, dialer.Id, e);
        }
        finally
        {
            _metrics.PeerStreamClosed("inbound");
        }
    }

    private void Deliver(NodeInfo dialer, PeerPayloads payloads)
    {
        long bytes = 0;
        foreach (var payload in payloads.Payload)
        {
            bytes += payload.Length;
            try
            {
                _handler.OnPeerMessage(dialer.Index, payload.Memory);
            }
            catch (Exception e)
            {
                _metrics.HandlerError(dialer.Id);
                if (_handlerLog.TryAcquire(out var suppressed))
                {
                    _logger.HandlerFailed(_local.Node.Id, dialer.Index, suppressed, e);
                }
            }
        }

        _metrics.MessagesReceived(dialer.Id, payloads.Payload.Count, bytes);
    }

    /// <summary>Runs the listener's side of the handshake; the authenticated dialer, or null if the dialer left.</summary>
    private async Task<NodeInfo?> HandshakeAsync(
        IAsyncStreamReader<PeerFrame> requestStream,
        IServerStreamWriter<PeerFrame> responseStream,
        ServerCallContext context,
        CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.HandshakeTimeout);
        var claimed = "?";
        try
        {
            var hello = (await ReadAsync(requestStream, PeerFrame.KindOneofCase.Hello, context, claimed, timeout.Token)).Hello;
            if (!PeerHandshake.IsValidId(hello.NodeId) || hello.Nonce.Length != PeerHandshake.NonceSize)
            {
                throw Refuse(context, claimed, HandshakeFailureReasons.Malformed, StatusCode.InvalidArgument);
            }

            claimed = hello.NodeId;
            var self = _local.Node;
            if (!_local.TryGetNode(hello.NodeId, out var dialer))
            {
                throw Refuse(context, claimed, HandshakeFailureReasons.UnknownNode, StatusCode.PermissionDenied);
            }

            if (string.Equals(dialer.Id, self.Id, StringComparison.Ordinal))
            {
                throw Refuse(context, claimed, HandshakeFailureReasons.Self, StatusCode.PermissionDenied);
            }

            if (!_options.AdmitPeer(dialer, self))
            {
                throw Refuse(context, claimed, HandshakeFailureReasons.NotMember, StatusCode.PermissionDenied);
            }

            var nonce = PeerHandshake.NewNonce();
            await responseStream.WriteAsync(
                new PeerFrame { Challenge = new PeerChallenge { NodeId = self.Id, Nonce = UnsafeByteOperations.UnsafeWrap(nonce) } },
                timeout.Token);

            var proof = (await ReadAsync(requestStream, PeerFrame.KindOneofCase.Proof, context, claimed, timeout.Token)).Proof;
            var statement = PeerHandshake.DialerStatement(dialer.ClusterId, dialer.Id, self.Id, nonce);
            if (!dialer.PublicKey.Verify(statement, proof.Signature.Span))
            {
                throw Refuse(context, claimed, HandshakeFailureReasons.BadSignature, StatusCode.PermissionDenied);
            }

            var answer = PeerHandshake.ListenerStatement(self.ClusterId, self.Id, dialer.Id, hello.Nonce.Span);
            await responseStream.WriteAsync(
                new PeerFrame { Accepted = new PeerAccepted { Signature = UnsafeByteOperations.UnsafeWrap(_local.Key.Sign(answer)) } },
                timeout.Token);
            return dialer;
        }
        catch (Exception e) when (e is not RpcException && timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw Refuse(context, claimed, HandshakeFailureReasons.Timeout, StatusCode.DeadlineExceeded);
        }
        catch (Exception e) when (e is not RpcException && ct.IsCancellationRequested)
        {
            // The dialer left (or the node is stopping) mid-handshake: nothing to refuse.
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private async Task<PeerFrame> ReadAsync(
        IAsyncStreamReader<PeerFrame> requestStream,
        PeerFrame.KindOneofCase expected,
        ServerCallContext context,
        string claimed,
        CancellationToken ct)
    {
        if (!await requestStream.MoveNext(ct) || requestStream.Current.KindCase != expected)
        {
            throw Refuse(context, claimed, HandshakeFailureReasons.Malformed, StatusCode.InvalidArgument);
        }

        return requestStream.Current;
    }

    private RpcException Refuse(ServerCallContext context, string claimed, string reason, StatusCode code)
    {
        _metrics.HandshakeFailed("listener", reason);
        if (_refusalLog.TryAcquire(out var suppressed))
        {
            _logger.HandshakeRejected(_local.Node.Id, context.Peer, claimed, reason, suppressed);
        }

        return new RpcException(new Status(code, $"peer handshake refused: {reason}"));
    }
}
