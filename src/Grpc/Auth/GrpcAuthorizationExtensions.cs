using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;

namespace PrivateHealth.Grpc.Auth;

/// <summary>Endpoint metadata recording the roles a gRPC method accepts (empty: any authenticated caller).</summary>
public sealed class GrpcRolesMetadata
{
    internal GrpcRolesMetadata(IReadOnlyList<string> roles) => Roles = roles;

    public IReadOnlyList<string> Roles { get; }
}

/// <summary>
/// Bearer-token checks for endpoints mapped with <c>MapGrpcUnary</c>/<c>MapGrpcServerStreaming</c>.
/// The check runs in front of the gRPC call (it wraps the endpoint's request delegate), authenticates with
/// the JwtBearer scheme itself (no <c>UseAuthentication</c>/<c>UseAuthorization</c> needed) and answers failures
/// as trailers-only gRPC responses: UNAUTHENTICATED (16) or PERMISSION_DENIED (7), never an HTTP 401/403.
/// </summary>
public static class GrpcAuthorizationExtensions
{
    /// <summary>Requires a valid bearer token whose <c>role</c> claim is one of <paramref name="roles"/> (none given: any role).</summary>
    public static TBuilder RequireRoles<TBuilder>(this TBuilder builder, params string[] roles)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(roles);
        foreach (var role in roles)
        {
            if (!Auth.Roles.IsKnown(role))
            {
                throw new ArgumentException($"Unknown role '{role}'.", nameof(roles));
            }
        }

        var metadata = new GrpcRolesMetadata([.. roles]);
        builder.Add(endpoint =>
        {
            var inner = endpoint.RequestDelegate
                ?? throw new InvalidOperationException("RequireRoles needs an endpoint with a request delegate.");
            endpoint.Metadata.Add(metadata);
            endpoint.RequestDelegate = http => AuthorizeThenRunAsync(http, metadata.Roles, inner);
        });
        return builder;
    }

    /// <summary>Requires a valid bearer token with any role.</summary>
    public static TBuilder RequireGrpcAuthentication<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.RequireRoles();

    private static async Task AuthorizeThenRunAsync(HttpContext http, IReadOnlyList<string> roles, RequestDelegate inner)
    {
        if (!HttpProtocol.IsHttp2(http.Request.Protocol) || !GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
        {
            // Not a gRPC call: the gRPC layer rejects it with its usual HTTP status.
            await inner(http).ConfigureAwait(false);
            return;
        }

        var result = await http.AuthenticateAsync(PrivateHealthAuthenticationExtensions.Scheme).ConfigureAwait(false);
        if (!result.Succeeded || result.Principal?.Identity?.IsAuthenticated != true)
        {
            var detail = result.Failure switch
            {
                null => "Missing bearer token.",
                SecurityTokenExpiredException => "Bearer token has expired.",
                _ => "Invalid bearer token.",
            };
            WriteStatus(http.Response, StatusCode.Unauthenticated, detail);
            return;
        }

        var principal = result.Principal;
        http.User = principal;
        var subject = principal.FindFirst(AuthClaimTypes.Subject)?.Value;
        if (string.IsNullOrEmpty(subject))
        {
            WriteStatus(http.Response, StatusCode.Unauthenticated, "Bearer token has no subject.");
            return;
        }

        if (roles.Count > 0 && !roles.Any(principal.IsInRole))
        {
            WriteStatus(http.Response, StatusCode.PermissionDenied, $"Method requires role {string.Join(" or ", roles)}.");
            return;
        }

        await inner(http).ConfigureAwait(false);
    }

    private static void WriteStatus(HttpResponse response, StatusCode status, string message)
    {
        // Trailers-only response: HTTP 200, grpc-status in the single HEADERS frame.
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.StatusHeader] = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeMessage(message);
    }
}
