using System.Buffers;
using System.IO.Compression;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace PrivateHealth.Grpc;

/// <summary>Runs one gRPC call over an ASP.NET Core request: validation, framing, deadline, status.</summary>
internal static class GrpcServerCall
{
    private static readonly Action<ILogger, string, Exception?> LogHandlerFailed =
        LoggerMessage.Define<string>(LogLevel.Error, new EventId(1, "GrpcHandlerFailed"), "gRPC handler for {Method} failed");

    public static async Task ExecuteAsync<TRequest, TReply>(
        HttpContext http,
        string method,
        Func<TRequest, GrpcResponseStream<TReply>, GrpcCallContext, Task> invoke)
        where TRequest : IMessage<TRequest>
        where TReply : IMessage<TReply>
    {
        var options = http.RequestServices.GetService<IOptions<GrpcServerOptions>>()?.Value ?? new GrpcServerOptions();
        var request = http.Request;

        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            // gRPC needs HTTP/2 (trailers, streaming); 426 as grpc-dotnet does.
            WriteNonGrpcRejection(http.Response, StatusCodes.Status426UpgradeRequired, $"Request protocol '{request.Protocol}' is not supported; gRPC requires HTTP/2.");
            return;
        }

        if (!GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            WriteNonGrpcRejection(http.Response, StatusCodes.Status415UnsupportedMediaType, $"Content-Type '{request.ContentType}' is not supported; expected application/grpc.");
            return;
        }

        // The gRPC layer applies its own per-message limit.
        var bodySize = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (bodySize is { IsReadOnly: false })
        {
            bodySize.MaxRequestBodySize = null;
        }

        var stream = new GrpcResponseStream<TReply>(http.Response, options.MaxSendMessageSize);
        var encoding = request.Headers[GrpcProtocol.EncodingHeader].ToString();
        if (encoding.Length > 0 && encoding != "identity" && encoding != "gzip")
        {
            http.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.SupportedEncodings;
            await stream.CompleteAsync(StatusCode.Unimplemented, $"Unsupported grpc-encoding '{encoding}'. Supported: {GrpcProtocol.SupportedEncodings}.").ConfigureAwait(false);
            return;
        }

        var timeoutHeader = request.Headers[GrpcProtocol.TimeoutHeader].ToString();
        TimeSpan? timeout = null;
        if (timeoutHeader.Length > 0)
        {
            if (!GrpcProtocol.TryParseTimeout(timeoutHeader, out var parsed))
            {
                await stream.CompleteAsync(StatusCode.Internal, $"Invalid grpc-timeout '{timeoutHeader}'.").ConfigureAwait(false);
                return;
            }

            // CancellationTokenSource accepts at most ~49 days.
            timeout = parsed > TimeSpan.FromDays(30) ? null : parsed;
        }

        using var deadlineCts = timeout is { } t ? new CancellationTokenSource(t) : null;
        using var callCts = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadlineCts?.Token ?? CancellationToken.None);
        var context = new GrpcCallContext(http, method, timeout is { } d ? DateTimeOffset.UtcNow + d : null, callCts.Token);
        stream.CallToken = callCts.Token;

        Task? work = null;
        try
        {
            var message = await ReadSingleMessageAsync<TRequest>(request, encoding, options.MaxReceiveMessageSize, callCts.Token).ConfigureAwait(false);
            work = invoke(message, stream, context);
            await work.WaitAsync(callCts.Token).ConfigureAwait(false);
            await stream.CompleteAsync(StatusCode.OK, string.Empty).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client reset the stream or went away: nothing can be delivered.
            Observe(work);
        }
        catch (OperationCanceledException) when (deadlineCts?.IsCancellationRequested == true)
        {
            Observe(work);
            await stream.CompleteAsync(StatusCode.DeadlineExceeded, "Deadline Exceeded").ConfigureAwait(false);
        }
        catch (GrpcStatusException ex)
        {
            await stream.CompleteAsync(ex.StatusCode, ex.Detail).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            await stream.CompleteAsync(StatusCode.InvalidArgument, ex.Message).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var logger = http.RequestServices.GetService<ILoggerFactory>()?.CreateLogger("PrivateHealth.Grpc") ?? NullLogger.Instance;
            LogHandlerFailed(logger, method, ex);
            await stream.CompleteAsync(StatusCode.Internal, "Exception was thrown by handler.").ConfigureAwait(false);
        }
    }

    /// <summary>Trailers-only UNIMPLEMENTED for a path no gRPC method is mapped to.</summary>
    public static Task WriteUnimplementedAsync(HttpContext http)
    {
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.StatusHeader] = ((int)StatusCode.Unimplemented).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeMessage($"Method '{http.Request.Path}' is not implemented.");
        return Task.CompletedTask;
    }

    private static void WriteNonGrpcRejection(HttpResponse response, int httpStatus, string message)
    {
        response.StatusCode = httpStatus;
        response.Headers[GrpcProtocol.StatusHeader] = ((int)StatusCode.Internal).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeMessage(message);
    }

    private static void Observe(Task? work)
    {
        // An abandoned handler (deadline / cancellation) may still fault later; keep that from going unobserved.
        _ = work?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    internal static async Task<T> ReadSingleMessageAsync<T>(HttpRequest request, string encoding, int maxSize, CancellationToken cancellationToken)
        where T : IMessage<T>
    {
        var reader = request.BodyReader;
        T message;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (GrpcProtocol.TryReadHeader(buffer, out var compressed, out var length))
            {
                if (length > (uint)maxSize)
                {
                    reader.AdvanceTo(buffer.Start);
                    throw new GrpcStatusException(StatusCode.ResourceExhausted, $"Received message exceeds the maximum configured message size ({length} > {maxSize}).");
                }

                var total = GrpcProtocol.HeaderSize + (long)length;
                if (buffer.Length >= total)
                {
                    var payload = buffer.Slice(GrpcProtocol.HeaderSize, length);
                    try
                    {
                        message = Parse<T>(compressed ? Decompress(payload, encoding, maxSize) : payload);
                    }
                    finally
                    {
                        reader.AdvanceTo(buffer.GetPosition(total));
                    }

                    break;
                }
            }

            if (result.IsCompleted)
            {
                var detail = buffer.Length == 0
                    ? "Request did not include a message."
                    : $"Incomplete message: request ended after {buffer.Length} byte(s) of a length-prefixed message.";
                reader.AdvanceTo(buffer.End);
                throw new GrpcStatusException(StatusCode.Internal, detail);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }

        // A unary request carries exactly one message.
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var extra = result.Buffer.Length;
            reader.AdvanceTo(result.Buffer.End);
            if (extra > 0)
            {
                throw new GrpcStatusException(StatusCode.Internal, "Additional data after the single request message.");
            }

            if (result.IsCompleted)
            {
                return message;
            }
        }
    }

    private static T Parse<T>(ReadOnlySequence<byte> payload)
        where T : IMessage<T>
    {
        try
        {
            return ParserCache<T>.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            // gRPC status-code table: "Error parsing request proto" -> INTERNAL.
            throw new GrpcStatusException(StatusCode.Internal, "Error parsing request message: " + ex.Message, ex);
        }
    }

    private static ReadOnlySequence<byte> Decompress(ReadOnlySequence<byte> payload, string encoding, int maxSize)
    {
        if (encoding != "gzip")
        {
            throw new GrpcStatusException(StatusCode.Internal, "Compressed flag set but the request declares no grpc-encoding.");
        }

        using var input = new MemoryStream(payload.ToArray(), writable: false);
        using var gzip = new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = gzip.Read(chunk, 0, chunk.Length)) > 0)
            {
                output.Write(chunk, 0, read);
                if (output.Length > maxSize)
                {
                    throw new GrpcStatusException(StatusCode.ResourceExhausted, $"Decompressed message exceeds the maximum configured message size ({maxSize}).");
                }
            }
        }
        catch (InvalidDataException ex)
        {
            throw new GrpcStatusException(StatusCode.Internal, "Could not decompress gzip message: " + ex.Message, ex);
        }

        return new ReadOnlySequence<byte>(output.ToArray());
    }
}

/// <summary>The reply side of a call: message frames, then status in trailers (or trailers-only).</summary>
internal sealed class GrpcResponseStream<T> : IServerStreamWriter<T>
    where T : IMessage<T>
{
    private readonly HttpResponse _response;
    private readonly int _maxSendSize;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _completed;

    public GrpcResponseStream(HttpResponse response, int maxSendSize)
    {
        _response = response;
        _maxSendSize = maxSendSize;
    }

    public CancellationToken CallToken { get; set; }

    public async Task WriteAsync(T message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, CallToken) : null;
        var token = linked?.Token ?? CallToken;
        await _gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (_completed)
            {
                throw new InvalidOperationException("The gRPC call has already completed.");
            }

            if (!_response.HasStarted)
            {
                _response.StatusCode = StatusCodes.Status200OK;
                _response.ContentType = GrpcProtocol.ContentType;
            }

            GrpcProtocol.WriteMessage(_response.BodyWriter, message, _maxSendSize);
            await _response.BodyWriter.FlushAsync(token).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task CompleteAsync(StatusCode status, string message)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            var code = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var encoded = GrpcProtocol.EncodeMessage(message);
            if (!_response.HasStarted)
            {
                // Trailers-only response: the status travels in the single HEADERS frame.
                _response.StatusCode = StatusCodes.Status200OK;
                _response.ContentType = GrpcProtocol.ContentType;
                _response.Headers[GrpcProtocol.StatusHeader] = code;
                _response.Headers[GrpcProtocol.MessageHeader] = encoded;
            }
            else if (_response.SupportsTrailers())
            {
                _response.AppendTrailer(GrpcProtocol.StatusHeader, code);
                _response.AppendTrailer(GrpcProtocol.MessageHeader, encoded);
            }
            else
            {
                throw new InvalidOperationException("The response does not support trailers; gRPC status cannot be sent.");
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
