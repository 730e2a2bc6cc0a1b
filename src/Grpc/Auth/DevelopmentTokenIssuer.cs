using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace PrivateHealth.Grpc.Auth;

/// <summary>
/// Embedded token issuer for demos and tests: an ECDSA P-256 key (generated in memory or loaded from PEM)
/// that signs ES256 JWTs carrying <c>sub</c>, <c>role</c>, <c>iss</c>, <c>aud</c>, <c>iat</c>, <c>nbf</c>, <c>exp</c>.
/// Not for production: use an external OIDC issuer there.
/// </summary>
public sealed class DevelopmentTokenIssuer : IDisposable
{
    public const string DefaultIssuer = "urn:privatehealth:dev-issuer";
    public const string DefaultAudience = "urn:privatehealth:coordinator";

    private readonly ECDsa _key;
    private readonly SigningCredentials _credentials;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Creates an issuer with a fresh in-memory P-256 key.</summary>
    public DevelopmentTokenIssuer(string issuer = DefaultIssuer, string audience = DefaultAudience)
        : this(ECDsa.Create(ECCurve.NamedCurves.nistP256), issuer, audience)
    {
    }

    private DevelopmentTokenIssuer(ECDsa key, string issuer, string audience)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(issuer);
        ArgumentException.ThrowIfNullOrWhiteSpace(audience);
        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new ArgumentException("The development issuer needs an ECDSA P-256 key.", nameof(key));
        }

        _key = key;
        Issuer = issuer;
        Audience = audience;
        var parameters = key.ExportParameters(includePrivateParameters: false);
        var keyId = Base64UrlEncoder.Encode(SHA256.HashData([.. parameters.Q.X!, .. parameters.Q.Y!]).AsSpan(0, 16).ToArray());
        // A factory per issuer: the shared default caches signature providers by key id, so a disposed issuer's provider
        // (same PEM, same key id) would be handed to the next issuer loaded from that PEM.
        SecurityKey = new ECDsaSecurityKey(key) { KeyId = keyId, CryptoProviderFactory = new CryptoProviderFactory() };
        _credentials = new SigningCredentials(SecurityKey, SecurityAlgorithms.EcdsaSha256);
    }

    /// <summary>The <c>iss</c> claim of issued tokens.</summary>
    public string Issuer { get; }

    /// <summary>The <c>aud</c> claim of issued tokens.</summary>
    public string Audience { get; }

    /// <summary>Default token lifetime. One hour.</summary>
    public TimeSpan DefaultLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The signing key (holds the private key; the server only uses it to verify).</summary>
    public SecurityKey SecurityKey { get; }

    /// <summary>Loads a P-256 private key from PEM (<c>EC PRIVATE KEY</c> or <c>PRIVATE KEY</c>).</summary>
    public static DevelopmentTokenIssuer FromPem(string pem, string issuer = DefaultIssuer, string audience = DefaultAudience)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pem);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch
        {
            key.Dispose();
            throw;
        }

        return new DevelopmentTokenIssuer(key, issuer, audience);
    }

    /// <summary>Exports the private key as PKCS#8 PEM so a demo can reuse it across restarts.</summary>
    public string ExportPrivateKeyPem() => _key.ExportPkcs8PrivateKeyPem();

    /// <summary>
    /// Issues a signed JWT for <paramref name="subject"/> with <paramref name="role"/>.
    /// <paramref name="issuedAt"/> (default now) and <paramref name="lifetime"/> (default <see cref="DefaultLifetime"/>)
    /// set <c>iat</c>/<c>nbf</c>/<c>exp</c>; <paramref name="audience"/> overrides <see cref="Audience"/> (for tests).
    /// </summary>
    public string CreateToken(string subject, string role, TimeSpan? lifetime = null, DateTimeOffset? issuedAt = null, string? audience = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        if (!Roles.IsKnown(role))
        {
            throw new ArgumentException($"Unknown role '{role}'. Expected one of: {string.Join(", ", Roles.All)}.", nameof(role));
        }

        var life = lifetime ?? DefaultLifetime;
        if (life <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), "Token lifetime must be positive.");
        }

        var now = (issuedAt ?? DateTimeOffset.UtcNow).UtcDateTime;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience ?? Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + life,
            SigningCredentials = _credentials,
            Subject = new ClaimsIdentity([new Claim(AuthClaimTypes.Subject, subject), new Claim(AuthClaimTypes.Role, role)]),
        };
        return _handler.CreateToken(descriptor);
    }

    /// <summary>Validation parameters matching this issuer (issuer, audience, lifetime, ES256 signature).</summary>
    public TokenValidationParameters CreateValidationParameters(TimeSpan? clockSkew = null) => new()
    {
        ValidateIssuer = true,
        ValidIssuer = Issuer,
        ValidateAudience = true,
        ValidAudience = Audience,
        ValidateLifetime = true,
        RequireExpirationTime = true,
        RequireSignedTokens = true,
        ValidateIssuerSigningKey = true,
        IssuerSigningKey = SecurityKey,
        ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        ClockSkew = clockSkew ?? TimeSpan.FromSeconds(30),
        NameClaimType = AuthClaimTypes.Subject,
        RoleClaimType = AuthClaimTypes.Role,
    };

    public void Dispose()
    {
        _key.Dispose();
    }
}
