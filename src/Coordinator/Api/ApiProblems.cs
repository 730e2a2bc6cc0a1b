using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using PrivateHealth.Grpc;

namespace PrivateHealth.Coordinator.Api;

/// <summary>
/// RFC 7807 problem details for the REST API. Service errors (<see cref="GrpcStatusException"/>) map to HTTP:
/// InvalidArgument/OutOfRange 400, Unauthenticated 401, PermissionDenied 403, NotFound 404, AlreadyExists/
/// FailedPrecondition/Aborted 409, ResourceExhausted 413, Unimplemented 501, Unavailable 503, DeadlineExceeded 504,
/// anything else 500 without internals. An expired quote is answered 410 Gone by the submit endpoint.
/// </summary>
public static class ApiProblems
{
    /// <summary>The HTTP status for a service status code.</summary>
    public static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.FailedPrecondition or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.ResourceExhausted => StatusCodes.Status413PayloadTooLarge,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The problem for a service error; 5xx other than 501/503/504 never carry the service's detail.</summary>
    public static IResult From(GrpcStatusException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        int status = HttpStatus(ex.StatusCode);
        return status == StatusCodes.Status500InternalServerError
            ? Internal()
            : Problem(status, ex.Detail);
    }

    public static IResult Problem(int status, string detail, string? title = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title);

    public static IResult BadRequest(string detail) => Problem(StatusCodes.Status400BadRequest, detail);

    public static IResult Internal() => Problem(StatusCodes.Status500InternalServerError, "An unexpected error occurred.");
}

/// <summary>Answers failed authorization of <c>/api</c> endpoints with 401/403 problem details (others: the default).</summary>
internal sealed class ProblemAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal) || (!authorizeResult.Challenged && !authorizeResult.Forbidden))
        {
            await _default.HandleAsync(next, context, policy, authorizeResult).ConfigureAwait(false);
            return;
        }

        bool authenticated = context.User.Identity?.IsAuthenticated == true;
        if (authorizeResult.Challenged || !authenticated)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ApiProblems.Problem(StatusCodes.Status401Unauthorized, "A valid bearer token is required.").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        await ApiProblems.Problem(StatusCodes.Status403Forbidden, "The caller's role may not use this endpoint.").ExecuteAsync(context).ConfigureAwait(false);
    }
}
