namespace PrivateHealth.Grpc;

/// <summary>Limits applied by the gRPC endpoints mapped with <see cref="GrpcEndpointRouteBuilderExtensions"/>.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Largest accepted request message (after decompression), in bytes. Default 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest reply message the server will send, in bytes. Default 4 MiB.</summary>
    public int MaxSendMessageSize { get; set; } = 4 * 1024 * 1024;
}
