namespace PrivateHealth.Grpc.Auth;

/// <summary>JWT claim names used by the coordinator (inbound claim mapping is disabled, so these are the raw JWT names).</summary>
public static class AuthClaimTypes
{
    /// <summary>Principal id (participant id, custodian id, ...).</summary>
    public const string Subject = "sub";

    /// <summary>One of <see cref="Roles"/>.</summary>
    public const string Role = "role";
}
