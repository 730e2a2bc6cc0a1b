using Google.Protobuf;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>Kill -9 a real coordinator process mid-round (and again at random points) and restart it.</summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task KilledCoordinatorResumesWithoutLosingOrDoubleCountingUpdates()
    {
        const int agents = 6;
        const int rounds = 6;
        var (clients, test, features) = TestData.BreastCancer(agents);
        string dir = Path.Combine(Path.GetTempPath(), "ph-crash-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        using var issuer = new DevelopmentTokenIssuer();
        await File.WriteAllTextAsync(Path.Combine(dir, "dev-issuer.pem"), issuer.ExportPrivateKeyPem(), Ct);
        await using var coordinator = new CoordinatorProcess(dir);
        await coordinator.StartAsync(Ct);
        var retry = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(400) };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var custodianTasks = new List<Task>();
        var runners = new List<CustodianRunner>();
        for (int party = 1; party <= 3; party++)
        {
            var client = new CoordinatorClient(coordinator.Address, issuer.CreateToken($"custodian-{party}", Roles.Custodian));
            var runner = new CustodianRunner(client, $"custodian-{party}", party, CoordinatorHarness.TrainingParameters, new InMemoryCustodianVault(), retry);
            runners.Add(runner);
            custodianTasks.Add(Task.Run(() => runner.RunAsync(stop.Token), stop.Token));
        }

        using var op = new CoordinatorClient(coordinator.Address, issuer.CreateToken("operator-1", Roles.Operator));
        var ceremony = await retry.RunAsync(c => op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Preset = "TrainingLogN12LogQP109", Members = 3, Threshold = 2 }, c), Ct);
        await CoordinatorHarness.WaitForCeremonyAsync(op, ceremony.KeySetId, Ct);
        var spec = FederatedTrainingEndToEndTests.Spec(features, rounds, agents);
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = ceremony.KeySetId }, Ct);

        // agents 0..4 run normally; agent 5 only watches (so the round opens with all six sampled) and holds its upload back
        var homes = Path.Combine(dir, "agents");
        Task<RoundEvent> RunAgent(int k) => Task.Run(async () =>
        {
            string id = $"participant-{k:D2}";
            using var agent = ParticipantAgent.Open(Path.Combine(homes, id));
            agent.Consent.Grant(ConsentPurpose.Training, "breast-cancer");
            using var client = new CoordinatorClient(coordinator.Address, issuer.CreateToken(id, Roles.Participant));
            return await new ParticipantRunner(client, agent, clients[k], new ParticipantRunnerOptions { JobId = job.JobId, ParticipantId = id, ClientIndex = k, Retry = retry }).RunAsync(stop.Token);
        }, stop.Token);
        var running = Enumerable.Range(0, agents - 1).Select(RunAgent).ToList();
        using var laggard = new CoordinatorClient(coordinator.Address, issuer.CreateToken("participant-05", Roles.Participant));
        await laggard.EnrollAsync(new EnrollRequest { ParticipantId = "participant-05", CohortId = "breast-cancer", Training = true }, Ct);
        using var watchCts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var watch = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in laggard.WatchRoundsAsync(job.JobId, "participant-05", watchCts.Token))
                {
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException || CoordinatorClient.IsTransient(ex))
            {
            }
        }, Ct);

        // kill 1: mid-round, five of six updates in the ledger
        await WaitUntilAsync(async () => (await op.GetJobAsync(job.JobId, Ct)).History is { Count: > 0 } h && h[0].Received == agents - 1, Ct);
        await coordinator.KillAsync();
        await watchCts.CancelAsync();
        output.WriteLine("killed with 5 of 6 round-0 updates stored");
        await coordinator.StartAsync(Ct);
        running.Add(RunAgent(agents - 1));

        // kill 2: while a round waits for its decryption shares (or as close to it as polling catches)
        var seen = await WaitForStateAsync(op, job.JobId, ["decrypting", "closed"], retry, Ct);
        output.WriteLine($"kill 2 in round state {seen}");
        await coordinator.KillAsync();
        await coordinator.StartAsync(Ct);

        // kills 3..6 at random moments while rounds run (closing, decrypting, publishing, opening)
        var random = new Random(1234);
        for (int kill = 1; kill < 5; kill++)
        {
            await Task.Delay(random.Next(20, 700), Ct);
            var status = await retry.RunAsync(c => op.GetJobAsync(job.JobId, c), Ct);
            if (status.State == "completed")
            {
                break;
            }

            output.WriteLine($"kill {kill + 2} at round {status.CurrentRound}, round state {(status.History.Count > 0 ? status.History[^1].State : "none")}");
            await coordinator.KillAsync();
            await coordinator.StartAsync(Ct);
        }

        var results = await Task.WhenAll(running).WaitAsync(TimeSpan.FromMinutes(4), Ct);
        var final = await retry.RunAsync(c => op.GetJobAsync(job.JobId, c), Ct);
        await stop.CancelAsync();
        foreach (var r in runners)
        {
            r.Dispose();
        }

        output.WriteLine($"{coordinator.Starts} coordinator starts; rounds: {string.Join(" ", final.History.Select(h => $"{h.Round}:{h.State}/{h.Received}"))}");
        Assert.Equal("completed", final.State);
        Assert.Equal(rounds, final.History.Count);
        long samples = clients.Sum(c => (long)c.Count);
        Assert.All(final.History, h => Assert.Equal((agents, "completed", (double)samples), (h.Received, h.State, h.TotalWeight)));
        Assert.All(results, r => Assert.Equal("job-completed", r.State));

        // the released model equals plaintext FedAvg over all six agents in every round: nothing lost, nothing twice
        var plain = new PlainFederatedSimulation(new LogisticRegression(features), clients, spec.WithDefaults().ToFederatedConfig(), test).Run();
        double[] wPlain = [.. plain.Rounds[^1].GlobalParameters];
        double[] wEnc = [.. final.GlobalModel];
        double diff = Math.Sqrt(wPlain.Zip(wEnc, (a, b) => (a - b) * (a - b)).Sum()) / Math.Sqrt(wPlain.Sum(a => a * a));
        output.WriteLine($"relative difference to plaintext FedAvg: {diff:E2}");
        Assert.True(diff <= 1e-4, $"relative difference {diff:E2}\n{coordinator.Log}");
    }

    private static async Task<string> WaitForStateAsync(CoordinatorClient op, string jobId, string[] states, RetryPolicy retry, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string last = "none";
        while (DateTime.UtcNow < deadline)
        {
            var status = await retry.RunAsync(c => op.GetJobAsync(jobId, c), ct);
            if (status.History.Count > 0)
            {
                last = status.History[^1].State;
                if (states.Contains(last) || status.State == "completed")
                {
                    return last;
                }
            }

            await Task.Delay(2, ct);
        }

        return last;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not reached");
            }

            await Task.Delay(25, ct);
        }
    }
}
