using System.Security.Cryptography;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Participant.Custodian;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// Custodian answers validated by the real coordinator during a key ceremony in which custodian 1 is driven by hand:
/// shares for the wrong session or party and garbage are INVALID_ARGUMENT and not stored; a task is answered once
/// (identical resend: duplicate; a different answer: ALREADY_EXISTS); unknown tasks are NOT_FOUND; a party number
/// is held by one custodian id. Afterwards custodian 1 resumes with a runner and the ceremony completes.
/// </summary>
public sealed class CustodianProtocolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Custodian_answers_are_validated_stored_once_and_the_ceremony_then_completes()
    {
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        var store = harness.App.Services.GetRequiredService<ICoordinatorStore>();
        var parameters = CoordinatorHarness.TrainingParameters;
        var serializer = new CkksSerializer(parameters);
        harness.StartCustodians([2, 3]);

        // custodian 1 by hand: its role and agreement key live in a vault a runner can resume from later
        var vault = new InMemoryCustodianVault();
        using var agreement = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        vault.Set("custodian/agreement-key", agreement.ExportPkcs8PrivateKey());
        using var role = new CustodianRole(parameters, 1, vault);
        using var c1 = harness.Client("custodian-1", Roles.Custodian);
        await c1.RegisterCustodianAsync(new CustodianRegistration { CustodianId = "custodian-1", Party = 1, AgreementPublicKey = ByteString.CopyFrom(agreement.ExportSubjectPublicKeyInfo()) }, Ct);

        using var watching = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var tasks = Channel.CreateUnbounded<CustodianTask>();
        var watcher = Task.Run(async () =>
        {
            try
            {
                await foreach (var t in c1.WatchTasksAsync("custodian-1", watching.Token))
                {
                    await tasks.Writer.WriteAsync(t, CancellationToken.None);
                }
            }
            catch (Exception ex) when (watching.IsCancellationRequested)
            {
                _ = ex;
            }
        }, CancellationToken.None);

        using var op = harness.Operator();
        var ceremony = await op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Preset = "TrainingLogN12LogQP109", Members = 3, Threshold = 2 }, Ct);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        wait.CancelAfter(TimeSpan.FromSeconds(60));
        var task = await tasks.Reader.ReadAsync(wait.Token);
        Assert.Equal(CustodianTaskKind.PublicKeyShare, task.Kind);
        Assert.Equal($"{ceremony.KeySetId}/public-key/p1", task.TaskId);
        var session = new SessionId(task.Sessions[0].Span);
        var crs = new CommonReferenceString(task.CrsSeed.Span);

        using var protocol = new PublicKeyGenProtocol(parameters.Rlwe);
        using var kg = new KeyGenerator(parameters.Rlwe);
        var stranger = kg.GenerateSecretKey();
        byte[] Share(SessionId s, int party)
        {
            var share = protocol.AllocateShare(s, party);
            protocol.GenerateShare(stranger, protocol.SampleCrp(crs, s), share);
            return serializer.Serialize(share);
        }

        CustodianAnswer Answer(params byte[][] shares)
        {
            var a = new CustodianAnswer { TaskId = task.TaskId, CustodianId = "custodian-1", Party = 1 };
            a.Shares.AddRange(shares.Select(s => ByteString.CopyFrom(s)));
            return a;
        }

        async Task AssertUnansweredAsync()
        {
            var record = await store.GetTaskAsync(task.TaskId, Ct);
            Assert.NotNull(record);
            Assert.Null(record.Answer);
            Assert.Equal("running", (await op.GetKeyCeremonyAsync(ceremony.KeySetId, Ct)).State);
        }

        // refused answers: nothing stored
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "does not belong to the task's session", () => c1.SubmitAnswerAsync(Answer(Share(SessionId.NewRandom(), 1)), Ct));
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "Share 0 is labelled party 2; the caller is party 1", () => c1.SubmitAnswerAsync(Answer(Share(session, 2)), Ct));
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "Answer is not valid", () => c1.SubmitAnswerAsync(Answer(RandomNumberGenerator.GetBytes(4096)), Ct));
        var truncated = Share(session, 1);
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "Answer is not valid", () => c1.SubmitAnswerAsync(Answer(truncated[..(truncated.Length - 100)]), Ct));
        var flipped = Share(session, 1);
        flipped[flipped.Length / 2] ^= 1;
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "digest", () => c1.SubmitAnswerAsync(Answer(flipped), Ct));
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "Expected 1 share(s); got 0", () => c1.SubmitAnswerAsync(Answer(), Ct));
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "Expected 1 share(s); got 2", () => c1.SubmitAnswerAsync(Answer(Share(session, 1), Share(session, 1)), Ct));
        await AssertUnansweredAsync();

        // another party's task
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "is addressed to party 2", () => c1.SubmitAnswerAsync(WithTask(Answer(Share(session, 1)), $"{ceremony.KeySetId}/public-key/p2"), Ct));
        // unknown task
        await Refusal.AssertAsync(StatusCode.NotFound, "Task 'ks-nope/public-key/p1' not found", () => c1.SubmitAnswerAsync(WithTask(Answer(Share(session, 1)), "ks-nope/public-key/p1"), Ct));
        await AssertUnansweredAsync();

        // the valid answer (the role's own share) is stored once
        var valid = Answer(serializer.Serialize(role.CreatePublicKeyShare(session, crs)));
        var stored = await c1.SubmitAnswerAsync(valid, Ct);
        Assert.True(stored.Accepted);
        Assert.False(stored.Duplicate);
        var again = await c1.SubmitAnswerAsync(valid, Ct);
        Assert.True(again.Accepted);
        Assert.True(again.Duplicate, again.Message);
        await Refusal.AssertAsync(StatusCode.AlreadyExists, "a second share is refused", () => c1.SubmitAnswerAsync(Answer(Share(session, 1)), Ct));
        Assert.Equal(valid.ToByteArray(), (await store.GetTaskAsync(task.TaskId, Ct))!.Answer);

        // party numbers and custodian ids are bound one to one
        using var intruder = harness.Client("custodian-x", Roles.Custodian);
        await Refusal.AssertAsync(StatusCode.AlreadyExists, "Party 2 is already registered by custodian 'custodian-2'", () => intruder.RegisterCustodianAsync(AuthorizationTests.Registration("custodian-x", 2), Ct));
        await Refusal.AssertAsync(StatusCode.AlreadyExists, "'custodian-1' is already registered as party 1", () => c1.RegisterCustodianAsync(AuthorizationTests.Registration("custodian-1", 4), Ct));
        Assert.Equal([("custodian-1", 1), ("custodian-2", 2), ("custodian-3", 3)], (await store.ListCustodiansAsync(Ct)).Select(c => (c.CustodianId, c.Party)));
        var party1 = (await store.ListCustodiansAsync(Ct)).Single(c => c.Party == 1);
        Assert.Equal(agreement.ExportSubjectPublicKeyInfo(), party1.AgreementPublicKey);

        // custodian 1 resumes with a runner on the same vault: the ceremony completes with the stored answer
        await watching.CancelAsync();
        await watcher;
        var runner = new CustodianRunner(c1, "custodian-1", 1, parameters, vault, new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(500) });
        using var running = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var run = Task.Run(() => runner.RunAsync(running.Token), CancellationToken.None);
        try
        {
            Assert.Equal(ceremony.KeySetId, await CoordinatorHarness.WaitForCeremonyAsync(op, ceremony.KeySetId, Ct));
            Assert.Equal(valid.ToByteArray(), (await store.GetTaskAsync(task.TaskId, Ct))!.Answer);
        }
        finally
        {
            await running.CancelAsync();
            try
            {
                await run;
            }
            catch (OperationCanceledException)
            {
            }

            runner.Dispose();
        }
    }

    private static CustodianAnswer WithTask(CustodianAnswer answer, string taskId)
    {
        answer.TaskId = taskId;
        return answer;
    }
}
