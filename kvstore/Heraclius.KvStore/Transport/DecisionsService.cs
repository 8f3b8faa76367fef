using Google.Protobuf;
using Grpc.Core;
using Heraclius.KvStore.Transport.Grpc;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using DecisionsRpc = Heraclius.KvStore.Transport.Grpc.Decisions;

namespace Heraclius.KvStore.Transport;

/// <summary>Serves this node's decision queues (<see cref="IDecisionFeed"/>) as server streams.</summary>
internal sealed class DecisionsService : DecisionsRpc.DecisionsBase
{
    private readonly LocalNode _local;
    private readonly IDecisionFeed _feed;
    private readonly TransportMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;

    public DecisionsService(
        LocalNode local,
        IDecisionFeed feed,
        TransportMetrics metrics,
        ILogger<DecisionsService> logger,
        IHostApplicationLifetime lifetime)
    {
        _local = local;
        _feed = feed;
        _metrics = metrics;
        _logger = logger;
        _stopping = lifetime.ApplicationStopping;
    }

    public override async Task Subscribe(SubscribeRequest request, IServerStreamWriter<DecisionFrame> responseStream, ServerCallContext context)
    {
        if (!PeerHandshake.IsValidId(request.Destination))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "destination must be 1 to 256 UTF-8 bytes"));
        }

        // The stream ends when the node stops; the subscriber resubscribes elsewhere or later.
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _stopping);
        _metrics.SubscriptionStarted();
        try
        {
            await foreach (var decision in _feed.Subscribe(request.Destination, request.AfterHeight, call.Token).WithCancellation(call.Token))
            {
                await responseStream.WriteAsync(new DecisionFrame { CompactDecision = UnsafeByteOperations.UnsafeWrap(decision) }, call.Token);
            }
        }
        catch (Exception) when (call.IsCancellationRequested)
        {
            // The subscriber left or the node is stopping.
        }
        catch (Exception e) when (e is not RpcException)
        {
            _logger.SubscriptionFailed(_local.Node.Id, request.Destination, e);
            throw new RpcException(new Status(StatusCode.Unavailable, "the decision feed failed; resubscribe"));
        }
        finally
        {
            _metrics.SubscriptionEnded();
        }
    }
}
