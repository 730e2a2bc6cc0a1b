using System.Diagnostics;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Training;

namespace PrivateHealth.Learning.Tests;

public sealed class FederatedTests(ITestOutputHelper output)
{
    /// <summary>The federated baseline: 10 clients, 50 rounds, one local epoch of mini-batch SGD.</summary>
    public static readonly FederatedConfig BreastCancerFederatedConfig = new()
    {
        Rounds = 50,
        Seed = 5,
        Local = new TrainConfig { LocalEpochs = 1, BatchSize = 16, LearningRate = LearningRateSchedule.Constant(0.1) },
    };

    public static TheoryData<string> Partitions => ["iid", "dirichlet-0.5", "dirichlet-0.1", "label-shards-2"];

    private static IReadOnlyList<Dataset> Split(Dataset train, string partition) => partition switch
    {
        "iid" => Partition.Iid(train, 10, seed: 11),
        "dirichlet-0.5" => Partition.DirichletByLabel(train, 10, alpha: 0.5, seed: 11),
        "dirichlet-0.1" => Partition.DirichletByLabel(train, 10, alpha: 0.1, seed: 11),
        _ => Partition.LabelShards(train, 10, shardsPerClient: 2, seed: 11),
    };

    [Theory]
    [MemberData(nameof(Partitions))]
    public void PlainFedAvgWithTenClientsForFiftyRoundsReachesNinetySevenPercent(string partition)
    {
        (Dataset train, Dataset test) = TestData.BreastCancerStandardized();
        IReadOnlyList<Dataset> clients = Split(train, partition);
        var stopwatch = Stopwatch.StartNew();
        FederatedRunResult run = new PlainFederatedSimulation(new LogisticRegression(train.FeatureCount), clients, BreastCancerFederatedConfig, test).Run();
        stopwatch.Stop();
        var last = run.Rounds[^1].Evaluation!;
        output.WriteLine(
            $"{partition}: clients {string.Join(" ", clients.Select(c => $"{c.Count}({string.Join("/", c.ClassCounts())})"))}; " +
            $"round 10 {run.Rounds[9].Evaluation!.Accuracy:P2}, round 50 {last.Accuracy:P2}, AUC {last.RocAuc:F4}, {stopwatch.ElapsedMilliseconds} ms");
        Assert.Equal(50, run.Rounds.Count);
        Assert.True(last.Accuracy >= 0.97, $"{partition}: test accuracy {last.Accuracy:P2}.");
    }

    [Fact]
    public void AggregateIsTheSampleWeightedAverageOfDeltas()
    {
        double[] average = FedAvg.Aggregate([([1.0, -2.0, 0.0], 1), ([4.0, 2.0, 3.0], 3)]);
        Assert.Equal([(1.0 + 12.0) / 4, (-2.0 + 6.0) / 4, 9.0 / 4], average);
    }

    [Fact]
    public void AggregateOfOneUpdateIsThatUpdate()
    {
        double[] delta = [0.1, -0.7, 1e-9];
        Assert.Equal(delta, FedAvg.Aggregate([(delta, 1)]));
    }

    [Fact]
    public void AggregateRejectsMismatchedOrEmptyInput()
    {
        Assert.Throws<ArgumentException>(() => FedAvg.Aggregate([]));
        Assert.Throws<ArgumentException>(() => FedAvg.Aggregate([([1.0], 1), ([1.0, 2.0], 1)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => FedAvg.Aggregate([([1.0], 0)]));
    }

    [Fact]
    public void AggregateEqualsTheStepwiseWeightSumDivideRecipe()
    {
        var random = new Randomness.SeededRandom(3);
        var updates = Enumerable.Range(0, 7)
            .Select(_ => (Delta: Enumerable.Range(0, 31).Select(_ => random.NextDouble() - 0.5).ToArray(), Count: (long)(1 + random.NextInt(100))))
            .ToList();
        double[] sum = FedAvg.Weight(updates[0].Delta, updates[0].Count);
        for (int i = 1; i < updates.Count; i++)
        {
            FedAvg.Accumulate(sum, FedAvg.Weight(updates[i].Delta, updates[i].Count));
        }

        double[] average = new double[31];
        FedAvg.Average(sum, updates.Sum(u => u.Count), average);
        Assert.Equal(average, FedAvg.Aggregate(updates));
    }

    [Fact]
    public void SimulationEqualsAManualRoundByRoundReplayBitForBit()
    {
        (Dataset train, Dataset test) = TestData.BreastCancerStandardized();
        IReadOnlyList<Dataset> clients = Partition.DirichletByLabel(train, 5, 0.5, seed: 2);
        var config = new FederatedConfig
        {
            Rounds = 4,
            Seed = 99,
            ScheduleAcrossRounds = true,
            Local = new TrainConfig { LocalEpochs = 2, BatchSize = 10, LearningRate = LearningRateSchedule.Exponential(0.2, 0.9), ProximalMu = 0.01, L2 = 0.001 },
        };
        var initial = new Mlp(train.FeatureCount, [4], ModelTask.BinaryClassification, Activation.Tanh, seed: 1);
        FederatedRunResult run = new PlainFederatedSimulation(initial, clients, config, test).Run();

        // What an encrypted pipeline does, in the clear: each participant trains and weights its delta;
        // the server sums in client order, divides by the total count and applies.
        IModel global = initial.Clone();
        Assert.Equal(global.GetParameters(), run.InitialParameters);
        for (int r = 0; r < config.Rounds; r++)
        {
            double[]? sum = null;
            long total = 0;
            for (int k = 0; k < clients.Count; k++)
            {
                LocalUpdate update = PlainFederatedSimulation.TrainClient(global, clients[k], config, r, k);
                double[] weighted = FedAvg.Weight(update.Delta, update.SampleCount);
                total += update.SampleCount;
                if (sum is null)
                {
                    sum = weighted;
                }
                else
                {
                    FedAvg.Accumulate(sum, weighted);
                }
            }

            double[] average = sum!;
            FedAvg.Average(average, total, average);
            FedAvg.Apply(global.Parameters, average);
            Assert.Equal(run.Rounds[r].GlobalParameters, global.GetParameters());
            Assert.Equal(run.Rounds[r].AverageDelta, average);
        }

        Assert.Equal(run.FinalModel.GetParameters(), global.GetParameters());
    }

    [Fact]
    public void OneClientOneRoundEqualsLocalTraining()
    {
        (Dataset train, _) = TestData.BreastCancerStandardized();
        var config = new FederatedConfig { Rounds = 1, Seed = 4, Local = new TrainConfig { LocalEpochs = 3, BatchSize = 32 } };
        FederatedRunResult run = new PlainFederatedSimulation(new LogisticRegression(30), [train], config).Run();

        var centralised = new LogisticRegression(30);
        new LocalTrainer(config.Local).Fit(centralised, train, PlainFederatedSimulation.ClientSeed(4, 0, 0));
        double[] expected = centralised.GetParameters();
        for (int j = 0; j < expected.Length; j++)
        {
            // Δ·n/n + 0 differs from w_local by at most rounding.
            Assert.Equal(expected[j], run.Rounds[0].GlobalParameters[j], 1e-14);
        }

        Assert.Null(run.Rounds[0].Evaluation);
    }

    [Fact]
    public void SameSeedGivesIdenticalRunsAndAnotherSeedDoesNot()
    {
        (Dataset train, _) = TestData.BreastCancerStandardized();
        IReadOnlyList<Dataset> clients = Partition.Iid(train, 4, seed: 1);
        var config = new FederatedConfig { Rounds = 3, Seed = 8 };
        FederatedRunResult a = new PlainFederatedSimulation(new LogisticRegression(30), clients, config).Run();
        FederatedRunResult b = new PlainFederatedSimulation(new LogisticRegression(30), clients, config).Run();
        FederatedRunResult c = new PlainFederatedSimulation(new LogisticRegression(30), clients, config with { Seed = 9 }).Run();
        Assert.Equal(a.FinalModel.GetParameters(), b.FinalModel.GetParameters());
        Assert.NotEqual(a.FinalModel.GetParameters(), c.FinalModel.GetParameters());
    }

    [Fact]
    public void ClientSeedsDifferAcrossRoundsAndClients()
    {
        var seeds = new HashSet<ulong>();
        for (int r = 0; r < 50; r++)
        {
            for (int k = 0; k < 10; k++)
            {
                Assert.True(seeds.Add(PlainFederatedSimulation.ClientSeed(5, r, k)));
            }
        }

        Assert.Equal(PlainFederatedSimulation.ClientSeed(5, 3, 2), PlainFederatedSimulation.ClientSeed(5, 3, 2));
    }

    [Fact]
    public void EpochOffsetFollowsTheScheduleAcrossRoundsFlag()
    {
        var config = new FederatedConfig { Local = new TrainConfig { LocalEpochs = 3 } };
        Assert.Equal(0, PlainFederatedSimulation.EpochOffset(config, 7));
        Assert.Equal(21, PlainFederatedSimulation.EpochOffset(config with { ScheduleAcrossRounds = true }, 7));
    }
}
