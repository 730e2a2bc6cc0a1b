using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Training;

/// <summary>Working data of a round kept as JSON in <see cref="RoundRecord.Data"/>.</summary>
internal sealed record RoundData
{
    public DateTimeOffset? ClosedAt { get; init; }
    public int[]? Active { get; init; }
    public string[]? Sessions { get; init; }
    public double FloodingSigma { get; init; }
    public double FloodingBound { get; init; }
    public double PrecisionBits { get; init; }
    public DateTimeOffset? TasksAt { get; init; }
    public double TotalWeight { get; init; }
    /// <summary>Mean loss of the round's global model over the contributors' examples (null before release).</summary>
    public double? Loss { get; init; }
    /// <summary>Accuracy of the round's global model over the contributors' examples (classification; null otherwise).</summary>
    public double? Accuracy { get; init; }
    /// <summary>Examples the metrics are over.</summary>
    public double MetricExamples { get; init; }
    public long Bytes { get; init; }
    public double DurationMs { get; init; }

    public static RoundData Parse(string? json) => json is null ? new RoundData() : JsonSerializer.Deserialize<RoundData>(json) ?? new RoundData();

    public string ToJson() => JsonSerializer.Serialize(this);
}

/// <summary>What the coordinator needs per job to validate uploads and release results.</summary>
internal sealed class JobContext
{
    public JobContext(TrainingJobSpec spec, KeyMaterial keys)
    {
        Spec = spec;
        Keys = keys;
        Packer = new UpdatePacker(keys.Parameters);
        ParametersId = keys.Parameters.Id.ToString();
        if (spec.IsFederatedQuery())
        {
            // one analytics contribution: a fresh encryption at the top level, as the cohort's contributions are
            CiphertextCount = 1;
            UploadLevel = keys.Parameters.MaxLevel;
            Strategy = new ServerStrategyOptions();
            return;
        }

        ParameterCount = spec.ParameterCount();
        UploadLength = spec.UploadLength();
        CiphertextCount = Packer.CiphertextCount(UploadLength);
        UploadLevel = Packer.Level;
        Strategy = spec.ToStrategyOptions();
    }

    /// <summary>Level of the fresh ciphertexts an upload consists of.</summary>
    public int UploadLevel { get; }

    public TrainingJobSpec Spec { get; }
    public KeyMaterial Keys { get; }
    public UpdatePacker Packer { get; }
    public int ParameterCount { get; }
    public int UploadLength { get; }
    public int CiphertextCount { get; }
    public string ParametersId { get; }
    public ServerStrategyOptions Strategy { get; }
}

/// <summary>Wakes round watchers and the round state machine.</summary>
public sealed class RoundBoard
{
    /// <summary>Pulsed when a round or job changed state.</summary>
    public AsyncSignal Changed { get; } = new();

    /// <summary>Pulsed when an upload was stored.</summary>
    public AsyncSignal Uploaded { get; } = new();
}

/// <summary>
/// Federated training jobs as durable state machines. A round goes Open → Closed → (Noise) → Decrypting →
/// Completed: sampled participants upload encrypted weighted updates into the idempotent ledger until the
/// deadline (or minimum + wait); closing freezes the ledger; the sum of exactly the frozen uploads is stored;
/// each of t online custodians optionally adds encrypted DP noise, then t custodians send flooded decryption
/// shares; the released sum is divided by the released total weight and the strategy's server step is applied.
/// Every transition is a compare-and-set in the store, and every artifact is written once, so a crash at any
/// point resumes without losing or double-counting an update.
/// </summary>
public sealed class TrainingService(
    ICoordinatorStore store,
    KeySetRegistry keys,
    PresenceTracker presence,
    CustodianTaskBoard board,
    RoundBoard rounds,
    CoordinatorMetrics metrics,
    Settlement.SettlementService settlement,
    TimeProvider time,
    IOptions<CoordinatorOptions> options,
    ILogger<TrainingService> logger,
    JobLeases leases)
{
    private readonly ConcurrentDictionary<string, JobContext> _contexts = new(StringComparer.Ordinal);
    private readonly CoordinatorOptions _options = options.Value;

    /// <summary>Scope of a round's artifacts.</summary>
    public static string RoundScope(string jobId, int round) => $"job:{jobId}:round:{round}";

    // ------------------------------------------------------------------ jobs

    /// <summary>Creates a training job (validated; an existing idempotency key returns the first job).</summary>
    public Task<JobRecord> CreateJobAsync(TrainingJobSpec spec, string keySetId, string? idempotencyKey, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.IsFederatedQuery())
        {
            throw new ArgumentException("federated_query is set by the coordinator for a query job's collection; a training job cannot carry it.", nameof(spec));
        }

        return CreateAsync(spec, keySetId, idempotencyKey, ct);
    }

    /// <summary>
    /// Creates the collection job of a federated query (one round over the cohort's online agents with analytics
    /// consent); idempotent per query job.
    /// </summary>
    internal Task<JobRecord> CreateCollectionAsync(TrainingJobSpec spec, string keySetId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!spec.IsFederatedQuery())
        {
            throw new ArgumentException("A collection job needs federated_query.", nameof(spec));
        }

        return CreateAsync(spec, keySetId, "collection:" + spec.FederatedQuery.QueryJobId, ct);
    }

    private async Task<JobRecord> CreateAsync(TrainingJobSpec spec, string keySetId, string? idempotencyKey, CancellationToken ct)
    {
        var s = spec.WithDefaults();
        s.Validate();
        var ks = await store.GetKeySetAsync(keySetId, ct).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"Key set '{keySetId}' not found.");
        if (ks.State == "failed")
        {
            throw new ArgumentException($"Key set '{keySetId}' failed: {ks.Message}", nameof(keySetId));
        }

        s.JobId = (s.IsFederatedQuery() ? "fq-" : "job-") + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        double[] initial = [];
        if (!s.IsFederatedQuery())
        {
            var model = s.CreateModel();
            if (s.UploadLength() > keys.Parameters(ks.Preset).N * 64)
            {
                throw new ArgumentException($"The model has {model.ParameterCount} parameters; at most {(keys.Parameters(ks.Preset).N * 64) - 1} fit in 64 ciphertexts of preset {ks.Preset}.", nameof(spec));
            }

            initial = model.GetParameters();
        }

        var now = time.GetUtcNow();
        var job = await store.CreateJobAsync(new JobRecord
        {
            JobId = s.JobId,
            KeySetId = keySetId,
            Spec = s.ToByteArray(),
            State = JobState.Pending,
            CurrentRound = 0,
            GlobalModel = initial,
            IdempotencyKey = string.IsNullOrEmpty(idempotencyKey) ? null : idempotencyKey,
            CreatedAt = now,
            UpdatedAt = now,
        }, ct).ConfigureAwait(false);
        logger.LogInformation("Training job {JobId} created: {Spec}", job.JobId, s.Describe());
        rounds.Changed.Pulse();
        return job;
    }

    /// <summary>Cancels a job that has not finished; its pending custodian tasks are withdrawn.</summary>
    public async Task<JobRecord> CancelAsync(string jobId, CancellationToken ct)
    {
        for (int attempt = 0; attempt < 10; attempt++)
        {
            var job = await store.GetJobAsync(jobId, ct).ConfigureAwait(false) ?? throw new KeyNotFoundException($"Job '{jobId}' not found.");
            if (job.State is JobState.Completed or JobState.Failed or JobState.Cancelled)
            {
                return job;
            }

            var updated = await store.UpdateJobAsync(job with { State = JobState.Cancelled, Message = "cancelled by operator", UpdatedAt = time.GetUtcNow() }, ct).ConfigureAwait(false);
            if (updated is not null)
            {
                await store.WithdrawTasksAsync($"job:{jobId}:round:{job.CurrentRound}:noise", ct).ConfigureAwait(false);
                await store.WithdrawTasksAsync($"job:{jobId}:round:{job.CurrentRound}:decrypt", ct).ConfigureAwait(false);
                rounds.Changed.Pulse();
                board.Changed.Pulse();
                return updated;
            }
        }

        throw new InvalidOperationException("The job kept changing; try again.");
    }

    internal async Task<JobContext?> ContextAsync(JobRecord job, CancellationToken ct)
    {
        if (_contexts.TryGetValue(job.JobId, out var cached))
        {
            return cached;
        }

        var material = await keys.GetReadyAsync(job.KeySetId, ct).ConfigureAwait(false);
        if (material is null)
        {
            return null;
        }

        return _contexts.GetOrAdd(job.JobId, _ => new JobContext(TrainingJobSpec.Parser.ParseFrom(job.Spec), material));
    }

    // ------------------------------------------------------------------ uploads

    /// <summary>
    /// Validates and records one upload. Throws <see cref="GrpcStatusException"/> with a clear status for anything it
    /// refuses; nothing is stored in that case.
    /// </summary>
    public async Task<UploadReply> UploadAsync(UploadRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        long started = Stopwatch.GetTimestamp();
        try
        {
            var reply = await UploadCoreAsync(request, ct).ConfigureAwait(false);
            metrics.UploadLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return reply;
        }
        catch (GrpcStatusException ex)
        {
            metrics.UploadsRejected.Add(1, new KeyValuePair<string, object?>("status", ex.StatusCode.ToString()));
            throw;
        }
    }

    private async Task<UploadReply> UploadCoreAsync(UploadRequest request, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.JobId) || string.IsNullOrEmpty(request.ParticipantId))
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, "job_id and participant_id are required.");
        }

        var job = await store.GetJobAsync(request.JobId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.NotFound, $"Job '{request.JobId}' not found.");
        if (job.State != JobState.Running)
        {
            throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Job '{job.JobId}' is {job.State.ToString().ToLowerInvariant()}; it accepts no uploads.");
        }

        var context = await ContextAsync(job, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.FailedPrecondition, "The job's key set is not ready.");
        if (request.Round != job.CurrentRound)
        {
            throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Round {request.Round} is not open (the current round is {job.CurrentRound}).");
        }

        var round = await store.GetRoundAsync(job.JobId, request.Round, ct).ConfigureAwait(false);
        if (round is null || round.State != RoundState.Open)
        {
            throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Round {request.Round} is not open{(round is null ? string.Empty : $" (it is {round.State.ToString().ToLowerInvariant()})")}.");
        }

        if (!round.Selected.Contains(request.ParticipantId, StringComparer.Ordinal))
        {
            throw new GrpcStatusException(StatusCode.PermissionDenied, $"Participant '{request.ParticipantId}' was not sampled for round {request.Round}.");
        }

        if (request.ParametersId.Length > 0 && !string.Equals(request.ParametersId, context.ParametersId, StringComparison.OrdinalIgnoreCase))
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, $"Upload is for parameters {request.ParametersId[..Math.Min(16, request.ParametersId.Length)]}…; this job uses {context.ParametersId[..16]}….");
        }

        if (request.Ciphertexts.Count != context.CiphertextCount)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, $"An update of this job is {context.CiphertextCount} ciphertext(s); got {request.Ciphertexts.Count}.");
        }

        var blobs = new byte[request.Ciphertexts.Count][];
        var ids = new string[blobs.Length];
        long bytes = 0;
        for (int i = 0; i < blobs.Length; i++)
        {
            var data = request.Ciphertexts[i];
            if (data.Length > _options.MaxCiphertextBytes)
            {
                throw new GrpcStatusException(StatusCode.ResourceExhausted, $"Ciphertext {i} is {data.Length} bytes; the limit is {_options.MaxCiphertextBytes}.");
            }

            blobs[i] = data.ToByteArray();
            Ciphertext ct0;
            try
            {
                ct0 = context.Keys.Serializer.DeserializeCiphertext(blobs[i]);
            }
            catch (HomomorphicFormatException ex)
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, $"Ciphertext {i} is not valid for this job ({ex.Error}): {ex.Message}");
            }

            if (ct0.Size != 2 || ct0.Level != context.UploadLevel || Math.Abs((ct0.Scale / context.Keys.Parameters.DefaultScale) - 1) > CkksEvaluator.ScaleTolerance)
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, $"Ciphertext {i} must be a fresh encryption (size 2, level {context.UploadLevel}, default scale); got size {ct0.Size}, level {ct0.Level}.");
            }

            ids[i] = Convert.ToHexStringLower(CkksSerializer.ContentId(blobs[i]));
            bytes += blobs[i].Length;
        }

        var outcome = await store.AddUploadAsync(new UploadRecord
        {
            JobId = job.JobId,
            Round = request.Round,
            ParticipantId = request.ParticipantId,
            Ciphertexts = blobs,
            ContentIds = ids,
            Bytes = bytes,
            ReceivedAt = time.GetUtcNow(),
        }, ct).ConfigureAwait(false);
        switch (outcome)
        {
            case UploadOutcome.Stored:
                metrics.UploadsAccepted.Add(1);
                metrics.UploadBytes.Add(bytes);
                rounds.Uploaded.Pulse();
                return new UploadReply { Accepted = true, Message = $"stored update of {request.ParticipantId} for round {request.Round}", ContentIds = { ids } };
            case UploadOutcome.Duplicate:
                metrics.UploadsDuplicate.Add(1);
                return new UploadReply { Accepted = true, Duplicate = true, Message = "already received; counted once", ContentIds = { ids } };
            case UploadOutcome.Conflict:
                throw new GrpcStatusException(StatusCode.AlreadyExists, $"A different update of '{request.ParticipantId}' for round {request.Round} is already recorded; it is counted once and cannot be replaced.");
            default:
                throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Round {request.Round} closed before the upload was recorded.");
        }
    }

    // ------------------------------------------------------------------ state machine

    /// <summary>Steps every job that is not finished.</summary>
    public async Task StepAllAsync(CancellationToken ct)
    {
        var jobs = await store.ListJobsAsync(ct).ConfigureAwait(false);
        // PostgreSQL cluster: the free leases of the pass in one statement; jobs held by other nodes cost no round trip
        var mine = await leases.ClaimAsync(jobs.Where(j => j.State is JobState.Pending or JobState.Running).Select(j => "job:" + j.JobId), ct).ConfigureAwait(false);
        foreach (var job in jobs)
        {
            if (job.State is JobState.Pending or JobState.Running)
            {
                if (mine is not null && !mine.Contains("job:" + job.JobId))
                {
                    continue;
                }

                try
                {
                    // only while holding the job's lease; its versioned updates are fenced by it (decision 0018), and its
                    // work stops when the lease is lost (lease.Token)
                    using var lease = (await leases.TryAcquireAsync("job:" + job.JobId, ct).ConfigureAwait(false))?.Enter();
                    if (lease is not null)
                    {
                        // re-read under the lease: the listed copy may predate another node's last step
                        var current = await store.GetJobAsync(job.JobId, lease.Token).ConfigureAwait(false);
                        if (current?.State is JobState.Pending or JobState.Running)
                        {
                            await StepJobAsync(current, lease.Token).ConfigureAwait(false);
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    logger.LogError(ex, "Stepping job {JobId} failed; its lease is released and the step retried", job.JobId);
                    await leases.ReleaseAsync("job:" + job.JobId, ct).ConfigureAwait(false); // another node may try
                }
            }
            else
            {
                await leases.ReleaseAsync("job:" + job.JobId, ct).ConfigureAwait(false); // finished: a no-op unless held here
            }
        }
    }

    private async Task StepJobAsync(JobRecord job, CancellationToken ct)
    {
        for (int guard = 0; guard < 8; guard++)
        {
            var next = await StepOnceAsync(job, ct).ConfigureAwait(false);
            if (next is null || next.State is not (JobState.Pending or JobState.Running))
            {
                return;
            }

            job = next;
        }
    }

    /// <summary>One transition; returns the fresh job when something changed (so the caller steps again), else null.</summary>
    private async Task<JobRecord?> StepOnceAsync(JobRecord job, CancellationToken ct)
    {
        var context = await ContextAsync(job, ct).ConfigureAwait(false);
        if (context is null)
        {
            var ks = await store.GetKeySetAsync(job.KeySetId, ct).ConfigureAwait(false);
            return ks?.State == "failed"
                ? await FailJobAsync(job, $"key ceremony failed: {ks.Message}", ct).ConfigureAwait(false)
                : await JobMessageAsync(job, "waiting for the key ceremony", ct).ConfigureAwait(false);
        }

        var spec = context.Spec;
        if (job.State == JobState.Pending)
        {
            if (!string.IsNullOrEmpty(spec.QuoteId) && !await settlement.IsFundedAsync(job.JobId, ct).ConfigureAwait(false))
            {
                return await JobMessageAsync(job, "waiting for the payment in escrow", ct).ConfigureAwait(false);
            }

            return await UpdateJobAsync(job with { State = JobState.Running, Message = "running" }, ct).ConfigureAwait(false);
        }

        int r = job.CurrentRound;
        if (r > 0)
        {
            // a crash between publishing the model and marking the previous round may leave it unmarked
            var previous = await store.GetRoundAsync(job.JobId, r - 1, ct).ConfigureAwait(false);
            if (previous is not null && previous.State is not (RoundState.Completed or RoundState.Failed))
            {
                await MarkRoundCompletedAsync(job, previous, context, ct).ConfigureAwait(false);
            }
        }

        if (r >= spec.Rounds)
        {
            var done = await UpdateJobAsync(job with { State = JobState.Completed, Message = $"completed {spec.Rounds} rounds" }, ct).ConfigureAwait(false);
            if (done is not null)
            {
                logger.LogInformation("Job {JobId} completed", job.JobId);
            }

            return done;
        }

        var round = await store.GetRoundAsync(job.JobId, r, ct).ConfigureAwait(false);
        if (round is null)
        {
            return await OpenRoundAsync(job, context, ct).ConfigureAwait(false);
        }

        return round.State switch
        {
            RoundState.Open => await StepOpenAsync(job, round, context, ct).ConfigureAwait(false),
            RoundState.Closed => await StepClosedAsync(job, round, context, ct).ConfigureAwait(false),
            RoundState.Noise => await StepNoiseAsync(job, round, context, ct).ConfigureAwait(false),
            RoundState.Decrypting => await StepDecryptingAsync(job, round, context, ct).ConfigureAwait(false),
            RoundState.Completed => await MarkRoundCompletedAsync(job, round, context, ct).ConfigureAwait(false),
            RoundState.Failed => await FailJobAsync(job, $"round {r} failed: {round.Message}", ct).ConfigureAwait(false),
            _ => null,
        };
    }

    private async Task<JobRecord?> OpenRoundAsync(JobRecord job, JobContext context, CancellationToken ct)
    {
        var spec = context.Spec;
        var eligible = (await store.ListEnrollmentsAsync(spec.CohortId, ct).ConfigureAwait(false))
            .Where(e => (spec.IsFederatedQuery() ? e.Analytics : e.Training) && presence.IsParticipantOnline(e.ParticipantId))
            .Select(e => e.ParticipantId)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (eligible.Count < spec.MinAvailable)
        {
            return await JobMessageAsync(job, $"round {job.CurrentRound}: waiting for participants ({eligible.Count} of {spec.MinAvailable} consenting and online)", ct).ConfigureAwait(false);
        }

        int k = Math.Min(eligible.Count, Math.Max(spec.MinParticipants, (int)Math.Ceiling(spec.SampleFraction * eligible.Count)));
        var selected = Sample(eligible, k, spec.Seed, job.CurrentRound);
        var now = time.GetUtcNow();
        bool created = await store.CreateRoundAsync(new RoundRecord
        {
            JobId = job.JobId,
            Round = job.CurrentRound,
            State = RoundState.Open,
            Selected = selected,
            OpenedAt = now,
            Deadline = now + TimeSpan.FromMilliseconds(spec.RoundDeadlineMs),
            Data = new RoundData().ToJson(),
        }, ct).ConfigureAwait(false);
        if (created)
        {
            logger.LogInformation("Job {JobId} round {Round} open: {Selected} of {Eligible} sampled", job.JobId, job.CurrentRound, selected.Count, eligible.Count);
            rounds.Changed.Pulse();
        }

        return await JobMessageAsync(job, $"round {job.CurrentRound} open", ct).ConfigureAwait(false) ?? job;
    }

    /// <summary>Deterministic sample: the k ids with the smallest SHA-256(seed ‖ round ‖ id).</summary>
    internal static IReadOnlyList<string> Sample(IReadOnlyList<string> eligible, int k, ulong seed, int round) =>
        [.. eligible
            .Select(id => (id, key: Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}/{round}/{id}")))))
            .OrderBy(x => x.key, StringComparer.Ordinal)
            .Take(k)
            .Select(x => x.id)
            .Order(StringComparer.Ordinal)];

    private async Task<JobRecord?> StepOpenAsync(JobRecord job, RoundRecord round, JobContext context, CancellationToken ct)
    {
        var spec = context.Spec;
        var (received, _) = await store.GetUploadSummaryAsync(job.JobId, round.Round, ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        int count = received.Count;
        if (count >= spec.MinParticipants && round.MinimumReachedAt is null)
        {
            var updated = await store.UpdateRoundAsync(round with { MinimumReachedAt = now }, ct).ConfigureAwait(false);
            if (updated is null)
            {
                return job;
            }

            round = updated;
        }

        bool close = count >= round.Selected.Count
            || (count >= spec.MinParticipants && now >= round.MinimumReachedAt!.Value + TimeSpan.FromMilliseconds(spec.WaitAfterMinimumMs))
            || (count >= spec.MinParticipants && now >= round.Deadline);
        if (close)
        {
            var data = RoundData.Parse(round.Data) with { ClosedAt = now };
            var closed = await store.UpdateRoundAsync(round with { State = RoundState.Closed, Data = data.ToJson(), Message = $"closed with {count} of {round.Selected.Count} updates" }, ct).ConfigureAwait(false);
            if (closed is not null)
            {
                logger.LogInformation("Job {JobId} round {Round} closed: {Included} updates ({Dropped} stragglers dropped)", job.JobId, round.Round, closed.IncludedUploads, round.Selected.Count - closed.IncludedUploads);
                rounds.Changed.Pulse();
            }

            return job;
        }

        if (now < round.Deadline)
        {
            return null;
        }

        if (spec.OnTooFew == "extend" && round.Extensions < spec.MaxRoundExtensions)
        {
            var extended = await store.UpdateRoundAsync(round with
            {
                Extensions = round.Extensions + 1,
                Deadline = now + TimeSpan.FromMilliseconds(spec.RoundDeadlineMs),
                Message = $"extended ({round.Extensions + 1} of {spec.MaxRoundExtensions}): {count} of {spec.MinParticipants} required updates by the deadline",
            }, ct).ConfigureAwait(false);
            if (extended is not null)
            {
                logger.LogWarning("Job {JobId} round {Round} extended: {Count} of {Min} updates", job.JobId, round.Round, count, spec.MinParticipants);
                rounds.Changed.Pulse();
            }

            return job;
        }

        return await FailRoundAsync(job, round, $"too few updates: {count} of the {spec.MinParticipants} required by the deadline" + (round.Extensions > 0 ? $" after {round.Extensions} extension(s)" : string.Empty), ct).ConfigureAwait(false);
    }

    private async Task<JobRecord?> StepClosedAsync(JobRecord job, RoundRecord round, JobContext context, CancellationToken ct)
    {
        var spec = context.Spec;
        var ks = context.Keys.Record;
        var accumulator = await store.GetAccumulatorAsync(job.JobId, round.Round, ct).ConfigureAwait(false);
        if (accumulator is null)
        {
            long started = Stopwatch.GetTimestamp();
            var uploads = await store.ListUploadsAsync(job.JobId, round.Round, ct).ConfigureAwait(false);
            if (uploads.Count != round.IncludedUploads)
            {
                throw new InvalidOperationException($"Round {round.Round} froze {round.IncludedUploads} uploads but the ledger has {uploads.Count}.");
            }

            var sum = Sum(context, uploads.Select(u => u.Ciphertexts));
            await store.SaveAccumulatorAsync(new AccumulatorRecord
            {
                JobId = job.JobId,
                Round = round.Round,
                Ciphertexts = [.. sum.Select(context.Keys.Serializer.Serialize)],
                UploadCount = uploads.Count,
            }, ct).ConfigureAwait(false);
            metrics.AggregationDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        if (spec.IsFederatedQuery())
        {
            // a collection round ends with its encrypted sum: the query job releases it through its own passes
            var collected = await UpdateJobAsync(job with { CurrentRound = round.Round + 1, State = JobState.Running, Message = $"collected {round.IncludedUploads} contribution(s)" }, ct).ConfigureAwait(false);
            if (collected is not null)
            {
                await MarkRoundCompletedAsync(collected, round, context, ct).ConfigureAwait(false);
                logger.LogInformation("Federated collection {JobId} closed with {Uploads} contributions", job.JobId, round.IncludedUploads);
            }

            return collected;
        }

        var data = RoundData.Parse(round.Data);
        var online = presence.OnlineCustodians.Where(p => p >= 1 && p <= ks.Members).ToList();
        if (online.Count < ks.Threshold)
        {
            if (time.GetUtcNow() - (data.ClosedAt ?? round.OpenedAt) > _options.CustodianTimeout)
            {
                return await FailRoundAsync(job, round, $"only {online.Count} of the {ks.Threshold} custodians needed are online", ct).ConfigureAwait(false);
            }

            await RoundMessageAsync(round, $"waiting for custodians: {online.Count} of {ks.Threshold} online", ct).ConfigureAwait(false);
            return null;
        }

        bool dp = spec.DifferentialPrivacy();
        var flooding = UpdateRelease.FloodingFor(context.Keys.Parameters, ks.Members, round.IncludedUploads + (dp ? ks.Threshold : 0));
        var next = data with
        {
            Active = [.. online.Take(ks.Threshold)],
            Sessions = [.. Enumerable.Range(0, context.CiphertextCount).Select(_ => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SessionId.Size)))],
            FloodingSigma = flooding.Sigma,
            FloodingBound = flooding.Bound,
            PrecisionBits = UpdateRelease.PrecisionBits(context.Keys.Parameters, flooding, ks.Threshold),
            TasksAt = time.GetUtcNow(),
        };
        var updated = await store.UpdateRoundAsync(round with { State = dp ? RoundState.Noise : RoundState.Decrypting, Data = next.ToJson() }, ct).ConfigureAwait(false);
        if (updated is not null)
        {
            rounds.Changed.Pulse();
        }

        return job;
    }

    private Ciphertext[] Sum(JobContext context, IEnumerable<IReadOnlyList<byte[]>> parts)
    {
        var evaluator = new CkksEvaluator(context.Keys.Parameters);
        Ciphertext[]? sum = null;
        foreach (var part in parts)
        {
            if (part.Count != context.CiphertextCount)
            {
                throw new InvalidOperationException($"A stored update has {part.Count} ciphertexts; expected {context.CiphertextCount}.");
            }

            sum ??= new Ciphertext[part.Count];
            for (int i = 0; i < part.Count; i++)
            {
                var ct = context.Keys.Serializer.DeserializeCiphertext(part[i]);
                if (sum[i] is null)
                {
                    sum[i] = ct;
                }
                else
                {
                    evaluator.AddInPlace(sum[i], ct);
                }
            }
        }

        return sum ?? throw new InvalidOperationException("A round cannot close without updates.");
    }

    private async Task<JobRecord?> StepNoiseAsync(JobRecord job, RoundRecord round, JobContext context, CancellationToken ct)
    {
        var scope = RoundScope(job.JobId, round.Round);
        if (await store.GetArtifactAsync(scope, "noisy-sum", ct).ConfigureAwait(false) is null)
        {
            var data = RoundData.Parse(round.Data);
            var ks = context.Keys.Record;
            double sigma = context.Spec.DpNoiseMultiplier * context.Spec.DpClipNorm / Math.Sqrt(ks.Threshold);
            var answers = await CollectAsync(job, round, "noise", data, party => new CustodianTask
            {
                Kind = CustodianTaskKind.DpNoise,
                NoiseSigma = sigma,
                ValueCount = context.UploadLength,
                NoisyValues = context.ParameterCount,
                PublicKey = ByteString.CopyFrom(context.Keys.PublicKeyBytes),
                KeySetId = ks.KeySetId,
                Description = $"DP noise share for job {job.JobId} round {round.Round} (sigma {sigma:G4} per value)",
            }, ct).ConfigureAwait(false);
            if (answers is null)
            {
                return null;
            }

            var accumulator = await store.GetAccumulatorAsync(job.JobId, round.Round, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException("Accumulator missing in the noise phase.");
            var noisy = Sum(context, [accumulator.Ciphertexts, .. answers.Select(a => (IReadOnlyList<byte[]>)[.. a.Answer.Shares.Select(s => s.ToByteArray())])]);
            await store.PutArtifactAsync(scope, "noisy-sum", Pack(noisy.Select(context.Keys.Serializer.Serialize)), ct).ConfigureAwait(false);
        }

        var updated = await store.UpdateRoundAsync(round with { State = RoundState.Decrypting }, ct).ConfigureAwait(false);
        if (updated is not null)
        {
            rounds.Changed.Pulse();
        }

        return job;
    }

    private async Task<JobRecord?> StepDecryptingAsync(JobRecord job, RoundRecord round, JobContext context, CancellationToken ct)
    {
        var scope = RoundScope(job.JobId, round.Round);
        var data = RoundData.Parse(round.Data);
        var ks = context.Keys.Record;
        if (await store.GetArtifactAsync(scope, "released", ct).ConfigureAwait(false) is null)
        {
            IReadOnlyList<byte[]> input = context.Spec.DifferentialPrivacy()
                ? Unpack(await store.GetArtifactAsync(scope, "noisy-sum", ct).ConfigureAwait(false) ?? throw new InvalidOperationException("Noisy sum missing."))
                : (await store.GetAccumulatorAsync(job.JobId, round.Round, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("Accumulator missing.")).Ciphertexts;
            var answers = await CollectAsync(job, round, "decrypt", data, party =>
            {
                var task = new CustodianTask
                {
                    Kind = CustodianTaskKind.DecryptionShare,
                    Threshold = ks.Threshold,
                    FloodingSigma = data.FloodingSigma,
                    FloodingBound = data.FloodingBound,
                    KeySetId = ks.KeySetId,
                    Description = $"decryption share for the sum of {round.IncludedUploads} updates, job {job.JobId} round {round.Round}",
                };
                task.Sessions.AddRange(data.Sessions!.Select(s => ByteString.CopyFrom(Convert.FromHexString(s))));
                task.Ciphertexts.AddRange(input.Select(ByteString.CopyFrom));
                task.ActiveSet.AddRange(data.Active!.Select(a => (ulong)a));
                return task;
            }, ct).ConfigureAwait(false);
            if (answers is null)
            {
                return null;
            }

            var released = Combine(context, data, input, answers);
            await store.PutArtifactAsync(scope, "released", DoublesToBytes(released), ct).ConfigureAwait(false);
            metrics.DecryptionDuration.Record((time.GetUtcNow() - (data.ClosedAt ?? round.OpenedAt)).TotalMilliseconds);
        }

        return await PublishAsync(job, round, context, ct).ConfigureAwait(false);
    }

    private static double[] Combine(JobContext context, RoundData data, IReadOnlyList<byte[]> input, IReadOnlyList<(int Party, CustodianAnswer Answer)> answers)
    {
        var p = context.Keys.Parameters;
        var serializer = context.Keys.Serializer;
        var flooding = new NoiseFlooding(data.FloodingSigma, data.FloodingBound);
        using var protocol = new KeySwitchProtocol(p.Rlwe, flooding);
        var allowed = data.Active!.ToHashSet();
        var plaintexts = new Plaintext[input.Count];
        for (int i = 0; i < input.Count; i++)
        {
            var ct = serializer.DeserializeCiphertext(input[i]);
            var session = new SessionId(Convert.FromHexString(data.Sessions![i]));
            var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0, ct.Level), allowed.Count, allowed);
            foreach (var (party, answer) in answers)
            {
                var share = serializer.DeserializeShare(answer.Shares[i].Span, ShareKind.KeySwitch);
                if (share.Party != party)
                {
                    throw new ShareRejectedException($"Custodian {party} sent a share labelled party {share.Party}.");
                }

                collector.Add(share);
            }

            plaintexts[i] = protocol.Decrypt(ct, collector.Aggregate);
        }

        return context.Packer.UnpackPublic(plaintexts, context.UploadLength, data.PrecisionBits);
    }

    /// <summary>Applies the released sum to the job (once, by compare-and-set) and completes the round.</summary>
    private async Task<JobRecord?> PublishAsync(JobRecord job, RoundRecord round, JobContext context, CancellationToken ct)
    {
        var released = BytesToDoubles(await store.GetArtifactAsync(RoundScope(job.JobId, round.Round), "released", ct).ConfigureAwait(false)!);
        double weight = released[context.ParameterCount];
        if (!(weight >= 0.5) || double.IsInfinity(weight))
        {
            return await FailRoundAsync(job, round, $"the decrypted total weight {weight:G6} is not positive; the updates overflowed the parameters' plaintext space or were malformed", ct).ConfigureAwait(false);
        }

        var average = new double[context.ParameterCount];
        FedAvg.Average(released.AsSpan(0, context.ParameterCount), (long)Math.Round(weight), average);
        if (context.Spec.DifferentialPrivacy())
        {
            // unit weights: divide by the exact count, not the rounded one
            for (int i = 0; i < average.Length; i++)
            {
                average[i] = released[i] / weight;
            }
        }

        var model = (double[])job.GlobalModel.Clone();
        var strategy = ServerStrategy.Create(context.Strategy, context.ParameterCount, job.StrategyState);
        strategy.Apply(model, average);
        int next = round.Round + 1;
        var updated = await UpdateJobAsync(job with
        {
            CurrentRound = next,
            GlobalModel = model,
            StrategyState = strategy.ExportState(),
            // the job stays Running: it is marked Completed by the next step, after this round is marked, so that a
            // crash between the two writes leaves a running job whose step repairs the round (never a completed job
            // with a round stuck in decrypting)
            State = JobState.Running,
            Message = $"round {round.Round} completed",
        }, ct).ConfigureAwait(false);
        if (updated is null)
        {
            return null;
        }

        await MarkRoundCompletedAsync(updated, round, context, ct).ConfigureAwait(false);
        logger.LogInformation("Job {JobId} round {Round} completed: {Uploads} updates, total weight {Weight}", job.JobId, round.Round, round.IncludedUploads, weight);
        return updated;
    }

    private async Task<JobRecord?> MarkRoundCompletedAsync(JobRecord job, RoundRecord round, JobContext context, CancellationToken ct)
    {
        if (round.State == RoundState.Completed)
        {
            return null;
        }

        var released = await store.GetArtifactAsync(RoundScope(job.JobId, round.Round), "released", ct).ConfigureAwait(false);
        var (_, bytes) = await store.GetUploadSummaryAsync(job.JobId, round.Round, ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var data = RoundData.Parse(round.Data) with
        {
            Bytes = bytes,
            DurationMs = (now - round.OpenedAt).TotalMilliseconds,
        };
        if (released is not null && !context.Spec.IsFederatedQuery())
        {
            var values = BytesToDoubles(released);
            int p = context.ParameterCount;
            double examples = values[p + 3];
            bool metrics = examples >= 0.5;
            data = data with
            {
                TotalWeight = values[p],
                MetricExamples = metrics ? examples : 0,
                Loss = metrics ? values[p + 1] / examples : null,
                Accuracy = metrics && context.Spec.Model != "linear" ? Math.Clamp(values[p + 2] / examples, 0, 1) : null,
            };
        }
        var updated = await store.UpdateRoundAsync(round with { State = RoundState.Completed, Data = data.ToJson(), Message = $"completed with {round.IncludedUploads} of {round.Selected.Count} updates" + (round.IncludedUploads < round.Selected.Count ? $" ({round.Selected.Count - round.IncludedUploads} straggler(s) dropped)" : string.Empty) }, ct).ConfigureAwait(false);
        if (updated is not null)
        {
            metrics.RoundsCompleted.Add(1);
            metrics.RoundDuration.Record(data.DurationMs);
            rounds.Changed.Pulse();
        }

        _ = context;
        return null;
    }

    /// <summary>
    /// Ensures the round's tasks of one kind exist for the active custodians; returns their answers once all are in,
    /// null while waiting. A refusal or a timeout fails the round.
    /// </summary>
    private async Task<IReadOnlyList<(int Party, CustodianAnswer Answer)>?> CollectAsync(JobRecord job, RoundRecord round, string kind, RoundData data, Func<int, CustodianTask> build, CancellationToken ct)
    {
        var collection = await CustodianTasks.CollectAsync(store, board, time.GetUtcNow(), $"{RoundScope(job.JobId, round.Round)}:{kind}",
            $"{job.JobId}/r{round.Round}/{kind}", data.Active!, build, kind, _options.CustodianTimeout, ct).ConfigureAwait(false);
        if (collection.Failure is { } failure)
        {
            await FailRoundAsync(job, round, failure, ct).ConfigureAwait(false);
        }
        else if (collection.Answers is null)
        {
            await RoundMessageAsync(round, $"{kind}: waiting for custodian(s) {string.Join(", ", collection.Waiting)}", ct).ConfigureAwait(false);
        }

        return collection.Answers;
    }

    private async Task<JobRecord?> FailRoundAsync(JobRecord job, RoundRecord round, string message, CancellationToken ct)
    {
        var failed = await store.UpdateRoundAsync(round with { State = RoundState.Failed, Message = message }, ct).ConfigureAwait(false);
        if (failed is null)
        {
            return job;
        }

        metrics.RoundsFailed.Add(1);
        logger.LogWarning("Job {JobId} round {Round} failed: {Message}", job.JobId, round.Round, message);
        await store.WithdrawTasksAsync($"{RoundScope(job.JobId, round.Round)}:noise", ct).ConfigureAwait(false);
        await store.WithdrawTasksAsync($"{RoundScope(job.JobId, round.Round)}:decrypt", ct).ConfigureAwait(false);
        return await FailJobAsync(job, $"round {round.Round} failed: {message}", ct).ConfigureAwait(false);
    }

    private async Task<JobRecord?> FailJobAsync(JobRecord job, string message, CancellationToken ct)
    {
        var failed = await UpdateJobAsync(job with { State = JobState.Failed, Message = message }, ct).ConfigureAwait(false);
        if (failed is not null)
        {
            logger.LogWarning("Job {JobId} failed: {Message}", job.JobId, message);
        }

        return failed;
    }

    private async Task<JobRecord?> UpdateJobAsync(JobRecord job, CancellationToken ct)
    {
        var updated = await store.UpdateJobAsync(job with { UpdatedAt = time.GetUtcNow() }, ct).ConfigureAwait(false);
        if (updated is not null && (updated.State != job.State || updated.CurrentRound != job.CurrentRound))
        {
            rounds.Changed.Pulse();
        }

        rounds.Changed.Pulse();
        return updated;
    }

    private async Task<JobRecord?> JobMessageAsync(JobRecord job, string message, CancellationToken ct)
    {
        if (job.Message == message)
        {
            return null;
        }

        await store.UpdateJobAsync(job with { Message = message }, ct).ConfigureAwait(false);
        return null;
    }

    private async Task RoundMessageAsync(RoundRecord round, string message, CancellationToken ct)
    {
        if (round.Message != message)
        {
            await store.UpdateRoundAsync(round with { Message = message }, ct).ConfigureAwait(false);
        }
    }

    // ------------------------------------------------------------------ encodings

    internal static byte[] DoublesToBytes(ReadOnlySpan<double> values)
    {
        var bytes = new byte[values.Length * sizeof(double)];
        for (int i = 0; i < values.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        }

        return bytes;
    }

    internal static double[] BytesToDoubles(ReadOnlySpan<byte> bytes)
    {
        var values = new double[bytes.Length / sizeof(double)];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * 8)..]);
        }

        return values;
    }

    internal static byte[] Pack(IEnumerable<byte[]> parts)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        var list = parts.ToList();
        w.Write(list.Count);
        foreach (var p in list)
        {
            w.Write(p.Length);
            w.Write(p);
        }

        w.Flush();
        return ms.ToArray();
    }

    internal static IReadOnlyList<byte[]> Unpack(byte[] packed)
    {
        using var r = new BinaryReader(new MemoryStream(packed));
        int n = r.ReadInt32();
        var result = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            result[i] = r.ReadBytes(r.ReadInt32());
        }

        return result;
    }
}
