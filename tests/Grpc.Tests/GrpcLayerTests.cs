using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using Google.Protobuf;
using PrivateHealth.Protocol.V1;
using Xunit;

namespace PrivateHealth.Grpc.Tests;

public sealed class GrpcLayerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Unary_round_trip_over_h2c()
    {
        await using var host = await TestHost.StartAsync();
        using var channel = host.CreateChannel();
        var request = new UploadRequest { JobId = "job-1", Round = 3, ParticipantId = "p-7" };
        request.Ciphertexts.Add(ByteString.CopyFrom(new byte[] { 1, 2, 3 }));
        request.Ciphertexts.Add(ByteString.CopyFrom(new byte[1000]));

        var reply = await channel.UnaryAsync<UploadRequest, UploadReply>(TestHost.UploadUpdate, request, cancellationToken: Ct);

        Assert.True(reply.Accepted);
        Assert.Equal("p-7@job-1#3", reply.Message);
        Assert.Equal(2, reply.ContentIds.Count);
        Assert.Equal(1, host.UploadCalls);
    }

    [Fact]
    public async Task Unary_raw_response_is_one_frame_with_ok_trailers()
    {
        await using var host = await TestHost.StartAsync();
        var body = GrpcProtocol.Frame(new GetParametersRequest { JobId = "j" });

        var result = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, body);

        Assert.Equal(HttpStatusCode.OK, result.HttpStatus);
        Assert.False(result.TrailersOnly);
        Assert.Equal(0, result.GrpcStatus);
        Assert.Equal(0, result.Body[0]);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(result.Body.AsSpan(1));
        Assert.Equal(result.Body.Length - 5, (int)length);
        var reply = ParametersReply.Parser.ParseFrom(result.Body.AsSpan(5).ToArray());
        Assert.Equal("params-j", reply.ParametersId);
    }

    [Fact]
    public async Task Server_streaming_delivers_N_events_in_order()
    {
        await using var host = await TestHost.StartAsync();
        using var channel = host.CreateChannel();
        var events = new List<RoundEvent>();

        await foreach (var e in channel.ServerStreamingAsync<WatchRequest, RoundEvent>(TestHost.WatchRounds, new WatchRequest { JobId = "25" }, cancellationToken: Ct))
        {
            events.Add(e);
        }

        Assert.Equal(Enumerable.Range(1, 25), events.Select(e => e.Round));
        Assert.Equal("completed", events[^1].State);
        Assert.All(events.SkipLast(1), e => Assert.Equal("aggregating", e.State));
    }

    [Fact]
    public async Task Server_streaming_error_after_messages_arrives_in_trailers()
    {
        await using var host = await TestHost.StartAsync();
        using var channel = host.CreateChannel();
        var events = new List<RoundEvent>();

        var ex = await Assert.ThrowsAsync<GrpcStatusException>(async () =>
        {
            await foreach (var e in channel.ServerStreamingAsync<WatchRequest, RoundEvent>(TestHost.WatchRounds, new WatchRequest { JobId = "3:fail" }, cancellationToken: Ct))
            {
                events.Add(e);
            }
        });

        Assert.Equal(3, events.Count);
        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
        Assert.Equal("job aborted by coordinator", ex.Detail);
    }

    [Fact]
    public async Task Oversized_message_is_RESOURCE_EXHAUSTED_and_handler_not_called()
    {
        await using var host = await TestHost.StartAsync();
        using var channel = host.CreateChannel();
        var request = new UploadRequest { JobId = "big" };
        request.Ciphertexts.Add(ByteString.CopyFrom(new byte[TestHost.MaxReceiveMessageSize + 1]));

        var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync<UploadRequest, UploadReply>(TestHost.UploadUpdate, request, cancellationToken: Ct));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("maximum", ex.Detail, StringComparison.Ordinal);
        Assert.Equal(0, host.UploadCalls);
    }

    // Framing and parsing failures are protocol errors: INTERNAL (as in gRPC's status-code table:
    // "Error parsing request proto" -> INTERNAL). Handler-raised ArgumentException/FormatException are INVALID_ARGUMENT.
    [Theory]
    [InlineData(new byte[] { 0, 0, 0 }, "Incomplete message")]                       // truncated length prefix
    [InlineData(new byte[] { 0, 0, 0, 0, 10, 1, 2, 3 }, "Incomplete message")]       // prefix promises more than sent
    [InlineData(new byte[] { 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF }, "Error parsing")]    // bad protobuf
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0 }, "Additional data")]                 // trailing garbage after unary message
    [InlineData(new byte[] { 7, 0, 0, 0, 0 }, "compressed flag")]                   // invalid flag value
    [InlineData(new byte[] { 1, 0, 0, 0, 1, 0 }, "no grpc-encoding")]               // compressed without grpc-encoding
    [InlineData(new byte[0], "did not include a message")]                          // empty body
    public async Task Malformed_frames_are_INTERNAL_and_handler_not_called(byte[] body, string expected)
    {
        await using var host = await TestHost.StartAsync();

        var result = await RawGrpc.SendAsync(host.Address, TestHost.UploadUpdate, body);

        Assert.Equal(HttpStatusCode.OK, result.HttpStatus);
        Assert.Equal((int)StatusCode.Internal, result.GrpcStatus);
        Assert.Contains(expected, GrpcProtocol.DecodeMessage(result.GrpcMessage), StringComparison.OrdinalIgnoreCase);
        Assert.True(result.TrailersOnly);
        Assert.Equal(0, host.UploadCalls);
    }

    [Fact]
    public async Task Gzip_compressed_request_is_accepted_and_unknown_encoding_is_UNIMPLEMENTED()
    {
        await using var host = await TestHost.StartAsync();
        var plain = new GetParametersRequest { JobId = "zipped" }.ToByteArray();
        using var compressed = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            await gzip.WriteAsync(plain, Ct);
        }

        var ok = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, RawGrpc.Frame(1, compressed.ToArray()), headers: new Dictionary<string, string> { ["grpc-encoding"] = "gzip" });
        Assert.Equal(0, ok.GrpcStatus);
        Assert.Equal("params-zipped", ParametersReply.Parser.ParseFrom(ok.Body.AsSpan(5).ToArray()).ParametersId);

        var unsupported = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, RawGrpc.Frame(1, plain), headers: new Dictionary<string, string> { ["grpc-encoding"] = "snappy" });
        Assert.Equal((int)StatusCode.Unimplemented, unsupported.GrpcStatus);
        Assert.Equal(1, host.ParameterCalls);
    }

    [Theory]
    [InlineData("missing", StatusCode.NotFound, "no such job")]
    [InlineData("bad", StatusCode.InvalidArgument, TestHost.InvalidJobMessage)]
    [InlineData("argument", StatusCode.InvalidArgument, "job id must be lowercase")]
    [InlineData("crash", StatusCode.Internal, "Exception was thrown by handler.")]
    public async Task Handler_exceptions_map_to_status_and_message(string jobId, StatusCode expected, string detail)
    {
        await using var host = await TestHost.StartAsync();
        using var channel = host.CreateChannel();

        var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync<GetParametersRequest, ParametersReply>(TestHost.GetParameters, new GetParametersRequest { JobId = jobId }, cancellationToken: Ct));

        Assert.Equal(expected, ex.StatusCode);
        Assert.Equal(detail, ex.Detail);
        Assert.DoesNotContain("secret", ex.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_message_is_percent_encoded_on_the_wire()
    {
        await using var host = await TestHost.StartAsync();

        var result = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, GrpcProtocol.Frame(new GetParametersRequest { JobId = "bad" }));

        Assert.Equal((int)StatusCode.InvalidArgument, result.GrpcStatus);
        Assert.Equal("job id 'bad' is not known: %C3%BCn%C3%AFc%C3%B8d%C3%A9 100%25%0D%0A", result.GrpcMessage);
    }

    [Theory]
    [InlineData("slow")]
    [InlineData("slow-ignoring-cancellation")]
    public async Task Grpc_timeout_expires_with_DEADLINE_EXCEEDED(string jobId)
    {
        await using var host = await TestHost.StartAsync();
        var stopwatch = Stopwatch.StartNew();

        // Server-side deadline only: the raw request carries grpc-timeout 100m, the client waits without its own deadline.
        var result = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, GrpcProtocol.Frame(new GetParametersRequest { JobId = jobId }), headers: new Dictionary<string, string> { ["grpc-timeout"] = "100m" });

        Assert.Equal((int)StatusCode.DeadlineExceeded, result.GrpcStatus);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(8), $"took {stopwatch.Elapsed}"); // the "slow" call takes 10 s unless the deadline cuts it
        Assert.Empty(result.Body);
    }

    [Fact]
    public async Task Client_deadline_raises_DEADLINE_EXCEEDED()
    {
        await using var host = await TestHost.StartAsync();
        using var channel = host.CreateChannel();

        var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync<GetParametersRequest, ParametersReply>(TestHost.GetParameters, new GetParametersRequest { JobId = "slow" }, TimeSpan.FromMilliseconds(100), Ct));

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
    }

    [Fact]
    public async Task Streaming_deadline_ends_stream_with_DEADLINE_EXCEEDED()
    {
        await using var host = await TestHost.StartAsync();
        using var channel = host.CreateChannel();
        var received = 0;

        var ex = await Assert.ThrowsAsync<GrpcStatusException>(async () =>
        {
            await foreach (var e in channel.ServerStreamingAsync<WatchRequest, RoundEvent>(TestHost.WatchRounds, new WatchRequest { JobId = "1000:slow" }, TimeSpan.FromSeconds(3), Ct))
            {
                received++;
            }
        });

        // 1000 events 50 ms apart take 50 s; a 3 s deadline (room for a new HTTP/2 connection on a
        // loaded machine) ends the stream part way.
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.InRange(received, 1, 999);
    }

    [Fact]
    public async Task Unknown_method_is_trailers_only_UNIMPLEMENTED()
    {
        await using var host = await TestHost.StartAsync();
        using var channel = host.CreateChannel();

        var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync<GetParametersRequest, ParametersReply>("/privatehealth.v1.ParticipantProtocol/NoSuchMethod", new GetParametersRequest(), cancellationToken: Ct));
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);

        var raw = await RawGrpc.SendAsync(host.Address, "/other.Service/Method", GrpcProtocol.Frame(new GetParametersRequest()));
        Assert.Equal(HttpStatusCode.OK, raw.HttpStatus);
        Assert.True(raw.TrailersOnly);
        Assert.Equal(12, raw.GrpcStatus);
        Assert.Empty(raw.Body);
    }

    [Fact]
    public async Task Non_grpc_content_type_is_415()
    {
        await using var host = await TestHost.StartAsync();

        var result = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, GrpcProtocol.Frame(new GetParametersRequest()), contentType: "application/json");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, result.HttpStatus);
        Assert.Equal(0, host.ParameterCalls);

        var proto = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, GrpcProtocol.Frame(new GetParametersRequest()), contentType: "application/grpc+proto");
        Assert.Equal(0, proto.GrpcStatus);
    }

    [Fact]
    public async Task Http11_request_to_h2_only_endpoint_is_refused()
    {
        await using var host = await TestHost.StartAsync();

        // Kestrel (.NET 10) answers an HTTP/1.x request on an HTTP/2-only endpoint with a plain
        // "400 Bad Request" and closes the connection; the request never reaches routing.
        RawResult? result = null;
        try
        {
            result = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, GrpcProtocol.Frame(new GetParametersRequest()), HttpVersion.Version11);
        }
        catch (HttpRequestException)
        {
            // Also acceptable: connection closed without a response.
        }

        if (result is not null)
        {
            Assert.Equal(HttpStatusCode.BadRequest, result.HttpStatus);
            Assert.Null(result.GrpcStatus);
        }

        Assert.Equal(0, host.ParameterCalls);
    }

    [Fact]
    public async Task Http11_request_on_mixed_endpoint_gets_426_and_handler_not_called()
    {
        await using var host = await TestHost.StartAsync(acceptHttp1: true);

        var result = await RawGrpc.SendAsync(host.Address, TestHost.GetParameters, GrpcProtocol.Frame(new GetParametersRequest()), HttpVersion.Version11);

        Assert.Equal(HttpStatusCode.UpgradeRequired, result.HttpStatus);
        Assert.Equal((int)StatusCode.Internal, result.GrpcStatus);
        Assert.Equal(0, host.ParameterCalls);
    }

    [Theory]
    [InlineData("100m", 1_000_000L)]
    [InlineData("5S", 50_000_000L)]
    [InlineData("2M", 1_200_000_000L)]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("250u", 2_500L)]
    [InlineData("300n", 3L)]
    public void Grpc_timeout_parses(string value, long ticks)
    {
        Assert.True(GrpcProtocol.TryParseTimeout(value, out var timeout));
        Assert.Equal(ticks, timeout.Ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("100")]
    [InlineData("123456789m")]
    [InlineData("-1m")]
    [InlineData("10x")]
    public void Grpc_timeout_rejects_invalid(string value) => Assert.False(GrpcProtocol.TryParseTimeout(value, out _));

    [Fact]
    public void Grpc_message_percent_encoding_round_trips()
    {
        const string text = "ü 100% \t\n ok";
        var encoded = GrpcProtocol.EncodeMessage(text);
        Assert.DoesNotContain(encoded, c => c > 0x7E || c < 0x20);
        Assert.Equal(text, GrpcProtocol.DecodeMessage(encoded));
    }
}
