using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace PrivateHealth.Grpc.Auth;

/// <summary>Registers JWT bearer authentication for the gRPC endpoints.</summary>
public static class PrivateHealthAuthenticationExtensions
{
    /// <summary>The authentication scheme used by <see cref="GrpcAuthorizationExtensions.RequireRoles{TBuilder}"/>.</summary>
    public const string Scheme = JwtBearerDefaults.AuthenticationScheme;

    /// <summary>
    /// Adds JwtBearer (scheme <see cref="Scheme"/>) validating tokens from the development issuer or from an
    /// external OIDC authority. Raw JWT claim names are kept (<c>sub</c>, <c>role</c>). Failures never produce an
    /// HTTP challenge on gRPC endpoints: <c>RequireRoles</c> answers with gRPC UNAUTHENTICATED / PERMISSION_DENIED.
    /// </summary>
    public static AuthenticationBuilder AddPrivateHealthAuthentication(this IServiceCollection services, PrivateHealthAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var development = options.DevelopmentIssuer;
        if (development is not null && (options.Authority is not null || options.MetadataAddress is not null))
        {
            throw new ArgumentException("Configure either a development issuer or an external authority, not both.", nameof(options));
        }

        if (development is null)
        {
            if (options.Authority is null && options.MetadataAddress is null)
            {
                throw new ArgumentException("Configure a development issuer or an external Authority.", nameof(options));
            }

            if (string.IsNullOrWhiteSpace(options.Audience))
            {
                throw new ArgumentException("An external authority needs an Audience.", nameof(options));
            }
        }
        else
        {
            services.AddSingleton(development);
        }

        return services
            .AddAuthentication(Scheme)
            .AddJwtBearer(Scheme, jwt =>
            {
                jwt.MapInboundClaims = false;
                jwt.SaveToken = false;
                jwt.IncludeErrorDetails = false;
                if (development is not null)
                {
                    jwt.TokenValidationParameters = development.CreateValidationParameters(options.ClockSkew);
                    return;
                }

                jwt.Authority = options.Authority?.ToString();
                if (options.MetadataAddress is not null)
                {
                    jwt.MetadataAddress = options.MetadataAddress.ToString();
                }

                jwt.Audience = options.Audience;
                jwt.RequireHttpsMetadata = options.RequireHttpsMetadata;
                jwt.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateIssuer = true,
                    ValidateAudience = true,
                    ValidAudience = options.Audience,
                    ValidateLifetime = true,
                    RequireExpirationTime = true,
                    RequireSignedTokens = true,
                    ValidateIssuerSigningKey = true,
                    ClockSkew = options.ClockSkew,
                    NameClaimType = AuthClaimTypes.Subject,
                    RoleClaimType = AuthClaimTypes.Role,
                };
            });
    }
}
