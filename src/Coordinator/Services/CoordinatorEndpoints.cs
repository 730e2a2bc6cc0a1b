using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Coordinator.Training;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Services;

/// <summary>Maps the participant, custodian and operator gRPC services, each behind its role.</summary>
public static class CoordinatorEndpoints
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(5);

    public static void MapCoordinatorGrpc(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var sp = app.ServiceProvider;
        var store = sp.GetRequiredService<ICoordinatorStore>();
        var training = sp.GetRequiredService<TrainingService>();
        var ceremony = sp.GetRequiredService<KeyCeremonyService>();
        var custodians = sp.GetRequiredService<CustodianService>();
        var keys = sp.GetRequiredService<KeySetRegistry>();
        var presence = sp.GetRequiredService<PresenceTracker>();
        var board = sp.GetRequiredService<CustodianTaskBoard>();
        var rounds = sp.GetRequiredService<RoundBoard>();
        var time = sp.GetRequiredService<TimeProvider>();
        var analytics = sp.GetRequiredService<Analytics.AnalyticsService>();
        var queries = sp.GetRequiredService<Analytics.QueryJobService>();
        var settlement = sp.GetRequiredService<Settlement.SettlementService>();

        // ---------------------------------------------------------------- participants
        app.MapGrpcUnary<GetParametersRequest, ParametersReply>(Methods.GetParameters, async (request, context) =>
        {
            var job = await RequireJobAsync(store, request.JobId, context.CancellationToken).ConfigureAwait(false);
            var material = await keys.GetReadyAsync(job.KeySetId, context.CancellationToken).ConfigureAwait(false)
                ?? throw new GrpcStatusException(StatusCode.Unavailable, "The job's key ceremony has not finished; retry later.");
            return new ParametersReply
            {
                Parameters = ByteString.CopyFrom(material.ParametersBytes),
                ParametersId = material.Parameters.Id.ToString(),
                PublicKey = ByteString.CopyFrom(material.PublicKeyBytes),
                Job = TrainingJobSpec.Parser.ParseFrom(job.Spec),
                KeySetId = job.KeySetId,
            };
        }).RequireRoles(Roles.Participant, Roles.Operator, Roles.Researcher);

        app.MapGrpcUnary<EnrollRequest, EnrollReply>(Methods.Enroll, async (request, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            if (string.IsNullOrWhiteSpace(request.CohortId) || request.CohortId.Length > 200)
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, "cohort_id is required (at most 200 characters).");
            }

            if (!string.IsNullOrEmpty(request.PayoutAddress))
            {
                try
                {
                    await settlement.SetPayoutAddressAsync(request.ParticipantId, request.PayoutAddress, context.CancellationToken).ConfigureAwait(false);
                }
                catch (ArgumentException ex)
                {
                    throw new GrpcStatusException(StatusCode.InvalidArgument, ex.Message);
                }
                catch (InvalidOperationException ex)
                {
                    throw new GrpcStatusException(StatusCode.AlreadyExists, ex.Message);
                }
            }

            await store.UpsertEnrollmentAsync(new EnrollmentRecord
            {
                ParticipantId = request.ParticipantId,
                CohortId = request.CohortId,
                Training = request.Training,
                Analytics = request.Analytics,
                UpdatedAt = time.GetUtcNow(),
            }, context.CancellationToken).ConfigureAwait(false);
            rounds.Changed.Pulse();
            return new EnrollReply { Enrolled = request.Training || request.Analytics };
        }).RequireRoles(Roles.Participant);

        app.MapGrpcServerStreaming<WatchRequest, RoundEvent>(Methods.WatchRounds, async (request, stream, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            await RequireJobAsync(store, request.JobId, context.CancellationToken).ConfigureAwait(false);
            using var online = presence.ParticipantConnected(request.ParticipantId);
            string? last = null;
            var ct = context.CancellationToken;
            while (!ct.IsCancellationRequested)
            {
                var wake = rounds.Changed.WaitAsync(Heartbeat, ct);
                var job = await store.GetJobAsync(request.JobId, ct).ConfigureAwait(false);
                if (job is null)
                {
                    return;
                }

                var round = await store.GetRoundAsync(job.JobId, job.CurrentRound, ct).ConfigureAwait(false);
                var ev = RoundEventFor(job, round, request.ParticipantId);
                string key = $"{ev.Round}|{ev.State}|{ev.Selected}|{ev.DeadlineUnixMs}";
                if (key != last)
                {
                    await stream.WriteAsync(ev, ct).ConfigureAwait(false);
                    last = key;
                }

                if (job.State is JobState.Completed or JobState.Failed or JobState.Cancelled)
                {
                    return;
                }

                try
                {
                    await wake.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }).RequireRoles(Roles.Participant);

        app.MapGrpcServerStreaming<WatchJobsRequest, JobAnnouncement>(Methods.WatchJobs, async (request, stream, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            if (string.IsNullOrEmpty(request.CohortId))
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, "cohort_id is required.");
            }

            using var online = presence.ParticipantConnected(request.ParticipantId);
            // jobs already announced, or of another cohort: each job's spec is read once per stream
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var ct = context.CancellationToken;
            while (!ct.IsCancellationRequested)
            {
                var wake = rounds.Changed.WaitAsync(Heartbeat, ct);
                foreach (var job in await store.ListJobsAsync(ct).ConfigureAwait(false))
                {
                    if (job.State is not (JobState.Pending or JobState.Running) || !seen.Add(job.JobId))
                    {
                        continue;
                    }

                    var spec = TrainingJobSpec.Parser.ParseFrom(job.Spec);
                    if (!string.Equals(spec.CohortId, request.CohortId, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    await stream.WriteAsync(new JobAnnouncement
                    {
                        JobId = job.JobId,
                        CohortId = spec.CohortId,
                        Kind = spec.IsFederatedQuery() ? "federated-query" : "training",
                        State = job.State == JobState.Pending ? "pending" : "running",
                    }, ct).ConfigureAwait(false);
                }

                try
                {
                    await wake.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }).RequireRoles(Roles.Participant);

        app.MapGrpcUnary<GetEarningsRequest, EarningsReply>(Methods.GetEarnings, (request, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            return settlement.EarningsAsync(request.ParticipantId, context.CancellationToken);
        }).RequireRoles(Roles.Participant);

        app.MapGrpcUnary<UploadRequest, UploadReply>(Methods.UploadUpdate, (request, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            return training.UploadAsync(request, context.CancellationToken);
        }).RequireRoles(Roles.Participant);

        // ---------------------------------------------------------------- custodians
        app.MapGrpcUnary<CustodianRegistration, CustodianRegistered>(Methods.Register, (request, context) =>
        {
            context.EnsureCallerIs(request.CustodianId);
            return custodians.RegisterAsync(request, context.CancellationToken);
        }).RequireRoles(Roles.Custodian);

        app.MapGrpcServerStreaming<CustodianWatchRequest, CustodianTask>(Methods.WatchTasks, async (request, stream, context) =>
        {
            context.EnsureCallerIs(request.CustodianId);
            var ct = context.CancellationToken;
            int party = await custodians.PartyOfAsync(request.CustodianId, ct).ConfigureAwait(false);
            using var online = presence.CustodianConnected(party);
            var sent = new HashSet<string>(StringComparer.Ordinal);
            while (!ct.IsCancellationRequested)
            {
                var wake = board.Changed.WaitAsync(Heartbeat, ct);
                foreach (var task in await store.ListPendingTasksAsync(party, ct).ConfigureAwait(false))
                {
                    if (sent.Add(task.TaskId))
                    {
                        await stream.WriteAsync(CustodianTask.Parser.ParseFrom(task.Payload), ct).ConfigureAwait(false);
                    }
                }

                try
                {
                    await wake.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }).RequireRoles(Roles.Custodian);

        app.MapGrpcUnary<CustodianAnswer, CustodianAnswerReply>(Methods.SubmitAnswer, (request, context) =>
        {
            context.EnsureCallerIs(request.CustodianId);
            return custodians.SubmitAsync(request, context.CancellationToken);
        }).RequireRoles(Roles.Custodian);

        // ---------------------------------------------------------------- operators
        app.MapGrpcUnary<StartKeyCeremonyRequest, KeyCeremonyStatus>(Methods.StartKeyCeremony, async (request, context) =>
        {
            try
            {
                var ks = await ceremony.StartAsync(request.Preset, request.Members, request.Threshold, [.. request.Rotations], request.RelinearizationKey, context.CancellationToken).ConfigureAwait(false);
                board.Answered.Pulse();
                return await CeremonyStatusAsync(store, ks.KeySetId, context.CancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException ex)
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, ex.Message);
            }
        }).RequireRoles(Roles.Operator);

        app.MapGrpcUnary<GetKeyCeremonyRequest, KeyCeremonyStatus>(Methods.GetKeyCeremony, (request, context) =>
            CeremonyStatusAsync(store, request.KeySetId, context.CancellationToken)).RequireRoles(Roles.Operator);

        app.MapGrpcUnary<CreateTrainingJobRequest, JobStatus>(Methods.CreateTrainingJob, async (request, context) =>
        {
            try
            {
                var job = await training.CreateJobAsync(request.Spec ?? new TrainingJobSpec(), request.KeySetId, request.IdempotencyKey, context.CancellationToken).ConfigureAwait(false);
                return await JobStatusBuilder.BuildAsync(store, job.JobId, context.CancellationToken).ConfigureAwait(false);
            }
            catch (KeyNotFoundException ex)
            {
                throw new GrpcStatusException(StatusCode.NotFound, ex.Message);
            }
            catch (ArgumentException ex)
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, ex.Message);
            }
        }).RequireRoles(Roles.Operator, Roles.Researcher);

        app.MapGrpcUnary<GetJobRequest, JobStatus>(Methods.GetJob, (request, context) =>
            JobStatusBuilder.BuildAsync(store, request.JobId, context.CancellationToken)).RequireRoles(Roles.Operator, Roles.Researcher);

        app.MapGrpcUnary<GetJobRequest, JobStatus>(Methods.CancelJob, async (request, context) =>
        {
            try
            {
                await training.CancelAsync(request.JobId, context.CancellationToken).ConfigureAwait(false);
            }
            catch (KeyNotFoundException ex)
            {
                throw new GrpcStatusException(StatusCode.NotFound, ex.Message);
            }

            return await JobStatusBuilder.BuildAsync(store, request.JobId, context.CancellationToken).ConfigureAwait(false);
        }).RequireRoles(Roles.Operator);

        // ---------------------------------------------------------------- analytics
        app.MapGrpcUnary<GetCohortRequest, CohortInfo>(Methods.GetCohort, (request, context) =>
            analytics.GetCohortInfoAsync(request.CohortId, context.CancellationToken)).RequireRoles(Roles.Participant, Roles.Operator, Roles.Researcher);

        app.MapGrpcUnary<ContributionRequest, ContributionReply>(Methods.UploadContribution, (request, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            return analytics.ContributeAsync(request, context.CancellationToken);
        }).RequireRoles(Roles.Participant);

        app.MapGrpcUnary<RevokeContributionRequest, RevokeContributionReply>(Methods.RevokeContribution, (request, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            return analytics.RevokeAsync(request, context.CancellationToken);
        }).RequireRoles(Roles.Participant);

        app.MapGrpcUnary<CreateCohortRequest, CohortStatus>(Methods.CreateCohort, async (request, context) =>
        {
            try
            {
                var cohort = await analytics.CreateCohortAsync(request.KeySetId, request.SchemaJson, context.CancellationToken).ConfigureAwait(false);
                return await analytics.StatusAsync(cohort.CohortId, context.CancellationToken).ConfigureAwait(false);
            }
            catch (KeyNotFoundException ex)
            {
                throw new GrpcStatusException(StatusCode.NotFound, ex.Message);
            }
            catch (ArgumentException ex)
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, ex.Message);
            }
            catch (InvalidOperationException ex)
            {
                throw new GrpcStatusException(StatusCode.AlreadyExists, ex.Message);
            }
        }).RequireRoles(Roles.Operator);

        app.MapGrpcUnary<GetCohortStatusRequest, CohortStatus>(Methods.GetCohortStatus, (request, context) =>
            analytics.StatusAsync(request.CohortId, context.CancellationToken)).RequireRoles(Roles.Operator, Roles.Researcher);

        app.MapGrpcUnary<QuoteQueryRequest, QueryQuote>(Methods.QuoteQuery, (request, context) =>
            queries.QuoteAsync(context.PrincipalId!, request, context.CancellationToken)).RequireRoles(Roles.Researcher);

        app.MapGrpcUnary<SubmitQueryRequest, QueryJobStatus>(Methods.SubmitQuery, (request, context) =>
            queries.SubmitAsync(context.PrincipalId!, request, context.CancellationToken)).RequireRoles(Roles.Researcher);

        app.MapGrpcUnary<GetQueryJobRequest, QueryJobStatus>(Methods.GetQueryJob, (request, context) =>
            queries.GetAsync(request.JobId, context.PrincipalId!, context.Role == Roles.Operator, context.CancellationToken)).RequireRoles(Roles.Researcher, Roles.Operator);

        app.MapGrpcUnimplemented();
    }

    private static async Task<JobRecord> RequireJobAsync(ICoordinatorStore store, string jobId, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(jobId))
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, "job_id is required.");
        }

        return await store.GetJobAsync(jobId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.NotFound, $"Job '{jobId}' not found.");
    }

    internal static RoundEvent RoundEventFor(JobRecord job, RoundRecord? round, string participantId)
    {
        var ev = new RoundEvent { JobId = job.JobId, Round = job.CurrentRound, Message = job.Message ?? string.Empty };
        switch (job.State)
        {
            case JobState.Completed:
                ev.State = "job-completed";
                ev.GlobalModel.AddRange(job.GlobalModel);
                return ev;
            case JobState.Failed:
                ev.State = "job-failed";
                return ev;
            case JobState.Cancelled:
                ev.State = "job-cancelled";
                return ev;
        }

        if (round is null)
        {
            ev.State = "waiting";
            return ev;
        }

        ev.State = round.State.ToString().ToLowerInvariant();
        ev.Selected = round.Selected.Contains(participantId, StringComparer.Ordinal);
        ev.DeadlineUnixMs = round.Deadline.ToUnixTimeMilliseconds();
        if (round.State == RoundState.Open && ev.Selected)
        {
            ev.GlobalModel.AddRange(job.GlobalModel);
        }

        return ev;
    }

    private static async Task<KeyCeremonyStatus> CeremonyStatusAsync(ICoordinatorStore store, string keySetId, CancellationToken ct)
    {
        var ks = await store.GetKeySetAsync(keySetId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.NotFound, $"Key set '{keySetId}' not found.");
        var status = new KeyCeremonyStatus
        {
            KeySetId = ks.KeySetId,
            State = ks.State,
            Phase = ks.Phase,
            Members = ks.Members,
            Threshold = ks.Threshold,
            Message = ks.Message ?? string.Empty,
        };
        status.RegisteredParties.AddRange((await store.ListCustodiansAsync(ct).ConfigureAwait(false)).Select(c => c.Party).Order());
        return status;
    }
}

/// <summary>Builds the operator/researcher view of a job.</summary>
public static class JobStatusBuilder
{
    public static async Task<JobStatus> BuildAsync(ICoordinatorStore store, string jobId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        var job = await store.GetJobAsync(jobId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.NotFound, $"Job '{jobId}' not found.");
        var spec = TrainingJobSpec.Parser.ParseFrom(job.Spec);
        var status = new JobStatus
        {
            JobId = job.JobId,
            State = job.State.ToString().ToLowerInvariant(),
            CurrentRound = job.CurrentRound,
            Rounds = spec.Rounds,
            Message = job.Message ?? string.Empty,
            Spec = spec,
        };
        status.GlobalModel.AddRange(job.GlobalModel);
        foreach (var round in await store.ListRoundsAsync(jobId, ct).ConfigureAwait(false))
        {
            var (participants, bytes) = await store.GetUploadSummaryAsync(jobId, round.Round, ct).ConfigureAwait(false);
            var data = RoundData.Parse(round.Data);
            status.History.Add(new RoundStatus
            {
                Round = round.Round,
                State = round.State.ToString().ToLowerInvariant(),
                Selected = round.Selected.Count,
                Received = participants.Count,
                Bytes = bytes,
                TotalWeight = data.TotalWeight,
                Message = round.Message ?? string.Empty,
                Extensions = round.Extensions,
                TrainLoss = data.Loss ?? 0,
                TrainAccuracy = data.Accuracy ?? 0,
                MetricExamples = data.MetricExamples,
            });
        }

        return status;
    }
}
