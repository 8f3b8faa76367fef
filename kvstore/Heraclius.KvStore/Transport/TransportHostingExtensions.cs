using System.Diagnostics.Metrics;
using System.Net;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// Plugs the transport into any ASP.NET Core host, so the node process can add its own endpoints
/// (health checks, /metrics) to the same app. The host registers the node's parts as singletons:
/// <see cref="LocalNode"/>, <see cref="IPeerMessageHandler"/>, <see cref="IDecisionFeed"/>,
/// <see cref="IClientGateway"/> and <see cref="INodeStatusSource"/>.
/// </summary>
public static class TransportHostingExtensions
{
    /// <summary>Registers gRPC, the three transport services, <see cref="TransportMetrics"/> and validated <see cref="TransportServerOptions"/>.</summary>
    public static IServiceCollection AddHeracliusTransport(this IServiceCollection services, Action<TransportServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<TransportServerOptions>()
            .Configure(o => configure?.Invoke(o))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TransportServerOptions>, TransportServerOptionsValidator>());
        services.AddGrpc();
        services.AddOptions<GrpcServiceOptions>()
            .Configure<IOptions<TransportServerOptions>>((grpc, transport) =>
            {
                grpc.MaxReceiveMessageSize = transport.Value.MaxFrameBytes;
                grpc.MaxSendMessageSize = TransportLimits.MaxFrameBytes;
                grpc.EnableDetailedErrors = false;
            });
        services.TryAddSingleton(sp => new TransportMetrics(sp.GetRequiredService<LocalNode>().Node.Id, sp.GetService<IMeterFactory>()));
        services.TryAddSingleton<PeerService>();
        services.TryAddSingleton<DecisionsService>();
        services.TryAddSingleton<ClientService>();
        return services;
    }

    /// <summary>Maps the Peer, Decisions and Client gRPC services.</summary>
    public static IEndpointRouteBuilder MapHeracliusTransport(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<PeerService>();
        endpoints.MapGrpcService<DecisionsService>();
        endpoints.MapGrpcService<ClientService>();
        return endpoints;
    }

    /// <summary>
    /// Listens on <paramref name="address"/>:<paramref name="port"/> (0 for any free port) with
    /// HTTP/2 only, which on a cleartext endpoint means prior-knowledge h2c: what gRPC clients
    /// speak on http:// addresses. TLS, for anything beyond loopback, is configured by the host.
    /// </summary>
    public static KestrelServerOptions ListenHeraclius(this KestrelServerOptions kestrel, IPAddress address, int port, HttpProtocols protocols = HttpProtocols.Http2)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        kestrel.Listen(address, port, listen => listen.Protocols = protocols);
        return kestrel;
    }
}
