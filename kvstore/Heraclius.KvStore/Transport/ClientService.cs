using Grpc.Core;
using Heraclius.KvStore.Transport.Grpc;
using Microsoft.Extensions.Options;
using ClientRpc = Heraclius.KvStore.Transport.Grpc.Client;

namespace Heraclius.KvStore.Transport;

/// <summary>The client entry point: passes batches to the <see cref="IClientGateway"/> and answers status queries.</summary>
internal sealed class ClientService : ClientRpc.ClientBase
{
    private readonly IClientGateway _gateway;
    private readonly INodeStatusSource _status;
    private readonly TransportServerOptions _options;
    private readonly TransportMetrics _metrics;

    public ClientService(IClientGateway gateway, INodeStatusSource status, IOptions<TransportServerOptions> options, TransportMetrics metrics)
    {
        _gateway = gateway;
        _status = status;
        _options = options.Value;
        _metrics = metrics;
    }

    public override Task<SubmitReply> Submit(SubmitRequest request, ServerCallContext context)
    {
        var result = request.Batch.Length > _options.MaxSubmitBatchBytes
            ? SubmitResult.Rejected(SubmitErrorCodes.Oversized, $"a batch may have at most {_options.MaxSubmitBatchBytes} bytes")
            : _gateway.Submit(request.Batch.Memory);
        _metrics.Submitted(result.ErrorCode ?? "accepted");
        return Task.FromResult(new SubmitReply
        {
            Accepted = result.Accepted,
            ErrorCode = result.ErrorCode ?? "",
            ErrorMessage = result.ErrorMessage ?? "",
        });
    }

    public override Task<StatusReply> Status(StatusRequest request, ServerCallContext context)
    {
        var s = _status.GetStatus();
        return Task.FromResult(new StatusReply
        {
            NodeId = s.NodeId,
            ClusterId = s.ClusterId,
            Pid = s.ProcessId,
            View = s.View,
            DecidedHeight = s.DecidedHeight,
            LeaderIndex = s.LeaderIndex,
            IsLeader = s.IsLeader,
            LastCheckpointHeight = s.LastCheckpointHeight,
            PoolSize = s.PoolSize,
            Lag = s.Lag,
        });
    }
}
