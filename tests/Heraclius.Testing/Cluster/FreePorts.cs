using System.Net;
using System.Net.Sockets;

namespace Heraclius.Testing.Cluster;

/// <summary>
/// Picks loopback ports that are free, so a topology can name endpoints before their servers start (and a
/// restarted server can come back on the same one).
/// </summary>
/// <remarks>
/// Below the kernel's ephemeral range (32768-60999 by default), and never the same one twice in a process. A port the
/// kernel hands out for port 0 lies in that range, from which it also takes the local port of every outgoing
/// connection: released and bound again a moment later, it had sometimes become a connection of another test's
/// ("address already in use"). Each process starts at a random place in the range, so test processes running at
/// once rarely pick the same port, and a port something else holds is skipped.
/// </remarks>
public static class FreePorts
{
    private const int First = 20_000;
    private const int Count = 32_768 - First;
    private static int _next = Random.Shared.Next(Count);

    public static int[] Reserve(int count)
    {
        var ports = new int[count];
        for (var i = 0; i < count; i++)
        {
            ports[i] = Next();
        }

        return ports;
    }

    private static int Next()
    {
        for (var attempt = 0; attempt < Count; attempt++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref _next) % Count);
            if (IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no free loopback port below the ephemeral range");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
