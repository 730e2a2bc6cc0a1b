using Microsoft.AspNetCore.Http;

namespace PrivateHealth.Grpc;

/// <summary>Per-call information handed to a gRPC handler.</summary>
public sealed class GrpcCallContext
{
    internal GrpcCallContext(HttpContext httpContext, string method, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        HttpContext = httpContext;
        Method = method;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    /// <summary>The underlying HTTP/2 request.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>The full method path, e.g. <c>/privatehealth.v1.ParticipantProtocol/UploadUpdate</c>.</summary>
    public string Method { get; }

    /// <summary>Deadline from the <c>grpc-timeout</c> header, if the client sent one.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Cancelled when the client cancels the call or the deadline expires.</summary>
    public CancellationToken CancellationToken { get; }
}

/// <summary>Writes reply messages of a server-streaming call.</summary>
public interface IServerStreamWriter<in T>
{
    /// <summary>Writes and flushes one reply message. Throws once the call has completed.</summary>
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}
