using System.Numerics;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Settlement;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Api;

/// <summary>
/// The dashboard: a static page embedded in this assembly (<c>GET /dashboard</c>, <c>/dashboard/app.js</c>,
/// <c>/dashboard/style.css</c>) and the read-only endpoints it needs beside the job API: the job list, custodians,
/// settlements and a participant's earnings (docs/dashboard.md).
/// </summary>
public static class DashboardApi
{
    /// <summary>Operators only.</summary>
    public const string OperatorPolicy = "api-operator";

    /// <summary>Participants (for themselves; checked by the endpoint) and operators.</summary>
    public const string EarningsPolicy = "api-earnings";

    private const string ResourcePrefix = "PrivateHealth.Coordinator.Dashboard.";

    /// <summary>What the page may load: only itself, no inline script, no other origin (no CDN).</summary>
    internal const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly Dictionary<string, (string Resource, string ContentType)> Files = new(StringComparer.Ordinal)
    {
        ["/dashboard"] = ("index.html", "text/html; charset=utf-8"), // also answers /dashboard/ (routing ignores a trailing slash)
        ["/dashboard/app.js"] = ("app.js", "text/javascript; charset=utf-8"),
        ["/dashboard/style.css"] = ("style.css", "text/css; charset=utf-8"),
    };

    /// <summary>Registers the operator and earnings policies.</summary>
    public static IServiceCollection AddDashboardApi(this IServiceCollection services)
    {
        services.AddAuthorizationBuilder()
            .AddPolicy(OperatorPolicy, p => p.AddAuthenticationSchemes(PrivateHealthAuthenticationExtensions.Scheme)
                .RequireClaim(AuthClaimTypes.Subject).RequireClaim(AuthClaimTypes.Role, Roles.Operator))
            .AddPolicy(EarningsPolicy, p => p.AddAuthenticationSchemes(PrivateHealthAuthenticationExtensions.Scheme)
                .RequireClaim(AuthClaimTypes.Subject).RequireClaim(AuthClaimTypes.Role, Roles.Participant, Roles.Operator));
        return services;
    }

    /// <summary>Maps the dashboard's files and its four endpoints under <c>/api</c>.</summary>
    public static IEndpointRouteBuilder MapDashboardApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        foreach (var (path, (resource, contentType)) in Files)
        {
            app.MapGet(path, (HttpContext http) => ServeAsync(http, resource, contentType)).ExcludeFromDescription();
        }

        var api = app.MapGroup("/api").WithTags("Dashboard");
        api.AddEndpointFilter(JobApiEndpoints.ProblemFilterAsync);

        api.MapGet("/jobs", ListJobsAsync)
            .RequireAuthorization(JobApiEndpoints.ReaderPolicy)
            .WithName("ListJobs")
            .WithSummary("Lists query and training jobs, newest first: operators all, researchers their own.")
            .WithDescription("Each job has its id, kind (\"query\", \"training\", or \"collection\" for a federated query's collection job, " +
                "which only operators see), state, message, cohort, creation and update times, the researcher who bought it, rounds (training) " +
                "and whether it was paid. A researcher's training jobs are those it created through `POST /api/jobs`.")
            .Produces<JobSummary[]>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        api.MapGet("/custodians", ListCustodians)
            .RequireAuthorization(OperatorPolicy)
            .WithName("ListCustodians")
            .WithSummary("The registered custodians and which are online (operators only).")
            .WithDescription("A custodian is online while its task stream (`CustodianProtocol.WatchTasks`) is open.")
            .Produces<CustodiansResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        api.MapGet("/settlements", ListSettlementsAsync)
            .RequireAuthorization(OperatorPolicy)
            .WithName("ListSettlements")
            .WithSummary("Every paid job's settlement: steps with transaction hashes, escrow, fee, payout and each contributor's share (operators only).")
            .WithDescription("Amounts are wei as decimal strings; prices micro-units. With settlement off (`Coordinator:Chain:Enabled` false) " +
                "`enabled` is false and every paid job's status is \"off\". A researcher sees the same section, without the shares, " +
                "as `settlement` in `GET /api/jobs/{id}` of its own jobs.")
            .Produces<SettlementsResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        api.MapGet("/participants/{id}/earnings", EarningsAsync)
            .RequireAuthorization(EarningsPolicy)
            .WithName("GetEarnings")
            .WithSummary("A participant's finalized payouts with their proofs and whether they were claimed.")
            .WithDescription("A participant may read only its own earnings (another id: 403); an operator any participant's " +
                "(404 for an id that has neither a payout address nor a payout). Amounts are wei as decimal strings. " +
                "503 when the chain cannot be read.")
            .Produces<EarningsResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    /// <summary>The settlement section of a job (researchers: without the per-contributor shares).</summary>
    internal static async Task<JobSettlement> SettlementOfAsync(IServiceProvider services, string jobId, bool withShares, CancellationToken ct)
    {
        long? price = await PriceOfAsync(services, jobId, ct).ConfigureAwait(false);
        return await SettlementOfAsync(services.GetRequiredService<SettlementService>(), jobId, price, withShares, ct).ConfigureAwait(false);
    }

    private static async Task<JobSettlement> SettlementOfAsync(SettlementService settlement, string jobId, long? price, bool withShares, CancellationToken ct)
    {
        bool paid = price is not null;
        if (!settlement.Enabled || !paid)
        {
            return new JobSettlement(settlement.Enabled, paid, price, settlement.Enabled ? "unpaid" : "off", [], null);
        }

        var steps = await settlement.StepsAsync(jobId, ct).ConfigureAwait(false);
        var payout = await settlement.PayoutOfAsync(jobId, ct).ConfigureAwait(false);
        var names = steps.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        string status = names.Contains("refunded") ? "refunded"
            : names.Contains("closed") ? "closed"
            : names.Contains("claims") ? "claimed"
            : names.Contains("finalize") ? "finalized"
            : names.Contains("commit") ? "committed"
            : names.Contains("escrow") ? "escrowed"
            : "awaiting-payment";
        var summary = payout is null ? null : new PayoutSummary(payout.Root, payout.Escrowed, payout.OperatorFee, payout.TotalPayout,
            payout.Entries.Count, payout.Unpaid.Count,
            withShares ? [.. payout.Entries.Select(e => new PayoutShare(e.ParticipantId, e.Address, e.Amount, e.Weight))] : null);
        return new JobSettlement(true, true, price, status, [.. steps.Select(s => new SettlementStepResponse(s.Name, s.Transaction, s.At, s.Details))], summary);
    }

    /// <summary>The quoted price of a paid job; null when it was not bought with a quote.</summary>
    private static async Task<long?> PriceOfAsync(IServiceProvider services, string jobId, CancellationToken ct)
    {
        var queries = services.GetRequiredService<IQueryJobStore>();
        var store = services.GetRequiredService<ICoordinatorStore>();
        if (TrainingJobApi.IsTrainingJobId(jobId))
        {
            var job = await store.GetJobAsync(jobId, ct).ConfigureAwait(false);
            if (job is null)
            {
                return null;
            }

            var spec = TrainingJobSpec.Parser.ParseFrom(job.Spec);
            return string.IsNullOrEmpty(spec.QuoteId) ? null
                : (await TrainingJobApi.FindQuoteAsync(store, queries, spec.QuoteId, ct).ConfigureAwait(false))?.PriceMicros;
        }

        var query = await queries.GetQueryJobAsync(jobId, ct).ConfigureAwait(false);
        return query is null ? null : (await queries.GetQuoteAsync(query.QuoteId, ct).ConfigureAwait(false))?.PriceMicros;
    }

    private static async Task ServeAsync(HttpContext http, string resource, string contentType)
    {
        await using var stream = typeof(DashboardApi).Assembly.GetManifestResourceStream(ResourcePrefix + resource);
        if (stream is null)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        http.Response.ContentType = contentType;
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        http.Response.ContentLength = stream.Length;
        await stream.CopyToAsync(http.Response.Body, http.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<IResult> ListJobsAsync(HttpContext http, IQueryJobStore queries, ICoordinatorStore store, CancellationToken ct)
    {
        string caller = Caller(http);
        bool isOperator = IsOperator(http);
        var list = new List<JobSummary>();
        foreach (var q in await queries.ListQueryJobsAsync(null, ct).ConfigureAwait(false))
        {
            if (isOperator || q.ResearcherId == caller)
            {
                list.Add(new JobSummary(q.JobId, "query", q.State, q.Message ?? string.Empty, q.CohortId, q.CreatedAt, q.UpdatedAt, q.ResearcherId, Paid: true));
            }
        }

        foreach (var job in await store.ListJobsAsync(ct).ConfigureAwait(false))
        {
            string? researcher = await TrainingJobApi.ResearcherOfAsync(store, job.JobId, ct).ConfigureAwait(false);
            if (!isOperator && researcher != caller)
            {
                continue;
            }

            var spec = TrainingJobSpec.Parser.ParseFrom(job.Spec);
            string kind = spec.FederatedQuery is not null ? "collection" : "training";
            list.Add(new JobSummary(job.JobId, kind, job.State.ToString().ToLowerInvariant(), job.Message ?? string.Empty, spec.CohortId,
                job.CreatedAt, job.UpdatedAt, researcher, job.CurrentRound, spec.Rounds, !string.IsNullOrEmpty(spec.QuoteId)));
        }

        return TypedResults.Ok(list.OrderByDescending(j => j.CreatedAt).ThenBy(j => j.JobId, StringComparer.Ordinal).ToArray());
    }

    private static async Task<IResult> ListCustodians(ICoordinatorStore store, PresenceTracker presence, CancellationToken ct)
    {
        var online = presence.OnlineCustodians.ToHashSet();
        var registered = await store.ListCustodiansAsync(ct).ConfigureAwait(false);
        var custodians = registered.OrderBy(c => c.Party).ThenBy(c => c.CustodianId, StringComparer.Ordinal)
            .Select(c => new CustodianSummary(c.CustodianId, c.Party, online.Contains(c.Party), c.RegisteredAt)).ToArray();
        return TypedResults.Ok(new CustodiansResponse(online.Count, custodians.Length, [.. online.Order()], custodians));
    }

    private static async Task<IResult> ListSettlementsAsync(SettlementService settlement, CancellationToken ct)
    {
        var list = new List<(DateTimeOffset Order, SettlementSummary Summary)>();
        foreach (var job in await settlement.PaidJobsAsync(ct).ConfigureAwait(false))
        {
            var section = await SettlementOfAsync(settlement, job.JobId, job.PriceMicros, withShares: true, ct).ConfigureAwait(false);
            var at = section.Steps.Length > 0 ? section.Steps[^1].At : DateTimeOffset.MinValue;
            list.Add((at, new SettlementSummary(job.JobId, job.Kind, job.State, section)));
        }

        return TypedResults.Ok(new SettlementsResponse(settlement.Enabled, [.. list.OrderByDescending(x => x.Order).Select(x => x.Summary)]));
    }

    private static async Task<IResult> EarningsAsync(string id, HttpContext http, SettlementService settlement, CancellationToken ct)
    {
        bool isOperator = IsOperator(http);
        if (!isOperator && id != Caller(http))
        {
            return ApiProblems.Problem(StatusCodes.Status403Forbidden, "A participant may read only its own earnings.");
        }

        if (isOperator && !await IsKnownParticipantAsync(settlement, id, ct).ConfigureAwait(false))
        {
            return ApiProblems.Problem(StatusCodes.Status404NotFound, $"Participant '{id}' has no payout address and no payout.");
        }

        EarningsReply reply;
        try
        {
            reply = await settlement.EarningsAsync(id, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or PrivateHealth.Ethereum.RpcTransportException or PrivateHealth.Ethereum.RpcException or TimeoutException)
        {
            return ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, "The chain cannot be read right now; try again later.");
        }

        var earnings = reply.Earnings.Select(e => new EarningResponse(e.JobId, e.ChainJobId, e.Amount, e.Claimed, e.PayoutAddress, e.Root, e.Distributor, e.ChainId, [.. e.Proof])).ToArray();
        var total = earnings.Aggregate(BigInteger.Zero, (sum, e) => sum + BigInteger.Parse(e.Amount, System.Globalization.CultureInfo.InvariantCulture));
        var unclaimed = earnings.Where(e => !e.Claimed).Aggregate(BigInteger.Zero, (sum, e) => sum + BigInteger.Parse(e.Amount, System.Globalization.CultureInfo.InvariantCulture));
        return TypedResults.Ok(new EarningsResponse(id, settlement.Enabled, string.IsNullOrEmpty(reply.PayoutAddress) ? null : reply.PayoutAddress,
            total.ToString(System.Globalization.CultureInfo.InvariantCulture), unclaimed.ToString(System.Globalization.CultureInfo.InvariantCulture), earnings));
    }

    /// <summary>A participant the settlement knows: it registered a payout address, or is in (or left out of) a payout.</summary>
    private static async Task<bool> IsKnownParticipantAsync(SettlementService settlement, string id, CancellationToken ct)
    {
        if (await settlement.PayoutAddressAsync(id, ct).ConfigureAwait(false) is not null)
        {
            return true;
        }

        foreach (var job in await settlement.PaidJobsAsync(ct).ConfigureAwait(false))
        {
            if (await settlement.PayoutOfAsync(job.JobId, ct).ConfigureAwait(false) is { } payout
                && (payout.Entries.Any(e => e.ParticipantId == id) || payout.Unpaid.Contains(id, StringComparer.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }

    private static string Caller(HttpContext http) => http.User.FindFirst(AuthClaimTypes.Subject)!.Value;

    private static bool IsOperator(HttpContext http) => http.User.HasClaim(AuthClaimTypes.Role, Roles.Operator);

    /// <summary>For tests: the embedded file names.</summary>
    internal static IReadOnlyList<string> EmbeddedFiles() =>
        [.. Assembly.GetExecutingAssembly().GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Select(n => n[ResourcePrefix.Length..])];
}
