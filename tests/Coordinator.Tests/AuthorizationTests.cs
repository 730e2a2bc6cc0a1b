using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Participant.Network;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// Authentication and authorization of every coordinator method over real gRPC: missing, expired and foreign tokens
/// are UNAUTHENTICATED; a wrong role or acting as somebody else is PERMISSION_DENIED; and nothing is stored for a
/// refused call.
/// </summary>
public sealed class AuthorizationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>One representative call of every method (streams are read until their first message or error).</summary>
    private static readonly (string Method, Func<GrpcChannelLite, Task> Call)[] AllMethods =
    [
        (Methods.GetParameters, c => Unary<GetParametersRequest, ParametersReply>(c, Methods.GetParameters, new GetParametersRequest { JobId = "job-x" })),
        (Methods.Enroll, c => Unary<EnrollRequest, EnrollReply>(c, Methods.Enroll, new EnrollRequest { ParticipantId = "p1", CohortId = "auth-cohort", Training = true })),
        (Methods.WatchRounds, c => First<WatchRequest, RoundEvent>(c, Methods.WatchRounds, new WatchRequest { JobId = "job-x", ParticipantId = "p1" })),
        (Methods.WatchJobs, c => First<WatchJobsRequest, JobAnnouncement>(c, Methods.WatchJobs, new WatchJobsRequest { CohortId = "auth-cohort", ParticipantId = "p1" })),
        (Methods.GetEarnings, c => Unary<GetEarningsRequest, EarningsReply>(c, Methods.GetEarnings, new GetEarningsRequest { ParticipantId = "p1" })),
        (Methods.UploadUpdate, c => Unary<UploadRequest, UploadReply>(c, Methods.UploadUpdate, new UploadRequest { JobId = "job-x", ParticipantId = "p1", Ciphertexts = { ByteString.CopyFrom(new byte[64]) } })),
        (Methods.Register, c => Unary<CustodianRegistration, CustodianRegistered>(c, Methods.Register, Registration("custodian-1", 1))),
        (Methods.WatchTasks, c => First<CustodianWatchRequest, CustodianTask>(c, Methods.WatchTasks, new CustodianWatchRequest { CustodianId = "custodian-1" })),
        (Methods.SubmitAnswer, c => Unary<CustodianAnswer, CustodianAnswerReply>(c, Methods.SubmitAnswer, new CustodianAnswer { CustodianId = "custodian-1", TaskId = "t-1" })),
        (Methods.StartKeyCeremony, c => Unary<StartKeyCeremonyRequest, KeyCeremonyStatus>(c, Methods.StartKeyCeremony, new StartKeyCeremonyRequest { Members = 3, Threshold = 2 })),
        (Methods.GetKeyCeremony, c => Unary<GetKeyCeremonyRequest, KeyCeremonyStatus>(c, Methods.GetKeyCeremony, new GetKeyCeremonyRequest { KeySetId = "ks-x" })),
        (Methods.CreateTrainingJob, c => Unary<CreateTrainingJobRequest, JobStatus>(c, Methods.CreateTrainingJob, new CreateTrainingJobRequest { KeySetId = "ks-x", Spec = new TrainingJobSpec { CohortId = "auth-cohort", Features = 3 } })),
        (Methods.GetJob, c => Unary<GetJobRequest, JobStatus>(c, Methods.GetJob, new GetJobRequest { JobId = "job-x" })),
        (Methods.CancelJob, c => Unary<GetJobRequest, JobStatus>(c, Methods.CancelJob, new GetJobRequest { JobId = "job-x" })),
    ];

    [Fact]
    public async Task Every_method_without_a_token_is_UNAUTHENTICATED()
    {
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        using var channel = new GrpcChannelLite(harness.Address);
        foreach (var (method, call) in AllMethods)
        {
            var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => call(channel));
            Assert.True(ex.StatusCode == StatusCode.Unauthenticated, $"{method}: {ex.StatusCode} {ex.Detail}");
            Assert.Equal("Missing bearer token.", ex.Detail);
        }

        await AssertNothingStoredAsync(harness);
    }

    [Fact]
    public async Task Expired_and_foreign_tokens_are_UNAUTHENTICATED_on_every_method()
    {
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        using var foreignIssuer = new DevelopmentTokenIssuer(); // same issuer name and audience, another key
        string expired = harness.Issuer.CreateToken("p1", Roles.Participant, lifetime: TimeSpan.FromMinutes(5), issuedAt: DateTimeOffset.UtcNow.AddHours(-2));
        var cases = new (string Name, string Token, string Detail)[]
        {
            ("expired", expired, "Bearer token has expired."),
            ("expired operator", harness.Issuer.CreateToken("operator-1", Roles.Operator, lifetime: TimeSpan.FromMinutes(1), issuedAt: DateTimeOffset.UtcNow.AddMinutes(-10)), "Bearer token has expired."),
            ("foreign issuer", foreignIssuer.CreateToken("p1", Roles.Participant), "Invalid bearer token."),
            ("foreign operator", foreignIssuer.CreateToken("operator-1", Roles.Operator), "Invalid bearer token."),
            ("wrong audience", harness.Issuer.CreateToken("p1", Roles.Participant, audience: "urn:privatehealth:another-service"), "Invalid bearer token."),
            ("garbage", "not-a-jwt", "Invalid bearer token."),
        };
        foreach (var (name, token, detail) in cases)
        {
            using var channel = new GrpcChannelLite(harness.Address, new BearerTokenHandler(token, new SocketsHttpHandler { UseProxy = false }));
            foreach (var (method, call) in AllMethods)
            {
                var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => call(channel));
                Assert.True(ex.StatusCode == StatusCode.Unauthenticated, $"{name} {method}: {ex.StatusCode} {ex.Detail}");
                Assert.Equal(detail, ex.Detail);
            }
        }

        await AssertNothingStoredAsync(harness);
    }

    [Fact]
    public async Task Wrong_roles_are_PERMISSION_DENIED()
    {
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        using var participant = harness.Client("p1", Roles.Participant);
        using var custodian = harness.Client("custodian-1", Roles.Custodian);
        using var researcher = harness.Client("researcher-1", Roles.Researcher);

        // participants may not run operator methods
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role operator", () => participant.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Members = 3, Threshold = 2 }, Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role operator", () => participant.GetKeyCeremonyAsync("ks-x", Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role operator or researcher", () => participant.CreateTrainingJobAsync(new CreateTrainingJobRequest { KeySetId = "ks-x" }, Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role operator or researcher", () => participant.GetJobAsync("job-x", Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role operator", () => participant.CancelJobAsync("job-x", Ct));
        // nor custodian methods
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role custodian", () => participant.RegisterCustodianAsync(Registration("p1", 1), Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role custodian", () => participant.SubmitAnswerAsync(new CustodianAnswer { CustodianId = "p1", TaskId = "t" }, Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role custodian", () => FirstAsync(participant.WatchTasksAsync("p1", Ct)));

        // custodians may not act as participants or operators
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role participant", () => custodian.UploadAsync(new UploadRequest { JobId = "job-x", ParticipantId = "custodian-1" }, Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role participant", () => custodian.EnrollAsync(new EnrollRequest { ParticipantId = "custodian-1", CohortId = "auth-cohort", Training = true }, Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role participant", () => FirstAsync(custodian.WatchRoundsAsync("job-x", "custodian-1", Ct)));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role participant or operator or researcher", () => custodian.GetParametersAsync("job-x", Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role operator", () => custodian.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Members = 3, Threshold = 2 }, Ct));

        // researchers may create and read jobs, not run ceremonies or cancel jobs
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role operator", () => researcher.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Members = 3, Threshold = 2 }, Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role participant", () => researcher.UploadAsync(new UploadRequest { JobId = "job-x", ParticipantId = "researcher-1" }, Ct));

        await AssertNothingStoredAsync(harness);

        using var op = harness.Operator();
        var ceremony = await op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Members = 3, Threshold = 2 }, Ct);
        var job = await researcher.CreateTrainingJobAsync(new CreateTrainingJobRequest { KeySetId = ceremony.KeySetId, Spec = new TrainingJobSpec { CohortId = "auth-cohort", Features = 3 } }, Ct);
        var seen = await researcher.GetJobAsync(job.JobId, Ct);
        Assert.Equal(job.JobId, seen.JobId);
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Method requires role operator", () => researcher.CancelJobAsync(job.JobId, Ct));
        var stored = await Store(harness).GetJobAsync(job.JobId, Ct);
        Assert.NotNull(stored);
        Assert.NotEqual(JobState.Cancelled, stored.State);
        Assert.NotEqual("cancelled", (await op.GetJobAsync(job.JobId, Ct)).State);

        // the operator may cancel it
        Assert.Equal("cancelled", (await op.CancelJobAsync(job.JobId, Ct)).State);
    }

    [Fact]
    public async Task Participants_may_only_act_as_themselves()
    {
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        using var op = harness.Operator();
        var ceremony = await op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Members = 3, Threshold = 2 }, Ct);
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { KeySetId = ceremony.KeySetId, Spec = new TrainingJobSpec { CohortId = "auth-cohort", Features = 3 } }, Ct);
        using var p1 = harness.Client("p1", Roles.Participant);

        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Caller may only act as itself", () => p1.EnrollAsync(new EnrollRequest { ParticipantId = "p2", CohortId = "auth-cohort", Training = true }, Ct));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Caller may only act as itself", () => FirstAsync(p1.WatchRoundsAsync(job.JobId, "p2", Ct)));
        var upload = new UploadRequest { JobId = job.JobId, Round = 0, ParticipantId = "p2", Ciphertexts = { ByteString.CopyFrom(new byte[64]) } };
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Caller may only act as itself", () => p1.UploadAsync(upload, Ct));
        Assert.Empty(await Store(harness).ListEnrollmentsAsync("auth-cohort", Ct));
        Assert.Empty(await Store(harness).ListUploadsAsync(job.JobId, 0, Ct));

        // acting as itself passes authorization (and reaches the job's own checks)
        Assert.True((await p1.EnrollAsync(new EnrollRequest { ParticipantId = "p1", CohortId = "auth-cohort", Training = true }, Ct)).Enrolled);
        Assert.Equal("waiting", (await FirstAsync(p1.WatchRoundsAsync(job.JobId, "p1", Ct))).State);
        await Refusal.AssertAsync(StatusCode.FailedPrecondition, "accepts no uploads", () => p1.UploadAsync(new UploadRequest { JobId = job.JobId, Round = 0, ParticipantId = "p1" }, Ct));
        Assert.Equal(["p1"], (await Store(harness).ListEnrollmentsAsync("auth-cohort", Ct)).Select(e => e.ParticipantId));
    }

    [Fact]
    public async Task Custodians_may_only_act_as_themselves()
    {
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        using var c1 = harness.Client("custodian-1", Roles.Custodian);
        using var c2 = harness.Client("custodian-2", Roles.Custodian);

        // registering, watching or answering as another custodian
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Caller may only act as itself", () => c1.RegisterCustodianAsync(Registration("custodian-2", 2), Ct));
        Assert.Empty(await Store(harness).ListCustodiansAsync(Ct));
        await c1.RegisterCustodianAsync(Registration("custodian-1", 1), Ct);
        await c2.RegisterCustodianAsync(Registration("custodian-2", 2), Ct);
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Caller may only act as itself", () => FirstAsync(c1.WatchTasksAsync("custodian-2", Ct)));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "Caller may only act as itself", () => c1.SubmitAnswerAsync(new CustodianAnswer { CustodianId = "custodian-2", Party = 2, TaskId = "ks-x/public-key/p2" }, Ct));
        // claiming another party number in its own name
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "is party 1, not 2", () => c1.SubmitAnswerAsync(new CustodianAnswer { CustodianId = "custodian-1", Party = 2, TaskId = "ks-x/public-key/p2" }, Ct));
        // an unregistered custodian cannot follow tasks
        using var c3 = harness.Client("custodian-3", Roles.Custodian);
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "'custodian-3' is not registered", () => FirstAsync(c3.WatchTasksAsync("custodian-3", Ct)));
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "'custodian-3' is not registered", () => c3.SubmitAnswerAsync(new CustodianAnswer { CustodianId = "custodian-3", TaskId = "t" }, Ct));

        var registered = await Store(harness).ListCustodiansAsync(Ct);
        Assert.Equal([("custodian-1", 1), ("custodian-2", 2)], registered.Select(c => (c.CustodianId, c.Party)));
    }

    internal static CustodianRegistration Registration(string custodianId, int party)
    {
        using var ecdh = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return new CustodianRegistration { CustodianId = custodianId, Party = party, AgreementPublicKey = ByteString.CopyFrom(ecdh.ExportSubjectPublicKeyInfo()) };
    }

    /// <summary>The first message of a stream (its error if it fails first); the stream is then closed.</summary>
    internal static async Task<T> FirstAsync<T>(IAsyncEnumerable<T> stream)
    {
        await foreach (var item in stream)
        {
            return item;
        }

        throw new InvalidOperationException("The stream ended without a message.");
    }

    private static ICoordinatorStore Store(CoordinatorHarness harness) => harness.App.Services.GetRequiredService<ICoordinatorStore>();

    private static async Task AssertNothingStoredAsync(CoordinatorHarness harness)
    {
        var store = Store(harness);
        Assert.Empty(await store.ListKeySetsAsync(Ct));
        Assert.Empty(await store.ListJobsAsync(Ct));
        Assert.Empty(await store.ListCustodiansAsync(Ct));
        Assert.Empty(await store.ListEnrollmentsAsync("auth-cohort", Ct));
    }

    private static Task Unary<TRequest, TReply>(GrpcChannelLite channel, string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TReply : IMessage<TReply> =>
        channel.UnaryAsync<TRequest, TReply>(method, request, TimeSpan.FromSeconds(20), Ct);

    private static async Task First<TRequest, TReply>(GrpcChannelLite channel, string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TReply : IMessage<TReply> =>
        await FirstAsync(channel.ServerStreamingAsync<TRequest, TReply>(method, request, TimeSpan.FromSeconds(20), Ct));
}
