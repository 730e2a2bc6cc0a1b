using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using PrivateHealth.Ethereum;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// An HTTP forwarder in front of a JSON-RPC node that can play a coordinator node dying right after it broadcast a
/// transaction: once <see cref="HoldCall"/> is armed, the first <c>eth_sendRawTransaction</c> whose transaction calls
/// the given function (recognised by its selector, decoded from the raw transaction, whatever was sent before or is sent
/// again) is forwarded — the chain has it, and an automining node has mined it — but its answer is withheld, as is the
/// answer to every later request: the node behind the proxy never learns that its transaction went through.
/// <see cref="Held"/> completes with that transaction's hash.
/// </summary>
internal sealed class JsonRpcFaultProxy : IAsyncDisposable
{
    private readonly HttpClient _upstream;
    private readonly WebApplication _app;
    private readonly TaskCompletionSource<string> _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[]? _selector;
    private int _armed;
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

    /// <summary>
    /// Arms the proxy: the first transaction sent from now on that calls the function with the 4-byte
    /// <paramref name="selector"/> reaches the chain, its answer does not (nor any later answer).
    /// </summary>
    public void HoldCall(byte[] selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentOutOfRangeException.ThrowIfNotEqual(selector.Length, 4);
        Volatile.Write(ref _selector, selector);
        Volatile.Write(ref _armed, 1);
    }

    /// <summary>Disarms a proxy that has not yet held a transaction.</summary>
    public void Disarm() => Volatile.Write(ref _armed, 0);

    private async Task ForwardAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        if (_holding)
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }

        bool hold = Volatile.Read(ref _armed) == 1
            && Calls(body.GetBuffer().AsSpan(0, (int)body.Length), Volatile.Read(ref _selector)!)
            && Interlocked.Exchange(ref _armed, 0) == 1;
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

    /// <summary>Whether <paramref name="request"/> is an <c>eth_sendRawTransaction</c> of a transaction whose calldata starts with <paramref name="selector"/>.</summary>
    private static bool Calls(ReadOnlySpan<byte> request, byte[] selector)
    {
        using var json = JsonDocument.Parse(request.ToArray());
        var root = json.RootElement;
        return root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("method", out var method) && method.ValueEquals("eth_sendRawTransaction")
            && root.TryGetProperty("params", out var parameters) && parameters.ValueKind == JsonValueKind.Array && parameters.GetArrayLength() > 0
            && parameters[0].GetString() is { } rawHex
            && CallData(Hex.Decode(rawHex)).AsSpan().StartsWith(selector);
    }

    /// <summary>The calldata of a raw signed transaction: type 2 (EIP-1559), type 1 (EIP-2930) or legacy.</summary>
    private static byte[] CallData(byte[] raw) => raw switch
    {
        [0x02, ..] => Rlp.Decode(raw.AsSpan(1)).AsList("type-2 transaction").Items[7].AsString("data").Bytes,
        [0x01, ..] => Rlp.Decode(raw.AsSpan(1)).AsList("type-1 transaction").Items[6].AsString("data").Bytes,
        [>= 0xc0, ..] => Rlp.Decode(raw).AsList("legacy transaction").Items[5].AsString("data").Bytes,
        _ => throw new FormatException($"unsupported raw transaction ({raw.Length} bytes)"),
    };

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
