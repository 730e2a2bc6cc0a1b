using System.Net;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace PrivateHealth.Ethereum;

/// <summary>Timeout and retry settings of <see cref="JsonRpcClient"/>.</summary>
public sealed record JsonRpcClientOptions
{
    /// <summary>Time allowed for one HTTP attempt. Default 30 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt for transport failures, HTTP 5xx/429 and timeouts. Default 3.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>Delay before the first retry; doubles each time up to <see cref="MaxBackoff"/>. Default 250 ms.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Upper bound of the retry delay. Default 5 s.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Ethereum JSON-RPC over HTTP. Each call has its own timeout; transport failures, HTTP 5xx/429
/// and timeouts are retried with exponential backoff; JSON-RPC error responses are deterministic
/// and surface at once as <see cref="RpcException"/>.
/// </summary>
public sealed class JsonRpcClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private long _nextId;

    /// <summary>Creates a client for an endpoint; an HttpClient may be supplied (it is then not disposed).</summary>
    public JsonRpcClient(Uri endpoint, JsonRpcClientOptions? options = null, HttpClient? httpClient = null)
    {
        Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
        Options = options ?? new JsonRpcClientOptions();
        _ownsHttp = httpClient is null;
        _http = httpClient ?? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) });
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
    }

    public Uri Endpoint { get; }

    public JsonRpcClientOptions Options { get; }

    /// <summary>Calls a method and returns a clone of its "result".</summary>
    /// <exception cref="RpcException">The node answered with a JSON-RPC error.</exception>
    /// <exception cref="RpcTransportException">The node could not be reached (after retries).</exception>
    /// <exception cref="RpcTimeoutException">Every attempt timed out.</exception>
    public async Task<JsonElement> RequestAsync(string method, IReadOnlyList<object?> parameters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(parameters);
        long id = Interlocked.Increment(ref _nextId);
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["jsonrpc"] = "2.0",
            ["id"] = id,
            ["method"] = method,
            ["params"] = parameters,
        });

        TimeSpan backoff = Options.InitialBackoff;
        for (int attempt = 0; ; attempt++)
        {
            Exception failure;
            using (var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attemptTimeout.CancelAfter(Options.Timeout);
                try
                {
                    return await SendOnceAsync(method, body, attemptTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = new RpcTimeoutException(Json.Invariant($"JSON-RPC {method} to {Endpoint} timed out after {Options.Timeout.TotalSeconds:0.###} s (attempt {attempt + 1} of {Options.MaxRetries + 1})."), ex);
                }
                catch (HttpRequestException ex)
                {
                    failure = new RpcTransportException($"JSON-RPC {method} to {Endpoint} failed (attempt {attempt + 1} of {Options.MaxRetries + 1}): {ex.Message}", ex);
                }
                catch (TransientHttpStatusException ex)
                {
                    failure = new RpcTransportException($"JSON-RPC {method} to {Endpoint} got HTTP {(int)ex.Status} (attempt {attempt + 1} of {Options.MaxRetries + 1}).", ex);
                }
            }

            if (attempt >= Options.MaxRetries)
            {
                throw failure;
            }

            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, Options.MaxBackoff.Ticks));
        }
    }

    private async Task<JsonElement> SendOnceAsync(string method, byte[] body, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using HttpResponseMessage response = await _http.PostAsync(Endpoint, content, cancellationToken).ConfigureAwait(false);
        byte[] payload = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);

        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(payload);
        }
        catch (JsonException)
        {
            // Not JSON: classified by the HTTP status below.
        }

        using (document)
        {
            if (document is not null && document.RootElement.ValueKind == JsonValueKind.Object)
            {
                JsonElement root = document.RootElement;
                if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object)
                {
                    long code = error.TryGetProperty("code", out JsonElement c) && c.TryGetInt64(out long parsed) ? parsed : 0;
                    string message = error.TryGetProperty("message", out JsonElement m) ? m.GetString() ?? string.Empty : string.Empty;
                    JsonElement? data = error.TryGetProperty("data", out JsonElement d) ? d.Clone() : null;
                    throw new RpcException(method, code, message, data);
                }

                if (response.IsSuccessStatusCode && root.TryGetProperty("result", out JsonElement result))
                {
                    return result.Clone();
                }
            }

            if ((int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                throw new TransientHttpStatusException(response.StatusCode);
            }

            string preview = Encoding.UTF8.GetString(payload.AsSpan(0, Math.Min(payload.Length, 200)));
            throw new RpcTransportException($"JSON-RPC {method} to {Endpoint}: unexpected HTTP {(int)response.StatusCode} response: {preview}");
        }
    }

    /// <summary>Calls a method whose result is a hex quantity.</summary>
    public async Task<BigInteger> RequestQuantityAsync(string method, IReadOnlyList<object?> parameters, CancellationToken cancellationToken = default)
    {
        JsonElement result = await RequestAsync(method, parameters, cancellationToken).ConfigureAwait(false);
        return Hex.DecodeQuantity(result.GetString() ?? throw new RpcTransportException($"{method} returned {result.ValueKind}, expected a hex quantity."));
    }

    public Task<BigInteger> GetChainIdAsync(CancellationToken cancellationToken = default) =>
        RequestQuantityAsync("eth_chainId", [], cancellationToken);

    public Task<BigInteger> GetBlockNumberAsync(CancellationToken cancellationToken = default) =>
        RequestQuantityAsync("eth_blockNumber", [], cancellationToken);

    public Task<BigInteger> GetBalanceAsync(Address address, BlockTag? block = null, CancellationToken cancellationToken = default) =>
        RequestQuantityAsync("eth_getBalance", [address.ToLowerHex(), (block ?? BlockTag.Latest).Value], cancellationToken);

    /// <summary>The account's transaction count (use <see cref="BlockTag.Pending"/> for the next nonce).</summary>
    public Task<BigInteger> GetTransactionCountAsync(Address address, BlockTag? block = null, CancellationToken cancellationToken = default) =>
        RequestQuantityAsync("eth_getTransactionCount", [address.ToLowerHex(), (block ?? BlockTag.Latest).Value], cancellationToken);

    public Task<BigInteger> GetGasPriceAsync(CancellationToken cancellationToken = default) =>
        RequestQuantityAsync("eth_gasPrice", [], cancellationToken);

    public Task<BigInteger> GetMaxPriorityFeePerGasAsync(CancellationToken cancellationToken = default) =>
        RequestQuantityAsync("eth_maxPriorityFeePerGas", [], cancellationToken);

    /// <summary>eth_feeHistory over the last <paramref name="blockCount"/> blocks.</summary>
    public async Task<FeeHistory> GetFeeHistoryAsync(int blockCount, BlockTag? newestBlock = null, IReadOnlyList<double>? rewardPercentiles = null, CancellationToken cancellationToken = default)
    {
        JsonElement r = await RequestAsync("eth_feeHistory", [Hex.EncodeQuantity(blockCount), (newestBlock ?? BlockTag.Latest).Value, rewardPercentiles ?? []], cancellationToken).ConfigureAwait(false);
        IReadOnlyList<BigInteger> baseFees = r.TryGetProperty("baseFeePerGas", out JsonElement b) && b.ValueKind == JsonValueKind.Array
            ? [.. b.EnumerateArray().Select(x => Hex.DecodeQuantity(x.GetString()!))]
            : [];
        IReadOnlyList<double> ratios = r.TryGetProperty("gasUsedRatio", out JsonElement g) && g.ValueKind == JsonValueKind.Array
            ? [.. g.EnumerateArray().Select(x => x.GetDouble())]
            : [];
        IReadOnlyList<IReadOnlyList<BigInteger>> rewards = r.TryGetProperty("reward", out JsonElement w) && w.ValueKind == JsonValueKind.Array
            ? [.. w.EnumerateArray().Select(row => (IReadOnlyList<BigInteger>)[.. row.EnumerateArray().Select(x => Hex.DecodeQuantity(x.GetString()!))])]
            : [];
        return new FeeHistory(Json.Quantity(r, "oldestBlock") ?? BigInteger.Zero, baseFees, ratios, rewards);
    }

    /// <summary>eth_estimateGas; a revert surfaces as <see cref="ContractRevertException"/>.</summary>
    public async Task<BigInteger> EstimateGasAsync(CallRequest request, IEnumerable<AbiError>? customErrors = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return await RequestQuantityAsync("eth_estimateGas", [request.ToJson()], cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.IsRevert)
        {
            throw new ContractRevertException(RevertReason.Decode(ex.RevertData ?? [], customErrors), ex);
        }
    }

    /// <summary>eth_call; a revert surfaces as <see cref="ContractRevertException"/> with the decoded reason.</summary>
    public async Task<byte[]> CallAsync(CallRequest request, BlockTag? block = null, IEnumerable<AbiError>? customErrors = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        JsonElement result;
        try
        {
            result = await RequestAsync("eth_call", [request.ToJson(), (block ?? BlockTag.Latest).Value], cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.IsRevert)
        {
            throw new ContractRevertException(RevertReason.Decode(ex.RevertData ?? [], customErrors), ex);
        }

        return Hex.Decode(result.GetString() ?? "0x");
    }

    /// <summary>eth_sendRawTransaction; returns the node's transaction hash.</summary>
    public async Task<Hash32> SendRawTransactionAsync(ReadOnlyMemory<byte> raw, CancellationToken cancellationToken = default)
    {
        JsonElement result = await RequestAsync("eth_sendRawTransaction", [Hex.Encode(raw.Span)], cancellationToken).ConfigureAwait(false);
        return Hash32.Parse(result.GetString()!);
    }

    /// <summary>eth_getTransactionReceipt; null while the transaction is pending or unknown.</summary>
    public async Task<TransactionReceipt?> GetTransactionReceiptAsync(Hash32 transactionHash, CancellationToken cancellationToken = default)
    {
        JsonElement result = await RequestAsync("eth_getTransactionReceipt", [transactionHash.ToString()], cancellationToken).ConfigureAwait(false);
        return result.ValueKind == JsonValueKind.Null ? null : TransactionReceipt.FromJson(result);
    }

    /// <summary>eth_getTransactionByHash as raw JSON; null when unknown.</summary>
    public async Task<JsonElement?> GetTransactionByHashAsync(Hash32 transactionHash, CancellationToken cancellationToken = default)
    {
        JsonElement result = await RequestAsync("eth_getTransactionByHash", [transactionHash.ToString()], cancellationToken).ConfigureAwait(false);
        return result.ValueKind == JsonValueKind.Null ? null : result;
    }

    /// <summary>eth_getLogs.</summary>
    public async Task<IReadOnlyList<EthLog>> GetLogsAsync(LogFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        JsonElement result = await RequestAsync("eth_getLogs", [filter.ToJson()], cancellationToken).ConfigureAwait(false);
        return [.. result.EnumerateArray().Select(EthLog.FromJson)];
    }

    /// <summary>eth_getCode.</summary>
    public async Task<byte[]> GetCodeAsync(Address address, BlockTag? block = null, CancellationToken cancellationToken = default)
    {
        JsonElement result = await RequestAsync("eth_getCode", [address.ToLowerHex(), (block ?? BlockTag.Latest).Value], cancellationToken).ConfigureAwait(false);
        return Hex.Decode(result.GetString() ?? "0x");
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private sealed class TransientHttpStatusException(HttpStatusCode status) : Exception($"HTTP {(int)status}")
    {
        public HttpStatusCode Status { get; } = status;
    }
}
