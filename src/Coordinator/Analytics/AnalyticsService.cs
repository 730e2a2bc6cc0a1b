using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Analytics;

/// <summary>Wakes the fold when contributions arrive.</summary>
public sealed class CohortBoard
{
    public AsyncSignal Contributed { get; } = new();
}

/// <summary>
/// Analytics cohorts: creation against a ready key set, validated ingest of encrypted contributions into the
/// per-participant ledger (replacement and revocation subtract the old contribution exactly once), and the fold of
/// the ledger into the cohort's encrypted sum, saved by compare-and-set on a watermark so that a crash or a
/// concurrent fold never counts an event twice (docs/decisions/0012).
/// </summary>
public sealed class AnalyticsService(
    ICohortStore cohorts,
    ICoordinatorStore store,
    KeySetRegistry keys,
    CohortBoard board,
    CoordinatorMetrics metrics,
    TimeProvider time,
    IOptions<CoordinatorOptions> options,
    ILogger<AnalyticsService> logger,
    JobLeases leases)
{
    /// <summary>Parameter preset of analytics key sets (depth-1 query circuit, Δ = 2^70).</summary>
    public const string Preset = "AggregationLogN13LogQP216";

    private const int FoldPage = 256;

    /// <summary>Creates a cohort; <see cref="ArgumentException"/> lists what is wrong.</summary>
    public async Task<CohortRecord> CreateCohortAsync(string keySetId, string schemaJson, CancellationToken ct)
    {
        CohortSchema schema;
        try
        {
            schema = CohortSchema.Parse(schemaJson);
        }
        catch (SchemaException ex)
        {
            throw new ArgumentException("Invalid cohort schema: " + ex.Message, nameof(schemaJson), ex);
        }

        var ks = await store.GetKeySetAsync(keySetId, ct).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"Key set '{keySetId}' not found.");
        if (ks.Preset != Preset)
        {
            throw new ArgumentException($"Analytics cohorts need a key set of preset {Preset} (with power-of-two rotation keys); '{keySetId}' is {ks.Preset}.", nameof(keySetId));
        }

        var parameters = keys.Parameters(ks.Preset);
        _ = new AnalyticsCodec(parameters, new SlotLayout(schema)); // throws if the schema does not fit the slots
        var record = new CohortRecord
        {
            CohortId = schema.Id,
            KeySetId = keySetId,
            SchemaJson = schema.ToJson(),
            State = "open",
            EpsilonBudget = schema.Epsilon,
            DeltaBudget = schema.Delta,
            CreatedAt = time.GetUtcNow(),
        };
        try
        {
            await cohorts.CreateCohortAsync(record, ct).ConfigureAwait(false);
        }
        catch (StoreConflictException)
        {
            throw new InvalidOperationException($"Cohort '{schema.Id}' already exists.");
        }

        logger.LogInformation("Cohort {CohortId} created on key set {KeySetId}", schema.Id, keySetId);
        return (await cohorts.GetCohortAsync(schema.Id, ct).ConfigureAwait(false))!;
    }

    /// <summary>What an agent needs to contribute: schema, parameters, collective public key.</summary>
    public async Task<CohortInfo> GetCohortInfoAsync(string cohortId, CancellationToken ct)
    {
        var cohort = await RequireCohortAsync(cohortId, ct).ConfigureAwait(false);
        var material = await keys.GetReadyAsync(cohort.KeySetId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.Unavailable, "The cohort's key ceremony has not finished; retry later.");
        return new CohortInfo
        {
            CohortId = cohort.CohortId,
            SchemaJson = cohort.SchemaJson,
            Parameters = Google.Protobuf.ByteString.CopyFrom(material.ParametersBytes),
            ParametersId = material.Parameters.Id.ToString(),
            PublicKey = Google.Protobuf.ByteString.CopyFrom(material.PublicKeyBytes),
            KeySetId = cohort.KeySetId,
            State = cohort.State,
        };
    }

    /// <summary>Validates and records one contribution; refusals are <see cref="GrpcStatusException"/>s and store nothing.</summary>
    public async Task<ContributionReply> ContributeAsync(ContributionRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        long started = Stopwatch.GetTimestamp();
        var cohort = await RequireCohortAsync(request.CohortId, ct).ConfigureAwait(false);
        var material = await keys.GetReadyAsync(cohort.KeySetId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.FailedPrecondition, "The cohort's key set is not ready.");
        var p = material.Parameters;
        if (request.ParametersId.Length > 0 && !string.Equals(request.ParametersId, p.Id.ToString(), StringComparison.OrdinalIgnoreCase))
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, "The contribution is for other parameters than this cohort's.");
        }

        if (request.Ciphertext.Length > options.Value.MaxCiphertextBytes)
        {
            throw new GrpcStatusException(StatusCode.ResourceExhausted, $"The ciphertext is {request.Ciphertext.Length} bytes; the limit is {options.Value.MaxCiphertextBytes}.");
        }

        var bytes = request.Ciphertext.ToByteArray();
        Ciphertext ct0;
        try
        {
            ct0 = material.Serializer.DeserializeCiphertext(bytes);
        }
        catch (HomomorphicFormatException ex)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, $"The contribution is not a valid ciphertext for this cohort ({ex.Error}): {ex.Message}");
        }

        if (ct0.Size != 2 || ct0.Level != p.MaxLevel || Math.Abs((ct0.Scale / p.DefaultScale) - 1) > CkksEvaluator.ScaleTolerance)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, $"A contribution must be a fresh encryption (size 2, level {p.MaxLevel}, default scale); got size {ct0.Size}, level {ct0.Level}.");
        }

        string contentId = Convert.ToHexStringLower(CkksSerializer.ContentId(bytes));
        var outcome = await cohorts.AddContributionAsync(cohort.CohortId, request.ParticipantId, bytes, contentId, time.GetUtcNow(), ct).ConfigureAwait(false);
        metrics.UploadLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, new KeyValuePair<string, object?>("kind", "contribution"));
        switch (outcome)
        {
            case ContributionOutcome.Stored:
            case ContributionOutcome.Replaced:
                metrics.UploadsAccepted.Add(1, new KeyValuePair<string, object?>("kind", "contribution"));
                metrics.UploadBytes.Add(bytes.Length, new KeyValuePair<string, object?>("kind", "contribution"));
                board.Contributed.Pulse();
                return new ContributionReply
                {
                    Accepted = true,
                    Replaced = outcome == ContributionOutcome.Replaced,
                    ContentId = contentId,
                    Message = outcome == ContributionOutcome.Replaced ? "stored; the earlier contribution is subtracted once" : "stored",
                };
            case ContributionOutcome.Duplicate:
                return new ContributionReply { Accepted = true, Duplicate = true, ContentId = contentId, Message = "already received; counted once" };
            case ContributionOutcome.CohortClosed:
                throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Cohort '{cohort.CohortId}' is closed.");
            default:
                throw new GrpcStatusException(StatusCode.NotFound, $"Cohort '{request.CohortId}' not found.");
        }
    }

    /// <summary>Withdraws the participant's contribution (subtracted exactly once by the fold).</summary>
    public async Task<RevokeContributionReply> RevokeAsync(RevokeContributionRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        await RequireCohortAsync(request.CohortId, ct).ConfigureAwait(false);
        bool revoked = await cohorts.RevokeContributionAsync(request.CohortId, request.ParticipantId, time.GetUtcNow(), ct).ConfigureAwait(false);
        if (revoked)
        {
            board.Contributed.Pulse();
        }

        return new RevokeContributionReply { Revoked = revoked, Message = revoked ? "revoked; it is subtracted from the cohort once" : "no active contribution" };
    }

    /// <summary>Folds every cohort's new ledger events into its encrypted sum.</summary>
    public async Task FoldAllAsync(CancellationToken ct)
    {
        foreach (var cohort in await cohorts.ListCohortsAsync(ct).ConfigureAwait(false))
        {
            using var lease = (await leases.TryAcquireAsync("cohort:" + cohort.CohortId, ct).ConfigureAwait(false))?.Enter();
            if (lease is not null)
            {
                try
                {
                    await FoldAsync(cohort, ct).ConfigureAwait(false);
                }
                catch (LeaseLostException ex)
                {
                    logger.LogWarning("Stopped folding cohort {CohortId}: {Reason}", cohort.CohortId, ex.Message);
                }
            }
        }
    }

    /// <summary>
    /// Folds the events after the aggregate's watermark, a page at a time; each page is saved by compare-and-set (a
    /// concurrent or repeated fold loses the race and changes nothing, and the fold goes on from the stored watermark).
    /// </summary>
    /// <exception cref="LeaseLostException">A save was refused although no other fold was saved: the store fence of
    /// this flow (the lease of the cohort or of the query job being stepped) no longer holds, so no save would succeed.</exception>
    public async Task<CohortAggregateRecord?> FoldAsync(CohortRecord cohort, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        var material = await keys.GetReadyAsync(cohort.KeySetId, ct).ConfigureAwait(false);
        if (material is null)
        {
            return null;
        }

        var evaluator = new CkksEvaluator(material.Parameters);
        while (true)
        {
            var current = await cohorts.GetCohortAggregateAsync(cohort.CohortId, ct).ConfigureAwait(false);
            long after = current?.ThroughSequence ?? 0;
            var events = await cohorts.ListContributionEventsAsync(cohort.CohortId, after, FoldPage, ct).ConfigureAwait(false);
            if (events.Count == 0)
            {
                return current;
            }

            Ciphertext? sum = current?.Ciphertext is { } existing ? material.Serializer.DeserializeCiphertext(existing) : null;
            int contributors = current?.Contributors ?? 0;
            foreach (var e in events)
            {
                var c = material.Serializer.DeserializeCiphertext(e.Ciphertext);
                if (e.Kind == ContributionEventKind.Add)
                {
                    if (sum is null)
                    {
                        sum = c;
                    }
                    else
                    {
                        evaluator.AddInPlace(sum, c);
                    }

                    contributors++;
                }
                else
                {
                    sum = sum is null ? evaluator.Negate(c) : evaluator.Sub(sum, c);
                    contributors--;
                }
            }

            var saved = await cohorts.SaveCohortAggregateAsync(new CohortAggregateRecord
            {
                CohortId = cohort.CohortId,
                Ciphertext = sum is null ? null : material.Serializer.Serialize(sum),
                Contributors = contributors,
                ThroughSequence = events[^1].Sequence,
                Version = current?.Version ?? 0,
            }, ct).ConfigureAwait(false);
            if (saved is null)
            {
                // a lost race moved the stored fold on; a refusal that moved nothing is the fence: the lease is gone
                var stored = await cohorts.GetCohortAggregateAsync(cohort.CohortId, ct).ConfigureAwait(false);
                if ((stored?.Version ?? 0) == (current?.Version ?? 0))
                {
                    throw new LeaseLostException($"The fold of cohort {cohort.CohortId} was refused without another fold being saved: this step's lease is no longer held.");
                }

                logger.LogDebug("Fold of cohort {CohortId} lost a race; retrying from the stored watermark", cohort.CohortId);
            }
        }
    }

    /// <summary>Operator view of a cohort.</summary>
    public async Task<CohortStatus> StatusAsync(string cohortId, CancellationToken ct)
    {
        var cohort = await RequireCohortAsync(cohortId, ct).ConfigureAwait(false);
        var aggregate = await cohorts.GetCohortAggregateAsync(cohortId, ct).ConfigureAwait(false);
        return new CohortStatus
        {
            CohortId = cohort.CohortId,
            State = cohort.State,
            ActiveContributions = await cohorts.CountActiveContributionsAsync(cohortId, ct).ConfigureAwait(false),
            FoldedContributions = aggregate?.Contributors ?? 0,
            FoldedThrough = aggregate?.ThroughSequence ?? 0,
            EpsilonRemaining = cohort.EpsilonBudget - cohort.EpsilonSpent,
            DeltaRemaining = cohort.DeltaBudget - cohort.DeltaSpent,
            KeySetId = cohort.KeySetId,
        };
    }

    private async Task<CohortRecord> RequireCohortAsync(string cohortId, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(cohortId))
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, "cohort_id is required.");
        }

        return await cohorts.GetCohortAsync(cohortId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.NotFound, $"Cohort '{cohortId}' not found.");
    }
}
