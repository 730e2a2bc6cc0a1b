using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace PrivateHealth.Grpc;

/// <summary>
/// Minimal gRPC client over <see cref="HttpClient"/> with HTTP/2 (h2c for http:// addresses):
/// unary and server-streaming calls, status from trailers, <see cref="GrpcStatusException"/> on non-OK.
/// </summary>
public sealed class GrpcChannelLite : IDisposable
{
    private readonly HttpClient _client;
    private readonly bool _ownsClient;

    public GrpcChannelLite(Uri address, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        Address = address;
        _ownsClient = true;
        _client = new HttpClient(handler ?? new SocketsHttpHandler { UseProxy = false }, disposeHandler: handler is null)
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public Uri Address { get; }

    /// <summary>Largest reply message accepted, in bytes. Default 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; init; } = 4 * 1024 * 1024;

    public async Task<TReply> UnaryAsync<TRequest, TReply>(string method, TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        where TRequest : IMessage<TRequest>
        where TReply : IMessage<TReply>
    {
        using var call = await StartAsync(method, request, timeout, cancellationToken).ConfigureAwait(false);
        try
        {
            var reply = default(TReply);
            var count = 0;
            await foreach (var message in call.ReadMessagesAsync<TReply>(MaxReceiveMessageSize).ConfigureAwait(false))
            {
                reply = message;
                count++;
            }

            call.ThrowIfNotOk();
            if (count != 1 || reply is null)
            {
                throw new GrpcStatusException(StatusCode.Internal, $"Unary call returned {count} messages.");
            }

            return reply;
        }
        catch (OperationCanceledException ex) when (call.DeadlineExpired)
        {
            throw new GrpcStatusException(StatusCode.DeadlineExceeded, "Deadline Exceeded", ex);
        }
    }

    public async IAsyncEnumerable<TReply> ServerStreamingAsync<TRequest, TReply>(
        string method,
        TRequest request,
        TimeSpan? timeout = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where TRequest : IMessage<TRequest>
        where TReply : IMessage<TReply>
    {
        using var call = await StartAsync(method, request, timeout, cancellationToken).ConfigureAwait(false);
        var messages = call.ReadMessagesAsync<TReply>(MaxReceiveMessageSize).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                TReply current;
                try
                {
                    if (!await messages.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    current = messages.Current;
                }
                catch (OperationCanceledException ex) when (call.DeadlineExpired)
                {
                    throw new GrpcStatusException(StatusCode.DeadlineExceeded, "Deadline Exceeded", ex);
                }

                yield return current;
            }
        }
        finally
        {
            await messages.DisposeAsync().ConfigureAwait(false);
        }

        call.ThrowIfNotOk();
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private async Task<Call> StartAsync<TRequest>(string method, TRequest request, TimeSpan? timeout, CancellationToken cancellationToken)
        where TRequest : IMessage<TRequest>
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        ArgumentNullException.ThrowIfNull(request);
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(Address, method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(GrpcProtocol.Frame(request)),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue(GrpcProtocol.ContentType);
        message.Headers.TryAddWithoutValidation("te", "trailers");
        message.Headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, "identity");
        if (timeout is { } t)
        {
            message.Headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcProtocol.FormatTimeout(t));
        }

        var call = new Call(message, cancellationToken, timeout);
        try
        {
            call.Response = await _client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, call.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (call.DeadlineExpired)
        {
            call.Dispose();
            throw new GrpcStatusException(StatusCode.DeadlineExceeded, "Deadline Exceeded", ex);
        }
        catch (HttpRequestException ex)
        {
            call.Dispose();
            throw new GrpcStatusException(StatusCode.Unavailable, "Error starting gRPC call: " + ex.Message, ex);
        }
        catch
        {
            call.Dispose();
            throw;
        }

        return call;
    }

    private sealed class Call : IDisposable
    {
        private readonly HttpRequestMessage _request;
        private readonly CancellationTokenSource _cts;
        private readonly CancellationTokenSource? _deadline;
        private StatusCode? _status;
        private string _detail = string.Empty;

        public Call(HttpRequestMessage request, CancellationToken cancellationToken, TimeSpan? timeout)
        {
            _request = request;
            _deadline = timeout is { } t ? new CancellationTokenSource(t) : null;
            _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _deadline?.Token ?? CancellationToken.None);
        }

        public HttpResponseMessage? Response { get; set; }

        public CancellationToken Token => _cts.Token;

        public bool DeadlineExpired => _deadline?.IsCancellationRequested == true;

        public async IAsyncEnumerable<T> ReadMessagesAsync<T>(int maxSize)
            where T : IMessage<T>
        {
            var response = Response ?? throw new InvalidOperationException("Call not started.");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                _status = TryHeaderStatus(response.Headers, out var s, out var d) ? s : GrpcProtocol.FromHttpStatus((int)response.StatusCode);
                _detail = TryHeaderStatus(response.Headers, out _, out d) ? d : $"Bad gRPC response. HTTP status code: {(int)response.StatusCode}";
                yield break;
            }

            if (TryHeaderStatus(response.Headers, out var headerStatus, out var headerDetail))
            {
                // Trailers-only response.
                _status = headerStatus;
                _detail = headerDetail;
                yield break;
            }

            if (!GrpcProtocol.IsGrpcContentType(response.Content.Headers.ContentType?.MediaType))
            {
                _status = StatusCode.Internal;
                _detail = $"Bad gRPC response. Invalid content-type value: {response.Content.Headers.ContentType}";
                yield break;
            }

            var body = await response.Content.ReadAsStreamAsync(Token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var header = new byte[GrpcProtocol.HeaderSize];
                while (true)
                {
                    var read = await ReadFullyAsync(body, header, Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    if (read < header.Length || !GrpcProtocol.TryReadHeader(new ReadOnlySequence<byte>(header), out var compressed, out var length))
                    {
                        throw new GrpcStatusException(StatusCode.Internal, "Incomplete message prefix in response.");
                    }

                    if (compressed)
                    {
                        throw new GrpcStatusException(StatusCode.Internal, "Compressed reply received but compression was not requested.");
                    }

                    if (length > (uint)maxSize)
                    {
                        throw new GrpcStatusException(StatusCode.ResourceExhausted, $"Received message exceeds the maximum configured message size ({length} > {maxSize}).");
                    }

                    var payload = new byte[length];
                    if (await ReadFullyAsync(body, payload, Token).ConfigureAwait(false) < payload.Length)
                    {
                        throw new GrpcStatusException(StatusCode.Internal, "Incomplete message in response.");
                    }

                    T parsed;
                    try
                    {
                        parsed = ParserCache<T>.Parser.ParseFrom(payload);
                    }
                    catch (InvalidProtocolBufferException ex)
                    {
                        throw new GrpcStatusException(StatusCode.Internal, "Error parsing response message: " + ex.Message, ex);
                    }

                    yield return parsed;
                }
            }

            if (TryHeaderStatus(response.TrailingHeaders, out var trailerStatus, out var trailerDetail))
            {
                _status = trailerStatus;
                _detail = trailerDetail;
            }
            else
            {
                _status = StatusCode.Internal;
                _detail = "No grpc-status found on response.";
            }
        }

        public void ThrowIfNotOk()
        {
            if (_status is not StatusCode.OK)
            {
                throw new GrpcStatusException(_status ?? StatusCode.Internal, _status is null ? "Call ended without status." : _detail);
            }
        }

        public void Dispose()
        {
            Response?.Dispose();
            _request.Dispose();
            _cts.Dispose();
            _deadline?.Dispose();
        }

        private static bool TryHeaderStatus(HttpHeaders headers, out StatusCode status, out string detail)
        {
            status = StatusCode.Unknown;
            detail = string.Empty;
            if (!headers.TryGetValues(GrpcProtocol.StatusHeader, out var values))
            {
                return false;
            }

            var raw = values.FirstOrDefault();
            status = int.TryParse(raw, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code)
                ? (StatusCode)code
                : StatusCode.Unknown;
            if (headers.TryGetValues(GrpcProtocol.MessageHeader, out var messages))
            {
                detail = GrpcProtocol.DecodeMessage(messages.FirstOrDefault());
            }

            return true;
        }

        private static async Task<int> ReadFullyAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }
    }
}
