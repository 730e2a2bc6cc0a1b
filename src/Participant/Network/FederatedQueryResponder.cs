using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PrivateHealth.EncryptedQuery.Federated;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Participant.Network;

/// <summary>Settings of a <see cref="FederatedQueryResponder"/>.</summary>
public sealed record FederatedQueryResponderOptions
{
    /// <summary>The id the participant authenticates as (its token's subject).</summary>
    public required string ParticipantId { get; init; }

    /// <summary>The cohort whose federated queries this agent answers.</summary>
    public required string CohortId { get; init; }

    public RetryPolicy Retry { get; init; } = new();
}

/// <summary>
/// The participant side of federated queries: while running, the agent counts as online for its cohort; for every
/// federated-query collection the coordinator announces, and only with an analytics consent for the cohort, it evaluates
/// the query's WHERE clause on its own summary, encrypts its encoded contribution (zeros when it does not match, so the
/// upload does not reveal the answer) and uploads it in the collection round when sampled. An upload is re-sent byte
/// for byte after a disconnect (counted once). Runs until cancelled.
/// </summary>
public sealed class FederatedQueryResponder(
    CoordinatorClient client,
    ParticipantAgent agent,
    Func<IReadOnlyDictionary<string, object>> summary,
    FederatedQueryResponderOptions options,
    ILogger? logger = null)
{
    private readonly ILogger _log = logger ?? NullLogger.Instance;
    private readonly HashSet<string> _answered = new(StringComparer.Ordinal);
    private readonly HashSet<string> _declined = new(StringComparer.Ordinal);
    private CohortSchema? _schema;
    private CkksParameters? _parameters;
    private PublicKey? _publicKey;

    /// <summary>Collections this agent uploaded to (acknowledged).</summary>
    public IReadOnlyCollection<string> Answered => _answered;

    /// <summary>Collections this agent saw and did not answer (no consent, not sampled, or closed first).</summary>
    public IReadOnlyCollection<string> Declined => _declined;

    public async Task RunAsync(CancellationToken ct)
    {
        string cohort = options.CohortId;
        var info = await options.Retry.RunAsync(c => client.GetCohortAsync(cohort, c), ct).ConfigureAwait(false);
        _schema = CohortSchema.Parse(info.SchemaJson);
        _parameters = CkksSerializer.DeserializeParameters(info.Parameters.Span);
        _publicKey = new CkksSerializer(_parameters).DeserializePublicKey(info.PublicKey.Span);
        await options.Retry.RunAsync(c => client.EnrollAsync(new EnrollRequest
        {
            ParticipantId = options.ParticipantId,
            CohortId = cohort,
            Training = agent.Consent.IsAllowed(ConsentPurpose.Training, cohort),
            Analytics = agent.Consent.IsAllowed(ConsentPurpose.Analytics, cohort),
        }, c), ct).ConfigureAwait(false);

        var running = new List<Task>();
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await foreach (var job in client.WatchJobsAsync(cohort, options.ParticipantId, ct).ConfigureAwait(false))
                {
                    attempt = 0;
                    if (job.Kind == "federated-query" && !Seen(job.JobId))
                    {
                        running.RemoveAll(t => t.IsCompleted);
                        running.Add(AnswerAsync(job.JobId, ct));
                    }
                }
            }
            catch (Exception ex) when (CoordinatorClient.IsTransient(ex) && !ct.IsCancellationRequested)
            {
                _log.LogDebug(ex, "{Participant}: job stream lost; retrying", options.ParticipantId);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
                throw;
            }

            await Task.Delay(options.Retry.Delay(attempt), ct).ConfigureAwait(false);
        }
    }

    private bool Seen(string jobId)
    {
        lock (_answered)
        {
            lock (_declined)
            {
                return _answered.Contains(jobId) || _declined.Contains(jobId);
            }
        }
    }

    private async Task AnswerAsync(string jobId, CancellationToken ct)
    {
        try
        {
            var reply = await options.Retry.RunAsync(c => client.GetParametersAsync(jobId, c), ct).ConfigureAwait(false);
            var spec = reply.Job;
            if (!spec.IsFederatedQuery() || spec.CohortId != options.CohortId || !agent.Consent.IsAllowed(ConsentPurpose.Analytics, spec.CohortId))
            {
                lock (_declined)
                {
                    _declined.Add(jobId);
                }

                return;
            }

            // the filter is evaluated here, on the device; only the encrypted vector leaves it
            var filter = LocalFilter.For(QueryParser.Parse(spec.FederatedQuery.Query), _schema);
            var contribution = agent.CreateAnalyticsContribution(spec.CohortId, _schema!, summary(), _parameters!, _publicKey!, filter);
            var request = new UploadRequest { JobId = jobId, Round = 0, ParticipantId = options.ParticipantId, ParametersId = _parameters!.Id.ToString() };
            request.Ciphertexts.Add(ByteString.CopyFrom(contribution.Ciphertexts[0]));

            await foreach (var ev in client.WatchRoundsAsync(jobId, options.ParticipantId, ct).ConfigureAwait(false))
            {
                if (ev.State.StartsWith("job-", StringComparison.Ordinal) || (ev.State == "open" && !ev.Selected))
                {
                    break;
                }

                if (ev.State != "open")
                {
                    continue;
                }

                try
                {
                    var uploaded = await options.Retry.RunAsync(c => client.UploadAsync(request, c), ct).ConfigureAwait(false);
                    if (uploaded.Accepted)
                    {
                        lock (_answered)
                        {
                            _answered.Add(jobId);
                        }

                        return;
                    }
                }
                catch (GrpcStatusException ex) when (ex.StatusCode is StatusCode.FailedPrecondition or StatusCode.AlreadyExists or StatusCode.PermissionDenied)
                {
                    _log.LogInformation("{Participant}: federated query {Job} not answered: {Detail}", options.ParticipantId, jobId, ex.Detail);
                }

                break;
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            // a query this agent cannot evaluate, or a summary that does not fit the schema: it does not answer
            _log.LogWarning("{Participant}: federated query {Job} not answered: {Message}", options.ParticipantId, jobId, ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _log.LogWarning(ex, "{Participant}: federated query {Job} failed", options.ParticipantId, jobId);
        }

        lock (_declined)
        {
            _declined.Add(jobId);
        }
    }
}
