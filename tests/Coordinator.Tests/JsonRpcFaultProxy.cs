using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// An HTTP forwarder in front of a JSON-RPC node that can play a coordinator node dying right after it broadcast a
/// transaction: once <see cref="HoldAfterSend"/> is armed, the n-th <c>eth_sendRawTransaction</c> is forwarded (the
/// chain has it, and an automining node has mined it), but its answer is withheld, as is the answer to every later
/// request — the node behind the proxy never learns that its transaction went through. <see cref="Held"/> completes with
/// that transaction's hash.
/// </summary>
internal sealed class JsonRpcFaultProxy : IAsyncDisposable
{
    private readonly HttpClient _upstream;
    private readonly WebApplication _app;
    private readonly TaskCompletionSource<string> _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _sendsUntilHold = -1;
    private volatile bool _holding;

    private JsonRpcFaultProxy(Uri upstream, WebApplication app)
    {
        _upstream = new HttpClient { BaseAddress = upstream, Timeout = TimeSpan.FromSeconds(60) };
        _app = app;
    }

    /// <summary>The proxy's endpoint.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The hash of the transaction whose answer was withheld.</summary>
    public Task<string> Held => _held.Task;

    /// <summary>Starts a proxy to <paramref name="upstream"/> on a free loopback port.</summary>
    public static async Task<JsonRpcFaultProxy> StartAsync(Uri upstream)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        var proxy = new JsonRpcFaultProxy(upstream, app);
        app.MapPost("/", proxy.ForwardAsync);
        await app.StartAsync();
        proxy.Url = new Uri(app.Urls.First());
        return proxy;
    }

    /// <summary>Arms the proxy: the <paramref name="nth"/> transaction sent from now on reaches the chain, its answer does not.</summary>
    public void HoldAfterSend(int nth)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nth, 1);
        Volatile.Write(ref _sendsUntilHold, nth);
    }

    /// <summary>Disarms a proxy that has not yet held a transaction.</summary>
    public void Disarm() => Volatile.Write(ref _sendsUntilHold, -1);

    private async Task ForwardAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        if (_holding)
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }

        bool send = IsSend(body.GetBuffer().AsSpan(0, (int)body.Length));
        bool hold = send && Volatile.Read(ref _sendsUntilHold) > 0 && Interlocked.Decrement(ref _sendsUntilHold) == 0;
        using var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await _upstream.PostAsync("/", content, context.RequestAborted);
        var answer = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
        if (hold)
        {
            _holding = true;
            using var json = JsonDocument.Parse(answer);
            _held.TrySetResult(json.RootElement.TryGetProperty("result", out var hash) ? hash.GetString()! : "error: " + json.RootElement.GetRawText());
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }

        context.Response.StatusCode = (int)response.StatusCode;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(answer, context.RequestAborted);
    }

    private static bool IsSend(ReadOnlySpan<byte> request)
    {
        var reader = new Utf8JsonReader(request);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("method") && reader.Read())
            {
                return reader.ValueTextEquals("eth_sendRawTransaction");
            }
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        _holding = false;
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await _app.StopAsync(timeout.Token);
        }

        await _app.DisposeAsync();
        _upstream.Dispose();
    }
}
