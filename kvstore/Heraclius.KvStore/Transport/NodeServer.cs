using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// One node's gRPC endpoint hosted in-process on Kestrel: the Peer, Decisions and Client services
/// and <c>/healthz</c> (ASP.NET Core health checks; add checks to the builder). Tests start
/// several in one process; the node process builds on <see cref="CreateBuilder"/> and
/// <see cref="MapEndpoints"/> to add its own endpoints such as <c>/metrics</c>.
/// </summary>
public sealed class NodeServer : IAsyncDisposable
{
    private NodeServer(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
    }

    public WebApplication App { get; }

    /// <summary>The bound address, e.g. <c>http://127.0.0.1:7101/</c>, with the actual port when 0 was asked for.</summary>
    public Uri Address { get; }

    /// <summary>A builder with Kestrel listening as configured, the node's parts registered and the transport added.</summary>
    public static WebApplicationBuilder CreateBuilder(NodeServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var port = options.Port ?? new Uri(options.Node.Node.Endpoint).Port;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [.. options.Args],
            ApplicationName = typeof(NodeServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenHeraclius(options.Address, port, options.Protocols));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.AddSingleton(options.Node);
        builder.Services.AddSingleton(options.PeerHandler);
        builder.Services.AddSingleton(options.DecisionFeed);
        builder.Services.AddSingleton(options.ClientGateway);
        builder.Services.AddSingleton(options.StatusSource);
        builder.Services.AddHeracliusTransport(options.ConfigureTransport);
        builder.Services.AddHealthChecks();
        return builder;
    }

    /// <summary>Maps the transport services and <c>/healthz</c>.</summary>
    public static void MapEndpoints(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHeracliusTransport();
        app.MapHealthChecks("/healthz");
    }

    /// <summary>Builds, maps and starts a node server; the callbacks add to the builder and the app before start.</summary>
    public static async Task<NodeServer> StartAsync(
        NodeServerOptions options,
        Action<WebApplicationBuilder>? configureBuilder = null,
        Action<WebApplication>? configureApp = null,
        CancellationToken ct = default)
    {
        var builder = CreateBuilder(options);
        configureBuilder?.Invoke(builder);
        var app = builder.Build();
        try
        {
            MapEndpoints(app);
            configureApp?.Invoke(app);
            await app.StartAsync(ct);
            var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
            var address = new Uri(addresses.First());
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<NodeServer>().Listening(options.Node.Node.Id, address);
            return new NodeServer(app, address);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops accepting calls and ends open streams; dialers see their stream close and redial.</summary>
    public Task StopAsync(CancellationToken ct = default) => App.StopAsync(ct);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await App.StopAsync();
        }
        catch (ObjectDisposedException)
        {
        }

        await App.DisposeAsync();
    }
}
