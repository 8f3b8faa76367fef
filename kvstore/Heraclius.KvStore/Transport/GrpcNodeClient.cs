using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Net.Client;
using Heraclius.KvStore.Transport.Grpc;
using Microsoft.Extensions.Logging;
using ClientRpc = Heraclius.KvStore.Transport.Grpc.Client;
using DecisionsRpc = Heraclius.KvStore.Transport.Grpc.Decisions;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// A connection to one node's client-facing services: submit batches, read decision queues,
/// query status. Refusals come back as <see cref="SubmitResult"/> values; an unreachable node or
/// a broken call is an <see cref="global::Grpc.Core.RpcException"/>. Thread-safe.
/// </summary>
public sealed class GrpcNodeClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly ClientRpc.ClientClient _client;
    private readonly DecisionsRpc.DecisionsClient _decisions;

    public GrpcNodeClient(Uri address, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        Address = address;
        _channel = GrpcChannels.Create(
            address,
            connectTimeout: TimeSpan.FromSeconds(5),
            keepAlivePingDelay: TimeSpan.FromSeconds(30),
            keepAlivePingTimeout: TimeSpan.FromSeconds(10),
            TransportLimits.MaxFrameBytes,
            loggerFactory);
        _client = new ClientRpc.ClientClient(_channel);
        _decisions = new DecisionsRpc.DecisionsClient(_channel);
    }

    public Uri Address { get; }

    public async Task<SubmitResult> SubmitAsync(ReadOnlyMemory<byte> batch, CancellationToken ct = default)
    {
        var reply = await _client.SubmitAsync(new SubmitRequest { Batch = UnsafeByteOperations.UnsafeWrap(batch) }, cancellationToken: ct);
        return reply.Accepted
            ? SubmitResult.Ok
            : SubmitResult.Rejected(reply.ErrorCode.Length > 0 ? reply.ErrorCode : "unknown", reply.ErrorMessage.Length > 0 ? reply.ErrorMessage : null);
    }

    /// <summary>
    /// The node's compact decisions for <paramref name="destination"/> above <paramref name="afterHeight"/>,
    /// live until cancelled. Each item is the exact bytes the node served; verify before use.
    /// </summary>
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> SubscribeAsync(
        string destination,
        ulong afterHeight,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        using var call = _decisions.Subscribe(new SubscribeRequest { Destination = destination, AfterHeight = afterHeight }, cancellationToken: ct);
        while (await call.ResponseStream.MoveNext(ct))
        {
            yield return call.ResponseStream.Current.CompactDecision.Memory;
        }
    }

    public async Task<NodeStatus> StatusAsync(CancellationToken ct = default)
    {
        var s = await _client.StatusAsync(new StatusRequest(), cancellationToken: ct);
        return new NodeStatus(
            s.NodeId,
            s.ClusterId,
            s.Pid,
            s.View,
            s.DecidedHeight,
            s.LeaderIndex,
            s.IsLeader,
            s.LastCheckpointHeight,
            s.PoolSize,
            s.Lag);
    }

    public void Dispose() => _channel.Dispose();
}
