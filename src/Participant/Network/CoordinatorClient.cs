using System.Net.Http;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Participant.Network;

/// <summary>
/// Typed client of the coordinator's gRPC services (our own framing over HTTP/2; h2c for http:// addresses, TLS
/// for https://), sending a bearer token with every call.
/// </summary>
public sealed class CoordinatorClient : IDisposable
{
    private readonly GrpcChannelLite _channel;

    public CoordinatorClient(Uri address, string bearerToken, int maxReceiveMessageSize = 64 * 1024 * 1024)
        : this(address, _ => ValueTask.FromResult<string?>(bearerToken), maxReceiveMessageSize)
    {
    }

    /// <param name="address">http:// (h2c) or https:// (TLS, HTTP/2 over ALPN) address of the coordinator.</param>
    /// <param name="tokenProvider">Bearer token for each call.</param>
    /// <param name="maxReceiveMessageSize">Largest reply accepted.</param>
    /// <param name="trustedServerCertificate">For https: also accept this certificate (e.g. a self-signed one), by thumbprint.</param>
    public CoordinatorClient(Uri address, Func<CancellationToken, ValueTask<string?>> tokenProvider, int maxReceiveMessageSize = 64 * 1024 * 1024,
        System.Security.Cryptography.X509Certificates.X509Certificate2? trustedServerCertificate = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        var inner = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        if (trustedServerCertificate is not null)
        {
            string thumbprint = trustedServerCertificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256);
            inner.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                errors == System.Net.Security.SslPolicyErrors.None
                || (certificate is not null && string.Equals(certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256), thumbprint, StringComparison.OrdinalIgnoreCase));
        }

        _channel = new GrpcChannelLite(address, new BearerTokenHandler(tokenProvider, inner)) { MaxReceiveMessageSize = maxReceiveMessageSize };
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>Per-call deadline for unary calls. Default 60 s.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public Task<ParametersReply> GetParametersAsync(string jobId, CancellationToken ct = default) =>
        Unary<GetParametersRequest, ParametersReply>(Methods.GetParameters, new GetParametersRequest { JobId = jobId }, ct);

    public Task<EnrollReply> EnrollAsync(EnrollRequest request, CancellationToken ct = default) =>
        Unary<EnrollRequest, EnrollReply>(Methods.Enroll, request, ct);

    public IAsyncEnumerable<RoundEvent> WatchRoundsAsync(string jobId, string participantId, CancellationToken ct = default) =>
        _channel.ServerStreamingAsync<WatchRequest, RoundEvent>(Methods.WatchRounds, new WatchRequest { JobId = jobId, ParticipantId = participantId }, null, ct);

    /// <summary>The running jobs of a cohort (training and federated-query collections), then each new one.</summary>
    public IAsyncEnumerable<JobAnnouncement> WatchJobsAsync(string cohortId, string participantId, CancellationToken ct = default) =>
        _channel.ServerStreamingAsync<WatchJobsRequest, JobAnnouncement>(Methods.WatchJobs, new WatchJobsRequest { CohortId = cohortId, ParticipantId = participantId }, null, ct);

    /// <summary>The caller's earnings over settled jobs (amounts, proofs, claim status).</summary>
    public Task<EarningsReply> GetEarningsAsync(string participantId, CancellationToken ct = default) =>
        Unary<GetEarningsRequest, EarningsReply>(Methods.GetEarnings, new GetEarningsRequest { ParticipantId = participantId }, ct);

    public Task<UploadReply> UploadAsync(UploadRequest request, CancellationToken ct = default) =>
        Unary<UploadRequest, UploadReply>(Methods.UploadUpdate, request, ct);

    public Task<CohortInfo> GetCohortAsync(string cohortId, CancellationToken ct = default) =>
        Unary<GetCohortRequest, CohortInfo>(Methods.GetCohort, new GetCohortRequest { CohortId = cohortId }, ct);

    public Task<ContributionReply> UploadContributionAsync(ContributionRequest request, CancellationToken ct = default) =>
        Unary<ContributionRequest, ContributionReply>(Methods.UploadContribution, request, ct);

    public Task<RevokeContributionReply> RevokeContributionAsync(RevokeContributionRequest request, CancellationToken ct = default) =>
        Unary<RevokeContributionRequest, RevokeContributionReply>(Methods.RevokeContribution, request, ct);

    public Task<CohortStatus> CreateCohortAsync(CreateCohortRequest request, CancellationToken ct = default) =>
        Unary<CreateCohortRequest, CohortStatus>(Methods.CreateCohort, request, ct);

    public Task<CohortStatus> GetCohortStatusAsync(GetCohortStatusRequest request, CancellationToken ct = default) =>
        Unary<GetCohortStatusRequest, CohortStatus>(Methods.GetCohortStatus, request, ct);

    public Task<QueryQuote> QuoteQueryAsync(QuoteQueryRequest request, CancellationToken ct = default) =>
        Unary<QuoteQueryRequest, QueryQuote>(Methods.QuoteQuery, request, ct);

    public Task<QueryJobStatus> SubmitQueryAsync(SubmitQueryRequest request, CancellationToken ct = default) =>
        Unary<SubmitQueryRequest, QueryJobStatus>(Methods.SubmitQuery, request, ct);

    public Task<QueryJobStatus> GetQueryJobAsync(string jobId, CancellationToken ct = default) =>
        Unary<GetQueryJobRequest, QueryJobStatus>(Methods.GetQueryJob, new GetQueryJobRequest { JobId = jobId }, ct);

    public Task<CustodianRegistered> RegisterCustodianAsync(CustodianRegistration request, CancellationToken ct = default) =>
        Unary<CustodianRegistration, CustodianRegistered>(Methods.Register, request, ct);

    public IAsyncEnumerable<CustodianTask> WatchTasksAsync(string custodianId, CancellationToken ct = default) =>
        _channel.ServerStreamingAsync<CustodianWatchRequest, CustodianTask>(Methods.WatchTasks, new CustodianWatchRequest { CustodianId = custodianId }, null, ct);

    public Task<CustodianAnswerReply> SubmitAnswerAsync(CustodianAnswer answer, CancellationToken ct = default) =>
        Unary<CustodianAnswer, CustodianAnswerReply>(Methods.SubmitAnswer, answer, ct);

    public Task<KeyCeremonyStatus> StartKeyCeremonyAsync(StartKeyCeremonyRequest request, CancellationToken ct = default) =>
        Unary<StartKeyCeremonyRequest, KeyCeremonyStatus>(Methods.StartKeyCeremony, request, ct);

    public Task<KeyCeremonyStatus> GetKeyCeremonyAsync(string keySetId, CancellationToken ct = default) =>
        Unary<GetKeyCeremonyRequest, KeyCeremonyStatus>(Methods.GetKeyCeremony, new GetKeyCeremonyRequest { KeySetId = keySetId }, ct);

    public Task<JobStatus> CreateTrainingJobAsync(CreateTrainingJobRequest request, CancellationToken ct = default) =>
        Unary<CreateTrainingJobRequest, JobStatus>(Methods.CreateTrainingJob, request, ct);

    public Task<JobStatus> GetJobAsync(string jobId, CancellationToken ct = default) =>
        Unary<GetJobRequest, JobStatus>(Methods.GetJob, new GetJobRequest { JobId = jobId }, ct);

    public Task<JobStatus> CancelJobAsync(string jobId, CancellationToken ct = default) =>
        Unary<GetJobRequest, JobStatus>(Methods.CancelJob, new GetJobRequest { JobId = jobId }, ct);

    private Task<TReply> Unary<TRequest, TReply>(string method, TRequest request, CancellationToken ct)
        where TRequest : Google.Protobuf.IMessage<TRequest>
        where TReply : Google.Protobuf.IMessage<TReply> =>
        _channel.UnaryAsync<TRequest, TReply>(method, request, CallTimeout, ct);

    /// <summary>
    /// Whether a failure is worth retrying: the coordinator is unreachable or restarting (connection errors,
    /// UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL from a torn stream).
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        GrpcStatusException g => g.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted or StatusCode.Cancelled,
        HttpRequestException or IOException or System.Net.Sockets.SocketException or TimeoutException => true,
        _ => false,
    };

    public void Dispose() => _channel.Dispose();
}

/// <summary>Backoff between retries of transient failures: doubling from <see cref="Initial"/> to <see cref="Max"/>.</summary>
public sealed record RetryPolicy
{
    public TimeSpan Initial { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan Max { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// INTERNAL/UNKNOWN answers are retried (a coordinator killed mid-call tears the stream) but at most this many
    /// times, so a request the server always fails on is not resent forever. Connection failures retry without limit.
    /// </summary>
    public int MaxServerErrors { get; init; } = 5;

    public TimeSpan Delay(int attempt) => TimeSpan.FromMilliseconds(Math.Min(Max.TotalMilliseconds, Initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20))));

    /// <summary>Runs <paramref name="call"/> until it succeeds or fails with a non-transient error.</summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(call);
        int serverErrors = 0;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await call(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (CoordinatorClient.IsTransient(ex) && !ct.IsCancellationRequested
                && !(ex is GrpcStatusException { StatusCode: StatusCode.Internal or StatusCode.Unknown } && ++serverErrors > MaxServerErrors))
            {
                await Task.Delay(Delay(attempt), ct).ConfigureAwait(false);
            }
        }
    }
}
