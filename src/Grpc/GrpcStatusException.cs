namespace PrivateHealth.Grpc;

/// <summary>
/// A gRPC call outcome other than OK. Thrown by handlers to choose the status sent to the client,
/// and thrown by <see cref="GrpcChannelLite"/> when a call ends with a non-OK status.
/// </summary>
public sealed class GrpcStatusException : Exception
{
    public GrpcStatusException()
        : this(StatusCode.Unknown, string.Empty)
    {
    }

    public GrpcStatusException(string message)
        : this(StatusCode.Unknown, message)
    {
    }

    public GrpcStatusException(string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = StatusCode.Unknown;
        Detail = message;
    }

    public GrpcStatusException(StatusCode statusCode, string detail)
        : base($"gRPC status {statusCode} ({(int)statusCode}): {detail}")
    {
        StatusCode = statusCode;
        Detail = detail;
    }

    public GrpcStatusException(StatusCode statusCode, string detail, Exception? innerException)
        : base($"gRPC status {statusCode} ({(int)statusCode}): {detail}", innerException)
    {
        StatusCode = statusCode;
        Detail = detail;
    }

    /// <summary>The gRPC status code.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The status message (the decoded <c>grpc-message</c>).</summary>
    public string Detail { get; }
}
