using System.Net;
using System.Net.Http.Headers;
using Xunit;

namespace PrivateHealth.Grpc.Tests;

internal sealed record RawResult(HttpStatusCode HttpStatus, int? GrpcStatus, string? GrpcMessage, byte[] Body, bool TrailersOnly);

/// <summary>Hand-built HTTP requests, for frames and protocols GrpcChannelLite would never send.</summary>
internal static class RawGrpc
{
    public static async Task<RawResult> SendAsync(
        Uri address,
        string method,
        byte[] body,
        Version? version = null,
        string contentType = "application/grpc",
        IReadOnlyDictionary<string, string>? headers = null)
    {
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(address, method))
        {
            Version = version ?? HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        var inHeaders = response.Headers.TryGetValues("grpc-status", out var headerStatus);
        var statusValues = inHeaders ? headerStatus : response.TrailingHeaders.TryGetValues("grpc-status", out var trailerStatus) ? trailerStatus : null;
        var source = inHeaders ? (HttpHeaders)response.Headers : response.TrailingHeaders;
        var message = source.TryGetValues("grpc-message", out var messages) ? messages.First() : null;
        int? status = statusValues is null ? null : int.Parse(statusValues.First(), System.Globalization.CultureInfo.InvariantCulture);
        return new RawResult(response.StatusCode, status, message, bytes, inHeaders);
    }

    public static byte[] Frame(byte flag, byte[] payload, uint? declaredLength = null)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }
}
