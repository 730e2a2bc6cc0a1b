using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Analytics;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Protocol.V1;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace PrivateHealth.Coordinator.Api;

/// <summary>
/// The REST + JSON job API for the marketplace and researchers (<c>/api/...</c>) and its OpenAPI document
/// (<c>/openapi/v1.json</c>). Every error is <c>application/problem+json</c> (see <see cref="ApiProblems"/>).
/// </summary>
public static class JobApiEndpoints
{
    /// <summary>Researchers only.</summary>
    public const string ResearcherPolicy = "api-researcher";

    /// <summary>Researchers and operators (operators see every job).</summary>
    public const string ReaderPolicy = "api-reader";

    /// <summary>Header carrying the released slots next to the binary result.</summary>
    public const string ReleasedSlotsHeader = "X-Released-Slots";

    /// <summary>Rounding granularity of <see cref="CohortSummary.NoisySize"/>.</summary>
    public const int SizeGranularity = 10;

    /// <summary>Registers problem details, the API's authorization policies and the OpenAPI document.</summary>
    public static IServiceCollection AddJobApi(this IServiceCollection services)
    {
        services.AddProblemDetails();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        services.AddAuthorizationBuilder()
            .AddPolicy(ResearcherPolicy, p => p.AddAuthenticationSchemes(PrivateHealthAuthenticationExtensions.Scheme)
                .RequireClaim(AuthClaimTypes.Subject).RequireClaim(AuthClaimTypes.Role, Roles.Researcher))
            .AddPolicy(ReaderPolicy, p => p.AddAuthenticationSchemes(PrivateHealthAuthenticationExtensions.Scheme)
                .RequireClaim(AuthClaimTypes.Subject).RequireClaim(AuthClaimTypes.Role, Roles.Researcher, Roles.Operator));
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "PrivateHealth coordinator job API";
            doc.Info.Description = "Cohorts, quotes, encrypted query jobs and federated training jobs. Errors are RFC 7807 problem details. " +
                "Authenticate with `Authorization: Bearer <token>` (role researcher; operators may read and cancel any job). " +
                "The dashboard (`GET /dashboard`) reads the same API; its endpoints (jobs list, custodians, settlements, earnings) are tagged Dashboard.";
            return Task.CompletedTask;
        }));
        services.AddDashboardApi();
        return services;
    }

    /// <summary>Middleware: problem bodies for empty /api error responses (404/405...), then authentication and authorization.</summary>
    public static WebApplication UseJobApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // only the REST API authenticates in middleware: gRPC endpoints authenticate in their RequireRoles wrapper,
        // so running the middleware for them too would validate every call's token twice
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal), b =>
        {
            b.UseStatusCodePages();
            b.UseAuthentication();
        });
        app.UseAuthorization();
        return app;
    }

    /// <summary>Maps the six endpoints under <c>/api</c>, the dashboard (<see cref="DashboardApi"/>) and the OpenAPI document.</summary>
    public static IEndpointRouteBuilder MapJobApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup("/api").WithTags("Jobs");
        api.AddEndpointFilter(ProblemFilterAsync);

        api.MapGet("/cohorts", ListCohortsAsync)
            .RequireAuthorization(ReaderPolicy)
            .WithName("ListCohorts")
            .WithSummary("Lists the cohorts with their schema, noisy size and remaining privacy budget.")
            .WithDescription($"`noisySize` is the number of active contributions rounded DOWN to a multiple of {SizeGranularity} " +
                "(e.g. 37 → 30, 9 → 0); the exact count is never disclosed.")
            .Produces<CohortSummary[]>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        api.MapPost("/quotes", CreateQuoteAsync)
            .RequireAuthorization(ResearcherPolicy)
            .WithName("CreateQuote")
            .WithSummary("Prices a query on a cohort, or a federated training job.")
            .WithDescription("Returns a quote valid for 15 minutes and usable by one job. `price` is in micro-units. " +
                "`kind` is \"query\" (default) or \"training\". For a query: `cohortId` and `query` are required; " +
                "`epsilon` is optional (default 1.0) and may not exceed the cohort's remaining budget (409). " +
                "For training: `cohortId` (the participants' enrollment cohort), `keySetId` and `training` (the TrainingJobSpec as " +
                "camelCase protobuf JSON: model, features, classes, rounds, sampleFraction, minParticipants, localEpochs, batchSize, " +
                "learningRate, strategy, dpClipNorm, dpNoiseMultiplier, ...; unset fields get their defaults) are required; an invalid " +
                "spec is 400 with every problem in `problems`, an unknown key set 404. Training price = " +
                $"{TrainingJobApi.BasePrice} + {TrainingJobApi.PricePerRound} × rounds + {TrainingJobApi.PricePerParticipant} × minParticipants " +
                "(expected participants per round). Training `epsilon` is 0 without DP noise; with `dpNoiseMultiplier` σ > 0 it is the " +
                $"Gaussian-mechanism bound over all rounds without subsampling amplification, ρ = rounds/(2σ²), ε = ρ + 2√(ρ ln(1/δ)), δ = {TrainingJobApi.DpDelta}.")
            .Accepts<CreateQuoteRequest>("application/json")
            .Produces<QuoteResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        api.MapPost("/jobs", SubmitJobAsync)
            .RequireAuthorization(ResearcherPolicy)
            .WithName("SubmitJob")
            .WithSummary("Submits a query or training job for a quote.")
            .WithDescription("201 with `Location` for a new job; 200 with the same job when the idempotency key " +
                "(body `idempotencyKey` or `Idempotency-Key` header) was used before by the caller. " +
                "404 unknown cohort or quote (or another researcher's quote); 410 Gone for an expired quote; 409 for a quote already used by another job " +
                "or a key set that is not ready; 400 for a quote of another query/cohort or a bad public key. " +
                "For a training quote only `quoteId` is required (`cohortId` must match when given); the answer is a TrainingJobResponse " +
                "(`kind` \"training\", id `job-…`) and the job waits (state \"pending\") until enough consenting participants are online.")
            .Accepts<SubmitJobRequest>("application/json")
            .Produces<JobResponse>(StatusCodes.Status201Created)
            .Produces<JobResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status410Gone);

        api.MapGet("/jobs/{id}", GetJobAsync)
            .RequireAuthorization(ReaderPolicy)
            .WithName("GetJob")
            .WithSummary("A job's state, message, released groups and noise scales (query) or spec, rounds and per-round metrics (training), and its settlement.")
            .WithDescription("Researchers see only their own jobs (others: 404); operators see all, including training jobs created by the operator API. " +
                "`settlement` (JobSettlement) shows whether the job was paid, its settlement status and steps with transaction hashes, and the payout " +
                "totals once decided (without per-contributor shares). Per-round `loss` and `accuracy` of training jobs are null until reported. " +
                "Query job ids start with `qj-` (JobResponse); training job ids with `job-` (TrainingJobResponse: state, currentRound, rounds, " +
                "spec and history of per-round metrics).")
            .Produces<JobResponse>(StatusCodes.Status200OK)
            .Produces<TrainingJobResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("/jobs/{id}/result", GetResultAsync)
            .RequireAuthorization(ReaderPolicy)
            .WithName("GetJobResult")
            .WithSummary("The result ciphertext of a completed query job, or the final model of a completed training job.")
            .WithDescription("409 problem until the job is completed (also when it failed or was cancelled). For a training job the answer " +
                "is JSON (TrainingResultResponse) with the final global model parameters. For a query job, by default the " +
                "body is the raw ciphertext (CkksSerializer bytes, `application/octet-stream`, encrypted to the researcher's key) " +
                $"and the released slots are in the `{ReleasedSlotsHeader}` header (comma-separated). With `Accept: application/json` " +
                "the answer is JSON with the ciphertext in base64 and the released slots.")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .Produces<JobResultResponse>(StatusCodes.Status200OK, "application/json")
            .Produces<TrainingResultResponse>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        api.MapPost("/jobs/{id}/cancel", CancelJobAsync)
            .RequireAuthorization(ReaderPolicy)
            .WithName("CancelJob")
            .WithSummary("Cancels an unfinished job (the privacy budget already spent stays spent).")
            .WithDescription("409 when the job already completed, failed or was cancelled. Training jobs (`job-…`) answer a " +
                "TrainingJobResponse; their pending custodian tasks are withdrawn.")
            .Produces<JobResponse>(StatusCodes.Status200OK)
            .Produces<TrainingJobResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        app.MapDashboardApi();
        app.MapOpenApi();
        return app;
    }

    /// <summary>Endpoint filter of every <c>/api</c> group: service errors become problem details, anything else a 500 without internals.</summary>
    internal static async ValueTask<object?> ProblemFilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (GrpcStatusException ex)
        {
            return ApiProblems.From(ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(JobApiEndpoints))
                .LogError(ex, "{Method} {Path} failed", context.HttpContext.Request.Method, context.HttpContext.Request.Path);
            return ApiProblems.Internal();
        }
    }

    /// <summary>The noisy size rule: rounded down to a multiple of <see cref="SizeGranularity"/>.</summary>
    public static int NoisySize(int activeContributions) => Math.Max(0, activeContributions) / SizeGranularity * SizeGranularity;

    private static async Task<IResult> ListCohortsAsync(ICohortStore cohorts, CancellationToken ct)
    {
        var list = new List<CohortSummary>();
        foreach (var cohort in await cohorts.ListCohortsAsync(ct).ConfigureAwait(false))
        {
            int active = await cohorts.CountActiveContributionsAsync(cohort.CohortId, ct).ConfigureAwait(false);
            using var schema = JsonDocument.Parse(cohort.SchemaJson);
            list.Add(new CohortSummary(cohort.CohortId, cohort.State, schema.RootElement.Clone(), NoisySize(active),
                cohort.EpsilonBudget - cohort.EpsilonSpent, cohort.DeltaBudget - cohort.DeltaSpent));
        }

        return TypedResults.Ok(list);
    }

    private static async Task<IResult> CreateQuoteAsync(HttpContext http, QueryJobService queries, CancellationToken ct)
    {
        var (body, problem) = await ReadBodyAsync<CreateQuoteRequest>(http, ct).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        switch (body!.Kind)
        {
            case null or "" or "query":
                break;
            case "training":
                var cohortMissing = Missing(("cohortId", body.CohortId ?? (body.Training is { ValueKind: JsonValueKind.Object } t && t.TryGetProperty("cohortId", out var c) ? c.ToString() : null)));
                return cohortMissing ?? await TrainingJobApi.CreateQuoteAsync(http, body, Caller(http), ct).ConfigureAwait(false);
            default:
                return ApiProblems.BadRequest($"kind '{body.Kind}' is not \"query\" or \"training\".");
        }

        var missing = Missing(("cohortId", body.CohortId), ("query", body.Query));
        if (missing is not null)
        {
            return missing;
        }

        if (body.Epsilon is { } e && (!double.IsFinite(e) || e <= 0))
        {
            return ApiProblems.BadRequest("epsilon must be a positive finite number.");
        }

        var quote = await queries.QuoteAsync(Caller(http), new QuoteQueryRequest { CohortId = body.CohortId, Query = body.Query, Epsilon = body.Epsilon ?? 1.0 }, ct).ConfigureAwait(false);
        return TypedResults.Ok(new QuoteResponse(quote.QuoteId, quote.CohortId, quote.Query, quote.PriceMicros, quote.Epsilon, quote.Delta,
            DateTimeOffset.FromUnixTimeMilliseconds(quote.ExpiresUnixMs), quote.Groups, Mode: quote.Mode));
    }

    private static async Task<IResult> SubmitJobAsync(HttpContext http, QueryJobService queries, IQueryJobStore jobs, TimeProvider time, CancellationToken ct)
    {
        var (body, problem) = await ReadBodyAsync<SubmitJobRequest>(http, ct).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        string? header = http.Request.Headers["Idempotency-Key"].FirstOrDefault();
        string? key = string.IsNullOrEmpty(body!.IdempotencyKey) ? header : body.IdempotencyKey;
        if (!string.IsNullOrEmpty(header) && !string.IsNullOrEmpty(body.IdempotencyKey) && header != body.IdempotencyKey)
        {
            return ApiProblems.BadRequest("The Idempotency-Key header and the idempotencyKey field differ.");
        }

        if (!string.IsNullOrWhiteSpace(body.QuoteId)
            && await TrainingJobApi.FindQuoteAsync(http.RequestServices, body.QuoteId, ct).ConfigureAwait(false) is { } trainingQuote)
        {
            return await TrainingJobApi.SubmitAsync(http, body, trainingQuote, Caller(http), key, ct).ConfigureAwait(false);
        }

        var missing = Missing(("quoteId", body.QuoteId), ("cohortId", body.CohortId), ("query", body.Query), ("researcherPublicKey", body.ResearcherPublicKey));
        if (missing is not null)
        {
            return missing;
        }

        byte[] publicKey;
        try
        {
            publicKey = Convert.FromBase64String(body.ResearcherPublicKey!);
        }
        catch (FormatException)
        {
            return ApiProblems.BadRequest("researcherPublicKey is not valid base64.");
        }

        string caller = Caller(http);
        bool replay = false;
        if (!string.IsNullOrEmpty(key))
        {
            // the store answers a replayed (researcher, key) with the first job; find out whether it exists to answer 200
            replay = (await jobs.ListQueryJobsAsync(null, ct).ConfigureAwait(false)).Any(j => j.ResearcherId == caller && j.IdempotencyKey == key);
        }

        QueryJobStatus status;
        try
        {
            status = await queries.SubmitAsync(caller, new SubmitQueryRequest
            {
                QuoteId = body.QuoteId,
                CohortId = body.CohortId,
                Query = body.Query,
                ResearcherPublicKey = ByteString.CopyFrom(publicKey),
                IdempotencyKey = key ?? string.Empty,
            }, ct).ConfigureAwait(false);
        }
        catch (GrpcStatusException ex) when (ex.StatusCode == StatusCode.FailedPrecondition)
        {
            var quote = await jobs.GetQuoteAsync(body.QuoteId!, ct).ConfigureAwait(false);
            if (quote is not null && quote.ResearcherId == caller && quote.JobId is null && quote.ExpiresAt <= time.GetUtcNow())
            {
                return ApiProblems.Problem(StatusCodes.Status410Gone, ex.Detail);
            }

            throw;
        }

        var response = ToResponse(status);
        return replay ? TypedResults.Ok(response) : TypedResults.Created($"/api/jobs/{Uri.EscapeDataString(status.JobId)}", response);
    }

    private static async Task<IResult> GetJobAsync(string id, HttpContext http, QueryJobService queries, CancellationToken ct)
    {
        if (TrainingJobApi.IsTrainingJobId(id))
        {
            return await TrainingJobApi.GetAsync(http, id, Caller(http), IsOperator(http), ct).ConfigureAwait(false);
        }

        var status = await queries.GetAsync(id, Caller(http), IsOperator(http), ct).ConfigureAwait(false);
        var settlement = await DashboardApi.SettlementOfAsync(http.RequestServices, id, withShares: false, ct).ConfigureAwait(false);
        return TypedResults.Ok(ToResponse(status) with { Settlement = settlement });
    }

    private static async Task<IResult> GetResultAsync(string id, HttpContext http, QueryJobService queries, CancellationToken ct)
    {
        if (TrainingJobApi.IsTrainingJobId(id))
        {
            return await TrainingJobApi.ResultAsync(http, id, Caller(http), IsOperator(http), ct).ConfigureAwait(false);
        }

        var status = await queries.GetAsync(id, Caller(http), IsOperator(http), ct).ConfigureAwait(false);
        if (status.State != "completed")
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict, $"Query job '{id}' is {status.State}; the result is available once it is completed.");
        }

        int[] slots = [.. status.ReleasedSlots];
        bool json = http.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase));
        if (json)
        {
            return TypedResults.Ok(new JobResultResponse(status.JobId, Convert.ToBase64String(status.Result.Span), slots));
        }

        http.Response.Headers[ReleasedSlotsHeader] = string.Join(',', slots.Select(s => s.ToString(CultureInfo.InvariantCulture)));
        return TypedResults.File(status.Result.ToByteArray(), "application/octet-stream");
    }

    private static async Task<IResult> CancelJobAsync(string id, HttpContext http, QueryJobService queries, CancellationToken ct)
    {
        if (TrainingJobApi.IsTrainingJobId(id))
        {
            return await TrainingJobApi.CancelAsync(http, id, Caller(http), IsOperator(http), ct).ConfigureAwait(false);
        }

        var status = await queries.CancelAsync(id, Caller(http), IsOperator(http), ct).ConfigureAwait(false);
        return TypedResults.Ok(ToResponse(status));
    }

    private static JobResponse ToResponse(QueryJobStatus s) =>
        new(s.JobId, s.State, s.Message, s.Query, [.. s.ReleasedSlots], s.SuppressedGroups, s.CountSigma, s.StatisticsSigma,
            s.Mode, string.IsNullOrEmpty(s.CollectionJobId) ? null : s.CollectionJobId, s.Contributors);

    private static string Caller(HttpContext http) => http.User.FindFirst(AuthClaimTypes.Subject)!.Value;

    private static bool IsOperator(HttpContext http) => http.User.HasClaim(AuthClaimTypes.Role, Roles.Operator);

    private static IResult? Missing(params (string Name, string? Value)[] fields)
    {
        var missing = fields.Where(f => string.IsNullOrWhiteSpace(f.Value)).Select(f => f.Name).ToList();
        return missing.Count == 0 ? null : ApiProblems.BadRequest($"Missing required field(s): {string.Join(", ", missing)}.");
    }

    private static async Task<(T? Body, IResult? Problem)> ReadBodyAsync<T>(HttpContext http, CancellationToken ct)
        where T : class
    {
        if (!http.Request.HasJsonContentType())
        {
            return (null, ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, "The request body must be application/json."));
        }

        try
        {
            var options = http.RequestServices.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;
            var body = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, options, ct).ConfigureAwait(false);
            return body is null ? (null, ApiProblems.BadRequest("The request body is empty.")) : (body, null);
        }
        catch (JsonException ex)
        {
            return (null, ApiProblems.BadRequest($"The request body is not valid JSON for this endpoint (at {ex.Path ?? "$"}, line {(ex.LineNumber ?? 0) + 1})."));
        }
    }
}
