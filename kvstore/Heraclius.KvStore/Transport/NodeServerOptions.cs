using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Heraclius.KvStore.Transport;

/// <summary>What a <see cref="NodeServer"/> hosts: the node and its parts, and where it listens.</summary>
public sealed class NodeServerOptions
{
    public required LocalNode Node { get; init; }

    public required IPeerMessageHandler PeerHandler { get; init; }

    public required IDecisionFeed DecisionFeed { get; init; }

    public required IClientGateway ClientGateway { get; init; }

    public required INodeStatusSource StatusSource { get; init; }

    /// <summary>The address to listen on; loopback by default.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>The port; null takes it from the node's endpoint in the topology, 0 picks a free one (see <see cref="NodeServer.Address"/>).</summary>
    public int? Port { get; init; }

    /// <summary>HTTP/2 only by default (cleartext h2c on loopback).</summary>
    public HttpProtocols Protocols { get; init; } = HttpProtocols.Http2;

    /// <summary>How long a stop waits for calls to finish; peer and decision streams end as soon as the stop begins.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public Action<TransportServerOptions>? ConfigureTransport { get; init; }

    /// <summary>Command-line arguments for the host's configuration; none by default.</summary>
    public IReadOnlyList<string> Args { get; init; } = [];
}
