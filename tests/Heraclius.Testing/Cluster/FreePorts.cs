using System.Net;
using System.Net.Sockets;

namespace Heraclius.Testing.Cluster;

/// <summary>
/// Picks loopback ports the kernel reports free, so a topology can name endpoints before their
/// servers start (and a restarted server can come back on the same one).
/// </summary>
public static class FreePorts
{
    public static int[] Reserve(int count)
    {
        var listeners = new TcpListener[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var l in listeners)
            {
                l?.Stop();
                l?.Dispose();
            }
        }
    }
}
