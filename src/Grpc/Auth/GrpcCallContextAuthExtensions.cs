using System.Security.Claims;

namespace PrivateHealth.Grpc.Auth;

/// <summary>Caller identity for gRPC handlers (set by <see cref="GrpcAuthorizationExtensions.RequireRoles{TBuilder}"/>).</summary>
public static class GrpcCallContextAuthExtensions
{
    extension(GrpcCallContext context)
    {
        /// <summary>The authenticated caller (an anonymous principal on endpoints without <c>RequireRoles</c>).</summary>
        public ClaimsPrincipal User => context.HttpContext.User;

        /// <summary>The caller's <c>sub</c> claim, or null when unauthenticated.</summary>
        public string? PrincipalId => context.HttpContext.User.Identity?.IsAuthenticated == true
            ? context.HttpContext.User.FindFirst(AuthClaimTypes.Subject)?.Value
            : null;

        /// <summary>The caller's <c>role</c> claim, or null when unauthenticated.</summary>
        public string? Role => context.HttpContext.User.Identity?.IsAuthenticated == true
            ? context.HttpContext.User.FindFirst(AuthClaimTypes.Role)?.Value
            : null;

        /// <summary>
        /// Throws PERMISSION_DENIED unless the caller is <paramref name="claimedPrincipalId"/> (e.g. the
        /// <c>participant_id</c> of an upload): a participant uploads only as itself, a custodian answers only for itself.
        /// </summary>
        public void EnsureCallerIs(string claimedPrincipalId)
        {
            var caller = context.PrincipalId
                ?? throw new GrpcStatusException(StatusCode.Unauthenticated, "Call is not authenticated.");
            if (!string.Equals(caller, claimedPrincipalId, StringComparison.Ordinal))
            {
                throw new GrpcStatusException(StatusCode.PermissionDenied, "Caller may only act as itself.");
            }
        }
    }
}
