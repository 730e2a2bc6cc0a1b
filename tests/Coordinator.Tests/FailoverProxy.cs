using System.Net;
using System.Net.Sockets;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// A TCP front for several coordinator nodes, like a load balancer with health checks: each new connection goes to the
/// first upstream (in this proxy's order) that accepts it, so a client whose node died reconnects to a live one.
/// Closing either side of a connection closes the other.
/// </summary>
internal sealed class FailoverProxy : IAsyncDisposable
{
    private readonly IReadOnlyList<int> _upstreamPorts;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _accepting;

    public FailoverProxy(IReadOnlyList<int> upstreamPorts)
    {
        _upstreamPorts = upstreamPorts;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(512);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}");

    /// <summary>How many connections went to each upstream (by port).</summary>
    public Dictionary<int, int> Routed { get; } = [];

    private async Task AcceptAsync()
    {
        var token = _cts.Token;
        while (!token.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(token);
            }
            catch (Exception)
            {
                return;
            }

            _ = Task.Run(() => PipeAsync(client, token), token);
        }
    }

    private async Task PipeAsync(TcpClient client, CancellationToken token)
    {
        using var _ = client;
        client.NoDelay = true;
        foreach (int port in _upstreamPorts)
        {
            using var upstream = new TcpClient { NoDelay = true };
            try
            {
                await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token);
            }
            catch (SocketException)
            {
                continue; // that node is down: try the next
            }
            catch (Exception)
            {
                return;
            }

            lock (Routed)
            {
                Routed[port] = Routed.GetValueOrDefault(port) + 1;
            }

            try
            {
                using var a = client.GetStream();
                using var b = upstream.GetStream();
                await Task.WhenAny(a.CopyToAsync(b, token), b.CopyToAsync(a, token));
            }
            catch (Exception)
            {
                // either side closed
            }

            return;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Stop();
        await _accepting.ContinueWith(_ => { }, TaskScheduler.Default);
        _cts.Dispose();
    }
}
