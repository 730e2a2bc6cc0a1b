using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Coordinator.Training;
using PrivateHealth.EncryptedQuery.Federated;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Release;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Analytics;

/// <summary>Working data of a query job (JSON in <see cref="QueryJobRecord.Data"/>).</summary>
internal sealed record QueryJobData
{
    public bool BudgetSpent { get; init; }
    public int[]? Active { get; init; }
    public string[]? Sessions { get; init; }
    public double FloodingSigma { get; init; }
    public double FloodingBound { get; init; }
    public double PrecisionBits { get; init; }
    public double CountSigma { get; init; }
    public double StatisticsSigma { get; init; }
    public int[]? ReleasedSlots { get; init; }
    public int Suppressed { get; init; }
    public DateTimeOffset? TasksAt { get; init; }
    /// <summary>"schema" or "federated".</summary>
    public string Mode { get; init; } = "schema";
    /// <summary>Federated mode: the collection job whose single round gathers the agents' filtered contributions.</summary>
    public string? CollectionJobId { get; init; }
    /// <summary>How many encrypted contributions the frozen aggregate sums.</summary>
    public int Contributors { get; init; }
    /// <summary>Schema mode: the contribution-ledger sequence the frozen aggregate folds through (who contributed).</summary>
    public long FrozenThrough { get; init; }

    public static QueryJobData Parse(string? json) => json is null ? new QueryJobData() : JsonSerializer.Deserialize<QueryJobData>(json) ?? new QueryJobData();

    public string ToJson() => JsonSerializer.Serialize(this);
}

/// <summary>
/// The aggregate a query job answers from, as one write-once artifact: the ciphertext together with the ledger
/// watermark it folds through (schema mode; 0 in federated mode) and how many contributions it sums, so that whoever
/// reads it back — the next lease holder, settlement — sees the watermark of exactly that ciphertext.
/// </summary>
/// <param name="ThroughSequence">The contribution-ledger sequence the ciphertext folds through.</param>
/// <param name="Contributors">How many encrypted contributions the ciphertext sums.</param>
/// <param name="Ciphertext">The serialized ciphertext.</param>
internal sealed record FrozenAggregate(long ThroughSequence, int Contributors, byte[] Ciphertext)
{
    /// <summary>The artifact's name in the job's scope.</summary>
    public const string ArtifactName = "frozen-aggregate";

    /// <summary>The bare ciphertext of jobs frozen before this record existed (read, never written).</summary>
    public const string LegacyArtifactName = "aggregate";

    private const int HeaderSize = sizeof(long) + sizeof(int);

    /// <summary>Watermark (8 bytes, little endian), contributor count (4 bytes), then the ciphertext.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[HeaderSize + Ciphertext.Length];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, ThroughSequence);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(sizeof(long)), Contributors);
        Ciphertext.CopyTo(bytes, HeaderSize);
        return bytes;
    }

    /// <summary>Reads what <see cref="ToBytes"/> wrote.</summary>
    public static FrozenAggregate Parse(byte[] bytes) => new(
        BinaryPrimitives.ReadInt64LittleEndian(bytes),
        BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(sizeof(long))),
        bytes[HeaderSize..]);
}

/// <summary>
/// Researchers' query jobs: quote → job (idempotent, one job per quote) → budget spent → counts pass (the custodians add
/// encrypted noise to the group counts and t of them decrypt the noisy counts; groups below the minimum size are
/// suppressed) → statistics pass (the released groups' statistics, encrypted noise shares from the custodians, then
/// PCKS to the researcher's key) → completed. Each step is a compare-and-set in the store and each artifact is
/// written once, so a restart resumes the job; the result can only be decrypted by the researcher.
/// </summary>
public sealed class QueryJobService(
    IQueryJobStore jobs,
    ICohortStore cohorts,
    ICoordinatorStore store,
    KeySetRegistry keys,
    AnalyticsService analytics,
    TrainingService training,
    Settlement.SettlementService settlement,
    PresenceTracker presence,
    CustodianTaskBoard board,
    TimeProvider time,
    IOptions<CoordinatorOptions> options,
    ILogger<QueryJobService> logger,
    JobLeases leases)
{
    /// <summary>How long a quote stays valid.</summary>
    public static readonly TimeSpan QuoteLifetime = TimeSpan.FromMinutes(15);

    /// <summary>δ spent by one query.</summary>
    public const double DeltaPerQuery = 1e-7;

    private static string Scope(string jobId) => "query:" + jobId;

    /// <summary>Extra fee of a federated query (the agents' work in a collection round).</summary>
    public const long FederatedFeeMicros = 2_000_000;

    /// <summary>Prices a query: a base fee, a fee per released group, a price per ε and, in federated mode, a collection fee.</summary>
    public async Task<QueryQuote> QuoteAsync(string researcherId, QuoteQueryRequest request, CancellationToken ct)
    {
        var cohort = await cohorts.GetCohortAsync(request.CohortId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.NotFound, $"Cohort '{request.CohortId}' not found.");
        var moded = Plan(cohort, request.Query);
        var plan = moded.Plan;
        double epsilon = request.Epsilon > 0 ? request.Epsilon : 1.0;
        if (epsilon > cohort.EpsilonBudget - cohort.EpsilonSpent)
        {
            throw new GrpcStatusException(StatusCode.FailedPrecondition, $"ε = {epsilon} exceeds the cohort's remaining budget ({cohort.EpsilonBudget - cohort.EpsilonSpent:G4}).");
        }

        var now = time.GetUtcNow();
        var quote = new QuoteRecord
        {
            QuoteId = "q-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            CohortId = cohort.CohortId,
            ResearcherId = researcherId,
            Kind = "query",
            Request = request.Query,
            Epsilon = epsilon,
            Delta = DeltaPerQuery,
            PriceMicros = 1_000_000 + (plan.Blocks.Count * 10_000) + (long)(epsilon * 5_000_000) + (moded.Mode == QueryMode.Federated ? FederatedFeeMicros : 0),
            CreatedAt = now,
            ExpiresAt = now + QuoteLifetime,
        };
        await jobs.CreateQuoteAsync(quote, ct).ConfigureAwait(false);
        return new QueryQuote
        {
            QuoteId = quote.QuoteId,
            CohortId = quote.CohortId,
            Query = quote.Request,
            Epsilon = quote.Epsilon,
            Delta = quote.Delta,
            PriceMicros = quote.PriceMicros,
            ExpiresUnixMs = quote.ExpiresAt.ToUnixTimeMilliseconds(),
            Groups = plan.Blocks.Count,
            Mode = moded.Mode.WireName(),
        };
    }

    /// <summary>Creates the job for a quote (idempotent per researcher key).</summary>
    public async Task<QueryJobStatus> SubmitAsync(string researcherId, SubmitQueryRequest request, CancellationToken ct)
    {
        var cohort = await cohorts.GetCohortAsync(request.CohortId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.NotFound, $"Cohort '{request.CohortId}' not found.");
        var material = await keys.GetReadyAsync(cohort.KeySetId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.FailedPrecondition, "The cohort's key set is not ready.");
        try
        {
            material.Serializer.DeserializePublicKey(request.ResearcherPublicKey.Span);
        }
        catch (HomomorphicFormatException ex)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, $"researcher_public_key is not a public key for the cohort's parameters ({ex.Error}).");
        }

        var mode = Plan(cohort, request.Query).Mode;
        var now = time.GetUtcNow();
        var (job, outcome) = await jobs.CreateQueryJobAsync(new QueryJobRecord
        {
            JobId = "qj-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            QuoteId = request.QuoteId,
            CohortId = cohort.CohortId,
            ResearcherId = researcherId,
            IdempotencyKey = string.IsNullOrEmpty(request.IdempotencyKey) ? null : request.IdempotencyKey,
            QueryText = request.Query,
            ResearcherPublicKey = request.ResearcherPublicKey.ToByteArray(),
            State = "pending",
            Data = new QueryJobData { Mode = mode.WireName() }.ToJson(),
            CreatedAt = now,
            UpdatedAt = now,
        }, now, ct).ConfigureAwait(false);
        return outcome switch
        {
            CreateQueryJobOutcome.Created or CreateQueryJobOutcome.Existing => Status(job!, includeResult: false),
            CreateQueryJobOutcome.UnknownQuote => throw new GrpcStatusException(StatusCode.NotFound, $"Quote '{request.QuoteId}' not found."),
            CreateQueryJobOutcome.QuoteExpired => throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Quote '{request.QuoteId}' has expired; ask for a new one."),
            CreateQueryJobOutcome.QuoteUsed => throw new GrpcStatusException(StatusCode.AlreadyExists, $"Quote '{request.QuoteId}' was already used by another job."),
            _ => throw new GrpcStatusException(StatusCode.InvalidArgument, $"Quote '{request.QuoteId}' is for another researcher, cohort or query."),
        };
    }

    /// <summary>A job's status for its researcher (or an operator); the result ciphertext once completed.</summary>
    public async Task<QueryJobStatus> GetAsync(string jobId, string callerId, bool isOperator, CancellationToken ct)
    {
        var job = await jobs.GetQueryJobAsync(jobId, ct).ConfigureAwait(false);
        if (job is null || (!isOperator && job.ResearcherId != callerId))
        {
            throw new GrpcStatusException(StatusCode.NotFound, $"Query job '{jobId}' not found.");
        }

        var status = Status(job, includeResult: job.State == "completed");
        if (status.State == "completed")
        {
            status.Result = ByteString.CopyFrom(await store.GetArtifactAsync(Scope(job.JobId), "result", ct).ConfigureAwait(false) ?? []);
        }

        return status;
    }

    /// <summary>
    /// Cancels a job of the caller that has not finished; its pending custodian tasks are withdrawn. The budget already
    /// spent stays spent (noise may have been released to the custodians' counts pass).
    /// </summary>
    public async Task<QueryJobStatus> CancelAsync(string jobId, string callerId, bool isOperator, CancellationToken ct)
    {
        for (int attempt = 0; attempt < 10; attempt++)
        {
            var job = await jobs.GetQueryJobAsync(jobId, ct).ConfigureAwait(false);
            if (job is null || (!isOperator && job.ResearcherId != callerId))
            {
                throw new GrpcStatusException(StatusCode.NotFound, $"Query job '{jobId}' not found.");
            }

            if (job.State is "completed" or "failed" or "cancelled")
            {
                throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Query job '{jobId}' is {job.State}; it cannot be cancelled.");
            }

            var updated = await jobs.UpdateQueryJobAsync(job with { State = "cancelled", Message = "cancelled", UpdatedAt = time.GetUtcNow() }, ct).ConfigureAwait(false);
            if (updated is not null)
            {
                if (QueryJobData.Parse(job.Data).CollectionJobId is { } collection)
                {
                    await training.CancelAsync(collection, ct).ConfigureAwait(false);
                }

                foreach (var kind in new[] { "count-noise", "count-decrypt", "stat-noise", "stat-switch" })
                {
                    await store.WithdrawTasksAsync($"{Scope(jobId)}:{kind}", ct).ConfigureAwait(false);
                }

                board.Changed.Pulse();
                return Status(updated, includeResult: false);
            }
        }

        throw new GrpcStatusException(StatusCode.Aborted, "The job kept changing; try again.");
    }

    private static QueryJobStatus Status(QueryJobRecord job, bool includeResult)
    {
        var data = QueryJobData.Parse(job.Data);
        var status = new QueryJobStatus
        {
            JobId = job.JobId,
            State = job.State,
            Message = job.Message ?? string.Empty,
            Query = job.QueryText,
            SuppressedGroups = data.Suppressed,
            CountSigma = data.CountSigma,
            StatisticsSigma = data.StatisticsSigma,
            Mode = data.Mode,
            CollectionJobId = data.CollectionJobId ?? string.Empty,
            Contributors = data.Contributors,
        };
        status.ReleasedSlots.AddRange(data.ReleasedSlots ?? []);
        _ = includeResult;
        return status;
    }

    private static ModedPlan Plan(CohortRecord cohort, string query)
    {
        try
        {
            return QueryModes.Plan(query, CohortSchema.Parse(cohort.SchemaJson));
        }
        catch (FormatException ex)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, ex.Message);
        }
    }

    // ------------------------------------------------------------------ state machine

    public async Task StepAllAsync(CancellationToken ct)
    {
        foreach (var job in await jobs.ListQueryJobsAsync(null, ct).ConfigureAwait(false))
        {
            if (job.State is "completed" or "failed" or "cancelled")
            {
                await leases.ReleaseAsync(Scope(job.JobId), ct).ConfigureAwait(false); // a no-op unless held here
                continue;
            }

            try
            {
                using var lease = (await leases.TryAcquireAsync(Scope(job.JobId), ct).ConfigureAwait(false))?.Enter();

                // re-read under the lease: the listed copy may predate what the previous holder wrote (its budget spend)
                if (lease is not null && await jobs.GetQueryJobAsync(job.JobId, ct).ConfigureAwait(false) is { State: not ("completed" or "failed" or "cancelled") } current)
                {
                    await StepAsync(current, ct).ConfigureAwait(false);
                }
            }
            catch (LeaseLostException ex)
            {
                logger.LogWarning("Stopped stepping query job {JobId}: {Reason}", job.JobId, ex.Message);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Stepping query job {JobId} failed; will retry", job.JobId);
            }
        }
    }

    private async Task StepAsync(QueryJobRecord job, CancellationToken ct)
    {
        var cohort = (await cohorts.GetCohortAsync(job.CohortId, ct).ConfigureAwait(false))!;
        var material = await keys.GetReadyAsync(cohort.KeySetId, ct).ConfigureAwait(false);
        if (material is null)
        {
            return;
        }

        var p = material.Parameters;
        var schema = CohortSchema.Parse(cohort.SchemaJson);
        var plan = QueryModes.Plan(job.QueryText, schema).Plan;
        var ks = material.Record;
        var data = QueryJobData.Parse(job.Data);
        string scope = Scope(job.JobId);
        var quote = (await jobs.GetQuoteAsync(job.QuoteId, ct).ConfigureAwait(false))!;

        if (job.State == "pending" && !await settlement.IsFundedAsync(job.JobId, ct).ConfigureAwait(false))
        {
            await ProgressAsync(job, "waiting for the payment in escrow", data, ct).ConfigureAwait(false);
            return;
        }

        if (job.State == "pending" && data.Mode == "federated")
        {
            // the agents evaluate the WHERE clause on their own data in a collection round; nothing is spent until it closes
            var collection = await training.CreateCollectionAsync(new TrainingJobSpec
            {
                CohortId = cohort.CohortId,
                FederatedQuery = new FederatedQuerySpec { QueryJobId = job.JobId, Query = job.QueryText },
                MinParticipants = schema.MinGroupSize,
                RoundDeadlineMs = (long)options.Value.FederatedQueryDeadline.TotalMilliseconds,
                WaitAfterMinimumMs = (long)options.Value.FederatedQueryWaitAfterMinimum.TotalMilliseconds,
                Seed = BitConverter.ToUInt64(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(job.JobId))),
            }, cohort.KeySetId, ct).ConfigureAwait(false);
            data = data with { CollectionJobId = collection.JobId };
            await UpdateAsync(job, "collecting", $"asking online agents (collection {collection.JobId})", data, ct).ConfigureAwait(false);
            return;
        }

        if (job.State == "collecting")
        {
            var collection = await store.GetJobAsync(data.CollectionJobId!, ct).ConfigureAwait(false);
            if (collection is null || collection.State is JobState.Failed or JobState.Cancelled)
            {
                await UpdateAsync(job, "failed", $"the federated collection did not complete ({collection?.Message ?? "missing"}); nothing was spent", data, ct).ConfigureAwait(false);
                return;
            }

            if (collection.State != JobState.Completed)
            {
                var round = await store.GetRoundAsync(collection.JobId, 0, ct).ConfigureAwait(false);
                string progress = round is null ? collection.Message ?? "waiting for agents" : $"{round.State.ToString().ToLowerInvariant()}: {round.Message ?? $"{round.Selected.Count} agents asked"}";
                await ProgressAsync(job, progress, data, ct).ConfigureAwait(false);
                return;
            }

            var sum = await store.GetAccumulatorAsync(collection.JobId, 0, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Collection {collection.JobId} completed without its sum.");
            if (await SpendAsync(job, cohort, schema, quote, data, ct).ConfigureAwait(false) is not { } spent)
            {
                return;
            }

            (job, data) = (spent, QueryJobData.Parse(spent.Data));
            var frozen = await FreezeAsync(scope, new FrozenAggregate(0, sum.UploadCount, sum.Ciphertexts[0]), ct).ConfigureAwait(false);
            data = data with { Contributors = frozen.Contributors };
            job = await UpdateAsync(job, "ready", $"{frozen.Contributors} agents contributed", data, ct).ConfigureAwait(false) ?? job;
        }

        if (job.State == "pending")
        {
            if (await SpendAsync(job, cohort, schema, quote, data, ct).ConfigureAwait(false) is not { } spent)
            {
                return;
            }

            (job, data) = (spent, QueryJobData.Parse(spent.Data));

            // freeze the aggregate the job answers from
            var aggregate = await analytics.FoldAsync(cohort, ct).ConfigureAwait(false);
            if (aggregate?.Ciphertext is null)
            {
                await UpdateAsync(job, "failed", "the cohort has no contributions", data, ct).ConfigureAwait(false);
                return;
            }

            var frozen = await FreezeAsync(scope, new FrozenAggregate(aggregate.ThroughSequence, aggregate.Contributors, aggregate.Ciphertext), ct).ConfigureAwait(false);
            data = data with { FrozenThrough = frozen.ThroughSequence, Contributors = frozen.Contributors };
            job = await UpdateAsync(job, "ready", $"aggregate of {frozen.Contributors} contributions frozen", data, ct).ConfigureAwait(false) ?? job;
        }

        if (job.State == "ready")
        {
            var online = presence.OnlineCustodians.Where(x => x >= 1 && x <= ks.Members).ToList();
            if (online.Count < ks.Threshold)
            {
                await ProgressAsync(job, $"waiting for custodians: {online.Count} of {ks.Threshold} online", data, ct).ConfigureAwait(false);
                return;
            }

            var flooding = UpdateRelease.FloodingFor(p, ks.Members, data.Contributors + ks.Threshold + 64);
            data = data with
            {
                Active = [.. online.Take(ks.Threshold)],
                Sessions = [Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SessionId.Size)), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SessionId.Size))],
                FloodingSigma = flooding.Sigma,
                FloodingBound = flooding.Bound,
                PrecisionBits = UpdateRelease.PrecisionBits(p, flooding, ks.Threshold),
                TasksAt = time.GetUtcNow(),
            };
            await UpdateAsync(job, "counting", "computing noisy group counts", data, ct).ConfigureAwait(false);
            return;
        }

        if (job.State is not ("counting" or "computing"))
        {
            return;
        }

        var evaluator = new EncryptedQueryEvaluator(p, await EvaluationKeysAsync(ks, p, ct).ConfigureAwait(false));
        var ckks = new CkksEvaluator(p);
        var aggregateCt = material.Serializer.DeserializeCiphertext(await FrozenCiphertextAsync(scope, job, ct).ConfigureAwait(false));
        var codec = new AnalyticsCodec(p, plan.Layout);
        if (job.State == "counting")
        {
            var counts = evaluator.Evaluate(aggregateCt, plan, countsOnly: true);
            var noise = await CollectAsync(job, "count-noise", data, party => NoiseTask(material, counts, plan.Blocks.Select(b => b.Slot), data.CountSigma / Math.Sqrt(ks.Threshold)), ct).ConfigureAwait(false);
            if (noise is null)
            {
                return;
            }

            foreach (var (_, answer) in noise)
            {
                ckks.AddInPlace(counts, material.Serializer.DeserializeCiphertext(answer.Shares[0].Span));
            }

            var noisyBytes = material.Serializer.Serialize(counts);
            var shares = await CollectAsync(job, "count-decrypt", data, party => SessionTask(CustodianTaskKind.DecryptionShare, ks, data, noisyBytes, 0, null), ct).ConfigureAwait(false);
            if (shares is null)
            {
                return;
            }

            var flooding = new NoiseFlooding(data.FloodingSigma, data.FloodingBound);
            using var cks = new KeySwitchProtocol(p.Rlwe, flooding);
            var session = new SessionId(Convert.FromHexString(data.Sessions![0]));
            var collector = new ShareCollector(cks, cks.AllocateShare(session, 0, counts.Level), ks.Threshold, data.Active!.ToHashSet());
            foreach (var (_, answer) in shares)
            {
                collector.Add(material.Serializer.DeserializeShare(answer.Shares[0].Span, ShareKind.KeySwitch));
            }

            var noisyCounts = codec.DecodePublic(cks.Decrypt(counts, collector.Aggregate), data.PrecisionBits);
            var released = ReleasePolicy.Released(plan, noisyCounts, schema.MinGroupSize);
            data = data with { ReleasedSlots = [.. released.Select(b => b.Slot)], Suppressed = plan.Blocks.Count - released.Count, TasksAt = time.GetUtcNow() };
            await UpdateAsync(job, "computing", $"{released.Count} of {plan.Blocks.Count} groups reach the minimum size", data, ct).ConfigureAwait(false);
            return;
        }

        if (job.State == "computing")
        {
            var releasedBlocks = plan.Blocks.Where(b => data.ReleasedSlots!.Contains(b.Slot)).ToList();
            var statistics = evaluator.Evaluate(aggregateCt, plan, releasedBlocks);
            int b = plan.Layout.Cells.BlockSize;
            var noiseSlots = releasedBlocks.SelectMany(x => Enumerable.Range(x.Slot, b)).ToList();
            var noise = await CollectAsync(job, "stat-noise", data, party => NoiseTask(material, statistics, noiseSlots, data.StatisticsSigma / Math.Sqrt(ks.Threshold)), ct).ConfigureAwait(false);
            if (noise is null)
            {
                return;
            }

            foreach (var (_, answer) in noise)
            {
                ckks.AddInPlace(statistics, material.Serializer.DeserializeCiphertext(answer.Shares[0].Span));
            }

            var noisyBytes = material.Serializer.Serialize(statistics);
            var shares = await CollectAsync(job, "stat-switch", data, party => SessionTask(CustodianTaskKind.PublicKeySwitch, ks, data, noisyBytes, 1, job.ResearcherPublicKey), ct).ConfigureAwait(false);
            if (shares is null)
            {
                return;
            }

            var flooding = new NoiseFlooding(data.FloodingSigma, data.FloodingBound);
            using var pcks = new PublicKeySwitchProtocol(p.Rlwe, flooding);
            var session = new SessionId(Convert.FromHexString(data.Sessions![1]));
            var collector = new ShareCollector(pcks, pcks.AllocateShare(session, 0, statistics.Level), ks.Threshold, data.Active!.ToHashSet());
            foreach (var (_, answer) in shares)
            {
                collector.Add(material.Serializer.DeserializeShare(answer.Shares[0].Span, ShareKind.PublicKeySwitch));
            }

            var result = pcks.KeySwitch(statistics, collector.Aggregate);
            await store.PutArtifactAsync(scope, "result", material.Serializer.Serialize(result), ct).ConfigureAwait(false);
            await UpdateAsync(job, "completed", $"released {releasedBlocks.Count} groups, suppressed {data.Suppressed}; noise σ {data.StatisticsSigma:G4} (normalized units)", data, ct).ConfigureAwait(false);
            logger.LogInformation("Query job {JobId} completed: {Released} groups released", job.JobId, releasedBlocks.Count);
        }
    }

    /// <summary>
    /// Spends the quote's (ε, δ) once per job (the store debits a job once however often this runs) and returns the
    /// updated job; null when the budget refuses (the job is then failed and nothing is spent) or the job changed
    /// meanwhile (the next step retries).
    /// </summary>
    private async Task<QueryJobRecord?> SpendAsync(QueryJobRecord job, CohortRecord cohort, CohortSchema schema, QuoteRecord quote, QueryJobData data, CancellationToken ct)
    {
        if (data.BudgetSpent)
        {
            return job;
        }

        // the store records the spend with the job's id: repeated after a crash or by the next lease holder, it spends nothing
        if (!await cohorts.TrySpendBudgetAsync(cohort.CohortId, job.JobId, quote.Epsilon, quote.Delta, ct).ConfigureAwait(false))
        {
            await UpdateAsync(job, "failed", "the query would exceed the cohort's privacy budget; nothing was spent", data, ct).ConfigureAwait(false);
            return null;
        }

        var settings = new ReleaseSettings { MinGroupSize = schema.MinGroupSize, EpsilonPerQuery = quote.Epsilon, DeltaPerQuery = quote.Delta };
        var (countSigma, statSigma) = ReleasePolicy.Sigmas(schema, settings);
        return await UpdateAsync(job, job.State, "budget spent", data with { BudgetSpent = true, CountSigma = countSigma, StatisticsSigma = statSigma }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores the aggregate the job answers from, once, with its watermark and contributor count, and returns the
    /// stored one: when an earlier holder of the job's lease froze it already (and lost the lease before recording it
    /// in the job), its watermark and count — not this step's fold — describe the answered aggregate.
    /// </summary>
    private async Task<FrozenAggregate> FreezeAsync(string scope, FrozenAggregate aggregate, CancellationToken ct)
    {
        if (await store.PutArtifactAsync(scope, FrozenAggregate.ArtifactName, aggregate.ToBytes(), ct).ConfigureAwait(false))
        {
            return aggregate;
        }

        return FrozenAggregate.Parse((await store.GetArtifactAsync(scope, FrozenAggregate.ArtifactName, ct).ConfigureAwait(false))!);
    }

    /// <summary>
    /// The ciphertext a job answers from: the write-once <see cref="FrozenAggregate"/>, or, for a job frozen by a version
    /// before it (its watermark and count are in the job's data), the bare ciphertext it stored as "aggregate".
    /// </summary>
    private async Task<byte[]> FrozenCiphertextAsync(string scope, QueryJobRecord job, CancellationToken ct)
    {
        if (await store.GetArtifactAsync(scope, FrozenAggregate.ArtifactName, ct).ConfigureAwait(false) is { } frozen)
        {
            return FrozenAggregate.Parse(frozen).Ciphertext;
        }

        return await store.GetArtifactAsync(scope, FrozenAggregate.LegacyArtifactName, ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Query job {job.JobId} is {job.State} but has no frozen aggregate ({scope}/{FrozenAggregate.ArtifactName}).");
    }

    private async Task<EvaluationKeySet> EvaluationKeysAsync(KeySetRecord ks, CkksParameters p, CancellationToken ct)
    {
        var serializer = new CkksSerializer(p);
        var galois = new List<GaloisKey>();
        foreach (int step in SlotLayout.RotationSteps(p.MaxSlots))
        {
            var bytes = await store.GetArtifactAsync(KeySetRegistry.Scope(ks.KeySetId), $"galois-key:{p.Rlwe.GaloisElementForRotation(step)}", ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Key set {ks.KeySetId} has no rotation key for step {step}; analytics key sets need every power-of-two rotation.");
            galois.Add(serializer.DeserializeGaloisKey(bytes));
        }

        return new EvaluationKeySet(galoisKeys: galois);
    }

    private static CustodianTask NoiseTask(KeyMaterial material, Ciphertext target, IEnumerable<int> slots, double sigma)
    {
        var task = new CustodianTask
        {
            Kind = CustodianTaskKind.QueryNoise,
            NoiseSigma = sigma,
            Level = target.Level,
            Scale = target.Scale,
            PublicKey = ByteString.CopyFrom(material.PublicKeyBytes),
            KeySetId = material.Record.KeySetId,
            Description = "encrypted Gaussian noise share for a query release",
        };
        task.NoiseSlots.AddRange(slots);
        return task;
    }

    private static CustodianTask SessionTask(CustodianTaskKind kind, KeySetRecord ks, QueryJobData data, byte[] ciphertext, int session, byte[]? receiver)
    {
        var task = new CustodianTask
        {
            Kind = kind,
            Threshold = ks.Threshold,
            FloodingSigma = data.FloodingSigma,
            FloodingBound = data.FloodingBound,
            KeySetId = ks.KeySetId,
            Description = kind == CustodianTaskKind.PublicKeySwitch ? "re-encrypt a query result to its researcher" : "decrypt noisy group counts",
        };
        task.Sessions.Add(ByteString.CopyFrom(Convert.FromHexString(data.Sessions![session])));
        task.Ciphertexts.Add(ByteString.CopyFrom(ciphertext));
        task.ActiveSet.AddRange(data.Active!.Select(a => (ulong)a));
        if (receiver is not null)
        {
            task.PublicKey = ByteString.CopyFrom(receiver);
        }

        return task;
    }

    /// <summary>Creates the tasks once (deterministic ids) and returns all answers when in; a refusal or timeout fails the job.</summary>
    private async Task<IReadOnlyList<(int Party, CustodianAnswer Answer)>?> CollectAsync(QueryJobRecord job, string kind, QueryJobData data, Func<int, CustodianTask> build, CancellationToken ct)
    {
        string scope = $"{Scope(job.JobId)}:{kind}";
        var collection = await CustodianTasks.CollectAsync(store, board, time.GetUtcNow(), scope, $"{job.JobId}/{kind}", data.Active!, build, kind, options.Value.CustodianTimeout, ct).ConfigureAwait(false);
        if (collection.Failure is { } failure && await UpdateAsync(job, "failed", failure, data, ct).ConfigureAwait(false) is not null)
        {
            // only when the failure was recorded: a node whose update was refused no longer runs the job
            await store.WithdrawTasksAsync(scope, ct).ConfigureAwait(false);
        }

        return collection.Answers;
    }

    /// <summary>A new progress message in the job's current state (written only when it changed).</summary>
    private async Task ProgressAsync(QueryJobRecord job, string message, QueryJobData data, CancellationToken ct)
    {
        if (message != job.Message)
        {
            await UpdateAsync(job, job.State, message, data, ct).ConfigureAwait(false);
        }
    }

    private async Task<QueryJobRecord?> UpdateAsync(QueryJobRecord job, string state, string message, QueryJobData data, CancellationToken ct) =>
        await jobs.UpdateQueryJobAsync(job with { State = state, Message = message, Data = data.ToJson(), UpdatedAt = time.GetUtcNow() }, ct).ConfigureAwait(false);
}
