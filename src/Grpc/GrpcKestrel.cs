using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace PrivateHealth.Grpc;

/// <summary>Kestrel setup for cleartext gRPC (h2c with prior knowledge).</summary>
public static class GrpcKestrel
{
    /// <summary>
    /// Listens on 127.0.0.1 with an HTTP/2-only endpoint (cleartext HTTP/2 has no ALPN, so the endpoint
    /// must not also accept HTTP/1.1). Port 0 picks a free port; read it back with <see cref="GetBoundAddress"/>.
    /// </summary>
    public static WebApplicationBuilder ListenLoopbackHttp2(this WebApplicationBuilder builder, int port = 0)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        return builder;
    }

    /// <summary>The first bound address (e.g. <c>http://127.0.0.1:41234</c>) of a started application.</summary>
    public static Uri GetBoundAddress(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault()
            ?? throw new InvalidOperationException("The server has no bound address; start the application first.");
        return new Uri(first);
    }
}
