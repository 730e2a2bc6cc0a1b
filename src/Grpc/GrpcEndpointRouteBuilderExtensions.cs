using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace PrivateHealth.Grpc;

/// <summary>Maps gRPC methods onto ASP.NET Core endpoints without the grpc-dotnet runtime.</summary>
public static class GrpcEndpointRouteBuilderExtensions
{
    /// <summary>Registers <see cref="GrpcServerOptions"/> (limits) for the mapped gRPC endpoints.</summary>
    public static IServiceCollection AddGrpcLite(this IServiceCollection services, Action<GrpcServerOptions>? configure = null)
    {
        var builder = services.AddOptions<GrpcServerOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return services;
    }

    /// <summary>Maps a unary method, e.g. <c>/privatehealth.v1.ParticipantProtocol/UploadUpdate</c>.</summary>
    public static IEndpointConventionBuilder MapGrpcUnary<TRequest, TReply>(
        this IEndpointRouteBuilder endpoints,
        string method,
        Func<TRequest, GrpcCallContext, Task<TReply>> handler)
        where TRequest : IMessage<TRequest>
        where TReply : IMessage<TReply>
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(handler);
        ValidateMethod(method);
        _ = ParserCache<TRequest>.Parser;
        RequestDelegate run = http => GrpcServerCall.ExecuteAsync<TRequest, TReply>(http, method, async (request, stream, context) =>
        {
            var reply = await handler(request, context).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Handler for {method} returned a null reply.");
            await stream.WriteAsync(reply, context.CancellationToken).ConfigureAwait(false);
        });
        return endpoints.MapPost(method, run).WithDisplayName("gRPC unary " + method);
    }

    /// <summary>Maps a server-streaming method.</summary>
    public static IEndpointConventionBuilder MapGrpcServerStreaming<TRequest, TReply>(
        this IEndpointRouteBuilder endpoints,
        string method,
        Func<TRequest, IServerStreamWriter<TReply>, GrpcCallContext, Task> handler)
        where TRequest : IMessage<TRequest>
        where TReply : IMessage<TReply>
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(handler);
        ValidateMethod(method);
        _ = ParserCache<TRequest>.Parser;
        RequestDelegate run = http => GrpcServerCall.ExecuteAsync<TRequest, TReply>(http, method, (request, stream, context) => handler(request, stream, context));
        return endpoints.MapPost(method, run).WithDisplayName("gRPC server streaming " + method);
    }

    /// <summary>
    /// Answers any other gRPC request (content-type application/grpc*) with a trailers-only UNIMPLEMENTED;
    /// other requests get 404.
    /// </summary>
    public static IEndpointConventionBuilder MapGrpcUnimplemented(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        RequestDelegate run = http =>
        {
            if (GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
            {
                return GrpcServerCall.WriteUnimplementedAsync(http);
            }

            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        };
        return endpoints.MapFallback(run).WithDisplayName("gRPC unimplemented");
    }

    private static void ValidateMethod(string method)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        if (method[0] != '/' || method.Count(c => c == '/') != 2)
        {
            throw new ArgumentException("A gRPC method path has the form /package.Service/Method.", nameof(method));
        }
    }
}
