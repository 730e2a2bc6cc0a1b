namespace PrivateHealth.Grpc.Auth;

/// <summary>
/// How the coordinator validates bearer tokens: either the embedded <see cref="DevelopmentIssuer"/>
/// or an external OIDC issuer (<see cref="Authority"/> + <see cref="Audience"/>, keys from its JWKS).
/// </summary>
public sealed class PrivateHealthAuthenticationOptions
{
    /// <summary>Embedded issuer for demo and tests. When set, <see cref="Authority"/> must be null.</summary>
    public DevelopmentTokenIssuer? DevelopmentIssuer { get; set; }

    /// <summary>External issuer base address; OIDC metadata is read from <c>{Authority}/.well-known/openid-configuration</c>.</summary>
    public Uri? Authority { get; set; }

    /// <summary>Explicit OIDC metadata address (defaults to the one derived from <see cref="Authority"/>).</summary>
    public Uri? MetadataAddress { get; set; }

    /// <summary>Expected <c>aud</c> for the external issuer.</summary>
    public string? Audience { get; set; }

    /// <summary>Require an https metadata address for the external issuer. Default true.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>Allowed clock difference when checking <c>exp</c>/<c>nbf</c>. Default 30 seconds.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
}
