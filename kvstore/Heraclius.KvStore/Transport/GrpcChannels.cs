using System.Net;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Transport;

/// <summary>Builds the gRPC channels nodes and clients dial with: HTTP/2 (cleartext on http://), keep-alive pings, no proxy.</summary>
internal static class GrpcChannels
{
    public static GrpcChannel Create(
        Uri address,
        TimeSpan connectTimeout,
        TimeSpan keepAlivePingDelay,
        TimeSpan keepAlivePingTimeout,
        int maxMessageBytes,
        ILoggerFactory? loggerFactory)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = keepAlivePingDelay,
            KeepAlivePingTimeout = keepAlivePingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            ConnectTimeout = connectTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
            UseCookies = false,
        };
        try
        {
            return GrpcChannel.ForAddress(address, new GrpcChannelOptions
            {
                HttpHandler = handler,
                MaxReceiveMessageSize = maxMessageBytes,
                MaxSendMessageSize = maxMessageBytes,
                LoggerFactory = loggerFactory,
            });
        }
        catch
        {
            handler.Dispose();
            throw;
        }
    }
}
