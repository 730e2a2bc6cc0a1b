using PrivateHealth.Grpc.Auth;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Privacy;
using PrivateHealth.Participant.Network;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>Round policies (stragglers, too few updates, too few custodians), server strategies and DP noise through the coordinator.</summary>
public sealed class RoundPolicyTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(CoordinatorHarness Harness, string KeySet)> ReadyAsync(IDictionary<string, string>? settings = null)
    {
        var harness = await CoordinatorHarness.StartAsync(settings: settings, ct: Ct);
        harness.StartCustodians([1, 2, 3]);
        string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, rotations: [], Ct);
        return (harness, keySet);
    }

    /// <summary>Enrolls and keeps a WatchRounds stream open (online, sampled) without ever uploading.</summary>
    private static async Task<(CoordinatorClient Client, CancellationTokenSource Cts)> SilentParticipantAsync(CoordinatorHarness harness, string jobId, string id)
    {
        var client = harness.Client(id, Roles.Participant);
        await client.EnrollAsync(new EnrollRequest { ParticipantId = id, CohortId = "breast-cancer", Training = true }, Ct);
        var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in client.WatchRoundsAsync(jobId, id, cts.Token))
                {
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException || CoordinatorClient.IsTransient(ex))
            {
            }
        }, Ct);
        return (client, cts);
    }

    [Fact]
    public async Task StragglersAreDroppedAfterTheWaitPastTheMinimum()
    {
        var (harness, keySet) = await ReadyAsync();
        await using var _ = harness;
        var (clients, _, features) = TestData.BreastCancer(3);
        using var op = harness.Operator();
        var spec = FederatedTrainingEndToEndTests.Spec(features, 2, 2);
        spec.MinAvailable = 3; // open only once all three are online, close with two after the wait
        spec.RoundDeadlineMs = 20_000;
        spec.WaitAfterMinimumMs = 300;
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = keySet }, Ct);
        var (silent, silentCts) = await SilentParticipantAsync(harness, job.JobId, "participant-99");
        using (silent)
        using (silentCts)
        {
            var results = await FederatedTrainingEndToEndTests.RunAgentsAsync(harness, job.JobId, clients[..2], Ct);
            Assert.All(results, r => Assert.Equal("job-completed", r.State));
            var status = await op.GetJobAsync(job.JobId, Ct);
            Assert.Equal("completed", status.State);
            Assert.All(status.History, h => Assert.Equal((3, 2), (h.Selected, h.Received)));
            Assert.All(status.History, h => Assert.Equal("completed with 2 of 3 updates (1 straggler(s) dropped)", h.Message));
        }
    }

    [Theory]
    [InlineData("extend", 1)]
    [InlineData("fail", 0)]
    public async Task TooFewUpdatesByTheDeadlineExtendsThenFailsTheRoundWithAClearStatus(string policy, int extensions)
    {
        var (harness, keySet) = await ReadyAsync();
        await using var _ = harness;
        var (clients, _, features) = TestData.BreastCancer(2);
        using var op = harness.Operator();
        var spec = FederatedTrainingEndToEndTests.Spec(features, 1, 3);
        spec.RoundDeadlineMs = 6000; // long enough for both agents to upload on a loaded 2-core machine (3 s was not, rarely)
        spec.OnTooFew = policy;
        spec.MaxRoundExtensions = extensions;
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = keySet }, Ct);
        var (silent, silentCts) = await SilentParticipantAsync(harness, job.JobId, "participant-99");
        using (silent)
        using (silentCts)
        {
            var results = await FederatedTrainingEndToEndTests.RunAgentsAsync(harness, job.JobId, clients, Ct);
            Assert.All(results, r => Assert.Equal("job-failed", r.State));
            var status = await op.GetJobAsync(job.JobId, Ct);
            output.WriteLine($"{status.State}: {status.Message}");
            Assert.Equal("failed", status.State);
            Assert.Equal(("failed", 2, extensions), (status.History[0].State, status.History[0].Received, status.History[0].Extensions));
            Assert.Contains("too few updates: 2 of the 3 required", status.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TooFewCustodiansOnlineFailsTheRoundAfterTheCustodianTimeout()
    {
        var (harness, keySet) = await ReadyAsync(new Dictionary<string, string> { ["Coordinator:CustodianTimeout"] = "00:00:01" });
        await using var _ = harness;
        await harness.StopCustodiansAsync([1, 3]);
        var (clients, _, features) = TestData.BreastCancer(2);
        using var op = harness.Operator();
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = FederatedTrainingEndToEndTests.Spec(features, 1, 2), KeySetId = keySet }, Ct);
        var results = await FederatedTrainingEndToEndTests.RunAgentsAsync(harness, job.JobId, clients, Ct);
        var status = await op.GetJobAsync(job.JobId, Ct);
        output.WriteLine(status.Message);
        Assert.All(results, r => Assert.Equal("job-failed", r.State));
        Assert.Contains("only 1 of the 2 custodians needed are online", status.Message, StringComparison.Ordinal);
        Assert.Equal(2, status.History[0].Received);
    }

    [Theory]
    [InlineData("fedavgm")]
    [InlineData("fedadam")]
    [InlineData("fedprox")]
    public async Task ServerStrategiesActAfterDecryptionExactlyAsOnPlaintext(string strategy)
    {
        var (harness, keySet) = await ReadyAsync();
        await using var _ = harness;
        const int rounds = 4;
        var (clients, _, features) = TestData.BreastCancer(4);
        using var op = harness.Operator();
        var spec = FederatedTrainingEndToEndTests.Spec(features, rounds, 4);
        spec.Strategy = strategy;
        spec.ProximalMu = strategy == "fedprox" ? 0.1 : 0;
        spec.ServerLearningRate = strategy == "fedadam" ? 0.05 : 1.0;
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = keySet }, Ct);
        var results = await FederatedTrainingEndToEndTests.RunAgentsAsync(harness, job.JobId, clients, Ct);
        Assert.All(results, r => Assert.Equal("job-completed", r.State));

        // plaintext replay: the same local training, FedAvg aggregate, then the strategy's server step
        var s = spec.WithDefaults();
        var config = s.ToFederatedConfig();
        var global = s.CreateModel();
        var server = ServerStrategy.Create(s.ToStrategyOptions(), global.ParameterCount);
        for (int r = 0; r < rounds; r++)
        {
            var updates = clients.Select((d, k) => PlainFederatedSimulation.TrainClient(global, d, config, r, k)).Select(u => (u.Delta, u.SampleCount)).ToList();
            server.Apply(global.Parameters, FedAvg.Aggregate(updates));
        }

        double[] expected = global.GetParameters();
        double[] actual = [.. results[0].GlobalModel];
        double diff = Math.Sqrt(expected.Zip(actual, (a, b) => (a - b) * (a - b)).Sum()) / Math.Sqrt(expected.Sum(a => a * a));
        output.WriteLine($"{strategy}: relative difference to the plaintext replay {diff:E2}");
        Assert.True(diff <= 1e-4, $"relative difference {diff:E2}");
    }

    [Fact]
    public async Task DifferentialPrivacyNoiseAddedByTheCustodiansHasTheConfiguredScale()
    {
        var (harness, keySet) = await ReadyAsync();
        await using var _ = harness;
        const int features = 599;
        const int agents = 4;
        var random = new Random(7);
        var clients = Enumerable.Range(0, agents).Select(_ =>
        {
            var rows = Enumerable.Range(0, 12).Select(_ => Enumerable.Range(0, features).Select(_ => random.NextDouble() - 0.5).ToArray()).ToList();
            var labels = rows.Select(r => r.Take(5).Sum() + (0.1 * (random.NextDouble() - 0.5))).ToArray();
            return Dataset.FromRows(rows, labels);
        }).ToArray();
        using var op = harness.Operator();
        var spec = FederatedTrainingEndToEndTests.Spec(features, 1, agents);
        spec.Model = "linear";
        spec.CohortId = "breast-cancer";
        spec.DpClipNorm = 0.5;
        spec.DpNoiseMultiplier = 2.0;
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = keySet }, Ct);
        var results = await FederatedTrainingEndToEndTests.RunAgentsAsync(harness, job.JobId, clients, Ct);
        Assert.All(results, r => Assert.Equal("job-completed", r.State));
        var status = await op.GetJobAsync(job.JobId, Ct);
        Assert.Equal(agents, status.History[0].TotalWeight); // unit weights under DP; the count slot carries no noise

        // noise = n · (released average − average of the clipped updates), per parameter ~ N(0, (z·C)²)
        var s = spec.WithDefaults();
        var model = s.CreateModel();
        var sum = new double[model.ParameterCount];
        for (int k = 0; k < agents; k++)
        {
            var u = PlainFederatedSimulation.TrainClient(model, clients[k], s.ToFederatedConfig(), 0, k);
            UpdateClipping.ClipL2(u.Delta, s.DpClipNorm);
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += u.Delta[i];
            }
        }

        var noise = results[0].GlobalModel.Select((w, i) => (w * agents) - sum[i]).ToArray();
        double mean = noise.Average();
        double std = Math.Sqrt(noise.Sum(x => (x - mean) * (x - mean)) / (noise.Length - 1));
        double expected = s.DpNoiseMultiplier * s.DpClipNorm;
        double fourthMoment = noise.Average(x => Math.Pow(x - mean, 4)) / Math.Pow(std, 4);
        output.WriteLine($"DP noise over {noise.Length} parameters: mean {mean:F4}, std {std:F4} (configured {expected}), kurtosis {fourthMoment:F2} (Gaussian 3)");
        // The noise is fresh every run, so the bounds are set for a negligible false-failure rate:
        // the sample std of 600 Gaussians lies within ±5 standard errors (σ/√(2n) ≈ 2.9 %) of σ
        // (two-sided tail ≈ 6e-7); the mean within ±5 σ/√n; the sample kurtosis b2 (SD ≈ 0.2, skewed to
        // the right for n = 600) within [2.3, 4.6] (tail ≈ 1e-6 by Anscombe–Glynn; the old [2.4, 3.6]
        // failed about once in 170 runs). A missing or doubled noise share moves std by ≥ 18 %.
        double se = 1 / Math.Sqrt(2.0 * noise.Length);
        Assert.InRange(std, expected * (1 - (5 * se)), expected * (1 + (5 * se)));
        Assert.InRange(mean, -5 * expected / Math.Sqrt(noise.Length), 5 * expected / Math.Sqrt(noise.Length));
        Assert.InRange(fourthMoment, 2.3, 4.6);
    }
}
