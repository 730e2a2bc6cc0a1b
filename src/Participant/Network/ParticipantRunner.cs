using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PrivateHealth.Grpc;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Data;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Participant.Network;

/// <summary>Settings of a <see cref="ParticipantRunner"/>.</summary>
public sealed record ParticipantRunnerOptions
{
    public required string JobId { get; init; }

    /// <summary>The id the participant authenticates as (its token's subject).</summary>
    public required string ParticipantId { get; init; }

    /// <summary>Index seeding local training; default derived from the participant id.</summary>
    public int? ClientIndex { get; init; }

    public RetryPolicy Retry { get; init; } = new();
}

/// <summary>
/// The participant side of federated training over the network: enrolls with its consent, follows the round
/// stream, and when sampled trains locally, encrypts the weighted update under the collective key and uploads
/// it. An upload is kept until acknowledged and re-sent byte for byte after a disconnect (the coordinator
/// counts it once). Returns the final round event (with the final model when the job completed).
/// </summary>
public sealed class ParticipantRunner(CoordinatorClient client, ParticipantAgent agent, Dataset localData, ParticipantRunnerOptions options, ILogger? logger = null)
{
    private static readonly ConcurrentDictionary<string, CkksParameters> ParametersById = new(StringComparer.Ordinal);
    private readonly ILogger _log = logger ?? NullLogger.Instance;
    private readonly Dictionary<int, (UploadRequest Request, long FirstSent)> _pending = [];
    private readonly HashSet<int> _done = [];
    private readonly Dictionary<int, TimeSpan> _uploadLatencies = [];

    /// <summary>Rounds whose upload the coordinator acknowledged.</summary>
    public IReadOnlyCollection<int> UploadedRounds => _done;

    /// <summary>
    /// Per acknowledged round: the client-visible time of the upload, from its first send to the acknowledgment
    /// (reconnects, retries and backoff included; local training and encryption not). Read it after the run.
    /// </summary>
    public IReadOnlyDictionary<int, TimeSpan> UploadLatencies => _uploadLatencies;

    /// <summary>Bytes of ciphertext uploaded (acknowledged).</summary>
    public long BytesUploaded { get; private set; }

    public async Task<RoundEvent> RunAsync(CancellationToken ct)
    {
        var reply = await options.Retry.RunAsync(c => client.GetParametersAsync(options.JobId, c), ct).ConfigureAwait(false);
        var spec = reply.Job;
        var parameters = ParametersById.GetOrAdd(reply.ParametersId, _ => CkksSerializer.DeserializeParameters(reply.Parameters.Span));
        var publicKey = new CkksSerializer(parameters).DeserializePublicKey(reply.PublicKey.Span);
        var training = agent.Consent.IsAllowed(ConsentPurpose.Training, spec.CohortId);
        await options.Retry.RunAsync(c => client.EnrollAsync(new EnrollRequest
        {
            ParticipantId = options.ParticipantId,
            CohortId = spec.CohortId,
            Training = training,
            Analytics = agent.Consent.IsAllowed(ConsentPurpose.Analytics, spec.CohortId),
        }, c), ct).ConfigureAwait(false);
        int clientIndex = options.ClientIndex ?? TrainingJobSpecs.ClientIndexOf(options.ParticipantId);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await foreach (var ev in client.WatchRoundsAsync(options.JobId, options.ParticipantId, ct).ConfigureAwait(false))
                {
                    attempt = 0;
                    if (ev.State.StartsWith("job-", StringComparison.Ordinal))
                    {
                        return ev;
                    }

                    if (ev.State == "open" && ev.Selected && training && !_done.Contains(ev.Round))
                    {
                        await UploadAsync(ev, spec, parameters, publicKey, clientIndex, ct).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception ex) when (CoordinatorClient.IsTransient(ex) && !ct.IsCancellationRequested)
            {
                _log.LogDebug(ex, "{Participant}: connection lost; retrying", options.ParticipantId);
            }

            await Task.Delay(options.Retry.Delay(attempt), ct).ConfigureAwait(false);
        }
    }

    private async Task UploadAsync(RoundEvent ev, TrainingJobSpec spec, CkksParameters parameters, PublicKey publicKey, int clientIndex, CancellationToken ct)
    {
        if (!_pending.TryGetValue(ev.Round, out var pending))
        {
            var model = spec.CreateModel([.. ev.GlobalModel]);
            var contribution = agent.CreateTrainingContribution(spec.CohortId, model, localData, spec.ToFederatedConfig(), ev.Round, clientIndex, parameters, publicKey,
                spec.DifferentialPrivacy() ? spec.DpClipNorm : 0);
            var request = new UploadRequest { JobId = options.JobId, Round = ev.Round, ParticipantId = options.ParticipantId, ParametersId = parameters.Id.ToString() };
            request.Ciphertexts.AddRange(contribution.Ciphertexts.Select(ByteString.CopyFrom));
            pending = (request, Stopwatch.GetTimestamp());
            _pending[ev.Round] = pending;
        }

        try
        {
            var reply = await options.Retry.RunAsync(c => client.UploadAsync(pending.Request, c), ct).ConfigureAwait(false);
            if (reply.Accepted)
            {
                _done.Add(ev.Round);
                _uploadLatencies[ev.Round] = Stopwatch.GetElapsedTime(pending.FirstSent);
                BytesUploaded += pending.Request.Ciphertexts.Sum(c => (long)c.Length);
            }
        }
        catch (GrpcStatusException ex) when (ex.StatusCode is StatusCode.FailedPrecondition or StatusCode.AlreadyExists or StatusCode.PermissionDenied)
        {
            // the round closed first, or this participant's update is already recorded: nothing to resend
            _log.LogInformation("{Participant}: round {Round} upload not taken: {Detail}", options.ParticipantId, ev.Round, ex.Detail);
            _done.Add(ev.Round);
        }

        _pending.Remove(ev.Round);
    }
}
