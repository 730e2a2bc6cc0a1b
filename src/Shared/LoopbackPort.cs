using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace PrivateHealth.Networking;

/// <summary>
/// Picks a free TCP port on 127.0.0.1 for something that binds it later (a child process, a proxy that
/// stops and restarts, a node restarted on the same port). The port is drawn at random from just below
/// the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768–60999 by default): port-0 binds and
/// outgoing connections take their ports from that range, so in the window between picking and binding
/// neither the many loopback connections of a test run nor another "bind port 0" can take the port. A
/// port picked the usual way (bind 0, read, close) came from that range and could be lost in the window.
/// Linked as source into the demo and the test projects that start processes (internal in each).
/// </summary>
internal static class LoopbackPort
{
    private const int Span = 12_000;

    /// <summary>A port that was free a moment ago and lies outside the ephemeral range when possible.</summary>
    internal static int Free()
    {
        int ephemeralLow = EphemeralRangeStart();
        int low = Math.Max(1024, ephemeralLow - Span);
        if (ephemeralLow - low >= 1000)
        {
            for (int attempt = 0; attempt < 200; attempt++)
            {
                int port = Random.Shared.Next(low, ephemeralLow);
                if (CanBind(port))
                {
                    return port;
                }
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool CanBind(int port)
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

    private static int EphemeralRangeStart()
    {
        try
        {
            string[] range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }
}
