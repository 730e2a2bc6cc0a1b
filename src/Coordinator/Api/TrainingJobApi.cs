using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Analytics;
using PrivateHealth.Coordinator.Services;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Coordinator.Training;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Api;

/// <summary>
/// Training jobs over the REST job API: quotes of kind "training", jobs created from them through
/// <see cref="TrainingService"/>, and their status, result and cancellation.
/// </summary>
/// <remarks>
/// Bookkeeping lives in write-once artifacts of <see cref="ICoordinatorStore"/>: <c>quote:{quoteId}</c>/<c>job</c> (the job that
/// used the quote; first write wins), <c>quote:{quoteId}</c>/<c>key-set</c>, <c>training-job:{jobId}</c>/<c>researcher</c> and
/// <c>training-job:{jobId}</c>/<c>quote</c>. The quotes table references analytics cohorts, so a training quote for an enrollment
/// cohort that is not an analytics cohort is kept as the artifact <c>training-quote:{quoteId}</c>/<c>quote</c> instead.
/// </remarks>
internal static class TrainingJobApi
{
    /// <summary>Price = <see cref="BasePrice"/> + <see cref="PricePerRound"/> × rounds + <see cref="PricePerParticipant"/> × minParticipants (micro-units).</summary>
    public const long BasePrice = 2_000_000;

    public const long PricePerRound = 100_000;

    public const long PricePerParticipant = 250_000;

    /// <summary>δ of a DP training job (ε is reported for this δ).</summary>
    public const double DpDelta = 1e-5;

    private static readonly JsonFormatter Canonical = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    public static bool IsTrainingJobId(string id) => id.StartsWith("job-", StringComparison.Ordinal);

    public static long Price(TrainingJobSpec spec) => BasePrice + (PricePerRound * spec.Rounds) + (PricePerParticipant * spec.MinParticipants);

    /// <summary>
    /// ε of the Gaussian mechanism over all rounds without subsampling amplification (conservative): zCDP ρ = rounds / (2σ²),
    /// ε = ρ + 2√(ρ ln(1/δ)); 0 when the spec adds no DP noise.
    /// </summary>
    public static double Epsilon(TrainingJobSpec spec)
    {
        if (!(spec.DpNoiseMultiplier > 0))
        {
            return 0;
        }

        double rho = spec.Rounds / (2 * spec.DpNoiseMultiplier * spec.DpNoiseMultiplier);
        return rho + (2 * Math.Sqrt(rho * Math.Log(1 / DpDelta)));
    }

    public static async Task<IResult> CreateQuoteAsync(HttpContext http, CreateQuoteRequest body, string caller, CancellationToken ct)
    {
        var services = http.RequestServices;
        var store = services.GetRequiredService<ICoordinatorStore>();
        if (body.Training is not { ValueKind: JsonValueKind.Object } training)
        {
            return ApiProblems.BadRequest("Missing required field(s): training (an object with the training job spec).");
        }

        if (string.IsNullOrWhiteSpace(body.KeySetId))
        {
            return ApiProblems.BadRequest("Missing required field(s): keySetId.");
        }

        TrainingJobSpec parsed;
        try
        {
            parsed = Parser.Parse<TrainingJobSpec>(training.GetRawText());
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            return ApiProblems.BadRequest($"training is not a valid training job spec: {ex.Message}");
        }

        if (!string.IsNullOrEmpty(parsed.JobId))
        {
            return ApiProblems.BadRequest("training.jobId is assigned by the coordinator and may not be given.");
        }

        if (!string.IsNullOrEmpty(body.CohortId) && !string.IsNullOrEmpty(parsed.CohortId) && body.CohortId != parsed.CohortId)
        {
            return ApiProblems.BadRequest($"cohortId '{body.CohortId}' differs from training.cohortId '{parsed.CohortId}'.");
        }

        if (string.IsNullOrEmpty(parsed.CohortId))
        {
            parsed.CohortId = body.CohortId ?? string.Empty;
        }

        var spec = parsed.WithDefaults();
        var problems = spec.Problems();
        if (problems.Count > 0)
        {
            return TypedResults.Problem(
                detail: "Invalid training job: " + string.Join(" ", problems),
                statusCode: StatusCodes.Status400BadRequest,
                extensions: new Dictionary<string, object?> { ["problems"] = problems.ToArray() });
        }

        var keySet = await store.GetKeySetAsync(body.KeySetId, ct).ConfigureAwait(false);
        if (keySet is null)
        {
            return ApiProblems.Problem(StatusCodes.Status404NotFound, $"Key set '{body.KeySetId}' not found.");
        }

        if (keySet.State == "failed")
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict, $"Key set '{body.KeySetId}' failed: {keySet.Message}");
        }

        var time = services.GetRequiredService<TimeProvider>();
        var now = time.GetUtcNow();
        double epsilon = Epsilon(spec);
        var quote = new QuoteRecord
        {
            QuoteId = "q-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6)),
            CohortId = spec.CohortId,
            ResearcherId = caller,
            Kind = "training",
            Request = Canonical.Format(spec),
            Epsilon = epsilon,
            Delta = epsilon > 0 ? DpDelta : 0,
            PriceMicros = Price(spec),
            CreatedAt = now,
            ExpiresAt = now + QueryJobService.QuoteLifetime,
        };
        await store.PutArtifactAsync(QuoteScope(quote.QuoteId), "key-set", Encoding.UTF8.GetBytes(body.KeySetId), ct).ConfigureAwait(false);
        if (await services.GetRequiredService<ICohortStore>().GetCohortAsync(spec.CohortId, ct).ConfigureAwait(false) is not null)
        {
            await services.GetRequiredService<IQueryJobStore>().CreateQuoteAsync(quote, ct).ConfigureAwait(false);
        }
        else
        {
            await store.PutArtifactAsync("training-quote:" + quote.QuoteId, "quote", JsonSerializer.SerializeToUtf8Bytes(quote), ct).ConfigureAwait(false);
        }

        using var specJson = JsonDocument.Parse(quote.Request);
        return TypedResults.Ok(new QuoteResponse(quote.QuoteId, quote.CohortId, string.Empty, quote.PriceMicros, quote.Epsilon, quote.Delta,
            quote.ExpiresAt, 0, "training", specJson.RootElement.Clone(), body.KeySetId));
    }

    /// <summary>The training quote with this id (null when there is none, or it is a query quote).</summary>
    public static Task<QuoteRecord?> FindQuoteAsync(IServiceProvider services, string quoteId, CancellationToken ct) =>
        FindQuoteAsync(services.GetRequiredService<ICoordinatorStore>(), services.GetRequiredService<IQueryJobStore>(), quoteId, ct);

    /// <summary>The training quote with this id (null when there is none, or it is a query quote).</summary>
    public static async Task<QuoteRecord?> FindQuoteAsync(ICoordinatorStore store, IQueryJobStore jobs, string quoteId, CancellationToken ct)
    {
        var quote = await jobs.GetQuoteAsync(quoteId, ct).ConfigureAwait(false);
        if (quote is not null)
        {
            return quote.Kind == "training" ? quote : null;
        }

        var bytes = await store.GetArtifactAsync("training-quote:" + quoteId, "quote", ct).ConfigureAwait(false);
        return bytes is null ? null : JsonSerializer.Deserialize<QuoteRecord>(bytes);
    }

    public static async Task<IResult> SubmitAsync(HttpContext http, SubmitJobRequest body, QuoteRecord quote, string caller, string? key, CancellationToken ct)
    {
        var services = http.RequestServices;
        var store = services.GetRequiredService<ICoordinatorStore>();
        var training = services.GetRequiredService<TrainingService>();
        if (quote.ResearcherId != caller)
        {
            return ApiProblems.Problem(StatusCodes.Status404NotFound, $"Quote '{quote.QuoteId}' not found.");
        }

        if (!string.IsNullOrEmpty(body.CohortId) && body.CohortId != quote.CohortId)
        {
            return ApiProblems.BadRequest($"Quote '{quote.QuoteId}' is for cohort '{quote.CohortId}', not '{body.CohortId}'.");
        }

        // the idempotency key is scoped to the researcher and the quote so that keys never collide across callers
        string? scopedKey = string.IsNullOrEmpty(key) ? null : $"api:{caller}:{quote.QuoteId}:{key}";
        string? used = await UsedByAsync(store, quote.QuoteId, ct).ConfigureAwait(false);
        if (used is not null)
        {
            var existing = await store.GetJobAsync(used, ct).ConfigureAwait(false);
            if (scopedKey is not null && existing?.IdempotencyKey == scopedKey)
            {
                return TypedResults.Ok(await StatusAsync(store, used, ct).ConfigureAwait(false));
            }

            return ApiProblems.Problem(StatusCodes.Status409Conflict, $"Quote '{quote.QuoteId}' was already used by job '{used}'.");
        }

        if (quote.ExpiresAt <= services.GetRequiredService<TimeProvider>().GetUtcNow())
        {
            return ApiProblems.Problem(StatusCodes.Status410Gone, $"Quote '{quote.QuoteId}' expired at {quote.ExpiresAt:O}.");
        }

        var keySet = await store.GetArtifactAsync(QuoteScope(quote.QuoteId), "key-set", ct).ConfigureAwait(false);
        if (keySet is null)
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict, $"Quote '{quote.QuoteId}' has no key set.");
        }

        var spec = Parser.Parse<TrainingJobSpec>(quote.Request);
        spec.QuoteId = quote.QuoteId;
        JobRecord job;
        try
        {
            job = await training.CreateJobAsync(spec, Encoding.UTF8.GetString(keySet), scopedKey, ct).ConfigureAwait(false);
        }
        catch (KeyNotFoundException ex)
        {
            return ApiProblems.Problem(StatusCodes.Status404NotFound, ex.Message);
        }
        catch (ArgumentException ex)
        {
            return ApiProblems.BadRequest(ex.Message);
        }

        await store.PutArtifactAsync(JobScope(job.JobId), "researcher", Encoding.UTF8.GetBytes(caller), ct).ConfigureAwait(false);
        await store.PutArtifactAsync(JobScope(job.JobId), "quote", Encoding.UTF8.GetBytes(quote.QuoteId), ct).ConfigureAwait(false);
        if (!await store.PutArtifactAsync(QuoteScope(quote.QuoteId), "job", Encoding.UTF8.GetBytes(job.JobId), ct).ConfigureAwait(false))
        {
            used = await UsedByAsync(store, quote.QuoteId, ct).ConfigureAwait(false);
            if (used != job.JobId)
            {
                // lost a race for the quote: withdraw the job just created
                await training.CancelAsync(job.JobId, ct).ConfigureAwait(false);
                return ApiProblems.Problem(StatusCodes.Status409Conflict, $"Quote '{quote.QuoteId}' was already used by job '{used}'.");
            }

            return TypedResults.Ok(await StatusAsync(store, job.JobId, ct).ConfigureAwait(false));
        }

        return TypedResults.Created($"/api/jobs/{Uri.EscapeDataString(job.JobId)}", await StatusAsync(store, job.JobId, ct).ConfigureAwait(false));
    }

    public static async Task<IResult> GetAsync(HttpContext http, string id, string caller, bool isOperator, CancellationToken ct)
    {
        var store = http.RequestServices.GetRequiredService<ICoordinatorStore>();
        if (!await VisibleAsync(store, id, caller, isOperator, ct).ConfigureAwait(false))
        {
            return NotFound(id);
        }

        var settlement = await DashboardApi.SettlementOfAsync(http.RequestServices, id, withShares: false, ct).ConfigureAwait(false);
        return TypedResults.Ok(await StatusAsync(store, id, ct).ConfigureAwait(false) with { Settlement = settlement });
    }

    /// <summary>The researcher who created a training job through this API (null for jobs of the operator's gRPC API).</summary>
    public static async Task<string?> ResearcherOfAsync(ICoordinatorStore store, string jobId, CancellationToken ct) =>
        await store.GetArtifactAsync(JobScope(jobId), "researcher", ct).ConfigureAwait(false) is { } owner ? Encoding.UTF8.GetString(owner) : null;

    public static async Task<IResult> ResultAsync(HttpContext http, string id, string caller, bool isOperator, CancellationToken ct)
    {
        var store = http.RequestServices.GetRequiredService<ICoordinatorStore>();
        if (!await VisibleAsync(store, id, caller, isOperator, ct).ConfigureAwait(false))
        {
            return NotFound(id);
        }

        var job = (await store.GetJobAsync(id, ct).ConfigureAwait(false))!;
        if (job.State != JobState.Completed)
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict,
                $"Training job '{id}' is {job.State.ToString().ToLowerInvariant()}; the model is available once it is completed.");
        }

        var spec = TrainingJobSpec.Parser.ParseFrom(job.Spec);
        return TypedResults.Ok(new TrainingResultResponse(job.JobId, spec.Model, spec.Features, spec.Classes, job.GlobalModel));
    }

    public static async Task<IResult> CancelAsync(HttpContext http, string id, string caller, bool isOperator, CancellationToken ct)
    {
        var store = http.RequestServices.GetRequiredService<ICoordinatorStore>();
        if (!await VisibleAsync(store, id, caller, isOperator, ct).ConfigureAwait(false))
        {
            return NotFound(id);
        }

        var before = (await store.GetJobAsync(id, ct).ConfigureAwait(false))!;
        if (before.State is JobState.Completed or JobState.Failed or JobState.Cancelled)
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict, $"Training job '{id}' is already {before.State.ToString().ToLowerInvariant()}.");
        }

        var after = await http.RequestServices.GetRequiredService<TrainingService>().CancelAsync(id, ct).ConfigureAwait(false);
        if (after.State != JobState.Cancelled)
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict, $"Training job '{id}' is already {after.State.ToString().ToLowerInvariant()}.");
        }

        return TypedResults.Ok(await StatusAsync(store, id, ct).ConfigureAwait(false));
    }

    private static string QuoteScope(string quoteId) => "quote:" + quoteId;

    private static string JobScope(string jobId) => "training-job:" + jobId;

    private static IResult NotFound(string id) => ApiProblems.Problem(StatusCodes.Status404NotFound, $"Job '{id}' not found.");

    private static async Task<string?> UsedByAsync(ICoordinatorStore store, string quoteId, CancellationToken ct)
    {
        var bytes = await store.GetArtifactAsync(QuoteScope(quoteId), "job", ct).ConfigureAwait(false);
        return bytes is null ? null : Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Operators see every training job; researchers only those they created over this API.</summary>
    private static async Task<bool> VisibleAsync(ICoordinatorStore store, string id, string caller, bool isOperator, CancellationToken ct)
    {
        if (await store.GetJobAsync(id, ct).ConfigureAwait(false) is null)
        {
            return false;
        }

        if (isOperator)
        {
            return true;
        }

        return await ResearcherOfAsync(store, id, ct).ConfigureAwait(false) == caller;
    }

    private static async Task<TrainingJobResponse> StatusAsync(ICoordinatorStore store, string jobId, CancellationToken ct)
    {
        var status = await JobStatusBuilder.BuildAsync(store, jobId, ct).ConfigureAwait(false);
        using var spec = JsonDocument.Parse(Canonical.Format(status.Spec));
        return new TrainingJobResponse(status.JobId, "training", status.State, status.Message, status.Spec.CohortId, status.CurrentRound, status.Rounds,
            spec.RootElement.Clone(),
            [.. status.History.Select(r => new TrainingRoundResponse(r.Round, r.State, r.Selected, r.Received, r.Bytes, r.TotalWeight, r.Extensions, r.Message,
                r.MetricExamples > 0 ? r.TrainLoss : null, r.MetricExamples > 0 && status.Spec.Model != "linear" ? r.TrainAccuracy : null))]);
    }
}
