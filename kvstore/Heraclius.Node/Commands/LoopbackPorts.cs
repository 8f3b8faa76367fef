using System.Net;
using System.Net.Sockets;

namespace Heraclius.Node.Commands;

/// <summary>Checks and picks loopback TCP ports for local deployments.</summary>
internal static class LoopbackPorts
{
    public static bool IsFree(int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, port));
            s.Listen();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// A base port p with p..p+count-1 free, and p+offset.. too when <paramref name="offset"/> is given.
    /// Chosen below Linux's ephemeral range (32768+), so outgoing connections cannot take them between check and bind.
    /// </summary>
    public static int PickRange(int count, int? offset = null)
    {
        for (var tries = 0; tries < 200; tries++)
        {
            var p = Random.Shared.Next(20_000, 30_000 - count);
            if (Enumerable.Range(0, count).All(i => IsFree(p + i) && (offset is not { } o || IsFree(p + o + i))))
            {
                return p;
            }
        }

        throw new InvalidOperationException($"no range of {count} free loopback ports found");
    }
}
