using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Training;
using PrivateHealth.Participant.Simulation;

namespace PrivateHealth.Participant.Tests;

public sealed class EncryptedFederatedTests(ITestOutputHelper output)
{
    /// <summary>The breast-cancer file: $PRIVATEHEALTH_DATA_DIR, else shared/data found walking up from the binaries.</summary>
    internal static string BreastCancerPath()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("PRIVATEHEALTH_DATA_DIR");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Path.Combine(fromEnvironment, "breast_cancer.csv");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "data", "breast_cancer.csv");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("breast_cancer.csv not found; set PRIVATEHEALTH_DATA_DIR.");
    }

    private static readonly FederatedConfig Config = new()
    {
        Rounds = 50,
        Seed = 5,
        Local = new TrainConfig { LocalEpochs = 1, BatchSize = 16, LearningRate = LearningRateSchedule.Constant(0.1) },
    };

    [Theory]
    [InlineData("iid")]
    [InlineData("non-iid")]
    public void EncryptedFedAvgMatchesPlaintextFedAvgWithThreeOfFiveCustodians(string partition)
    {
        // 80/20 stratified split, standardized with training statistics; 10 agents
        var data = CsvDataset.Load(BreastCancerPath(), "target");
        var split = DatasetSplit.StratifiedSplit(data, 0.2, 42);
        var standardizer = Standardizer.Fit(split.Train);
        var train = standardizer.Transform(split.Train);
        var test = standardizer.Transform(split.Test);
        var clients = partition == "iid" ? Partition.Iid(train, 10, seed: 11) : Partition.DirichletByLabel(train, 10, alpha: 0.5, seed: 11);

        var plain = new PlainFederatedSimulation(new LogisticRegression(train.FeatureCount), clients, Config, test).Run();

        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);
        using var committee = new SimulatedCommittee(parameters, members: 5, threshold: 3);
        committee.SetOffline([2, 4]); // two custodians offline for the whole job
        var simulation = new EncryptedFederatedSimulation(new LogisticRegression(train.FeatureCount), clients, Config, committee, test);
        var encrypted = simulation.Run();

        double[] wPlain = [.. plain.Rounds[^1].GlobalParameters];
        double[] wEnc = [.. encrypted[^1].GlobalParameters];
        double diff = Math.Sqrt(wPlain.Zip(wEnc, (a, b) => (a - b) * (a - b)).Sum());
        double norm = Math.Sqrt(wPlain.Sum(a => a * a));
        double maxRound = plain.Rounds.Zip(encrypted, (p, e) =>
            Math.Sqrt(p.GlobalParameters.Zip(e.GlobalParameters, (a, b) => (a - b) * (a - b)).Sum()) / Math.Sqrt(p.GlobalParameters.Sum(a => a * a))).Max();
        var plainPredictions = plain.FinalModel.PredictClasses(test);
        var encryptedPredictions = simulation.FinalModel!.PredictClasses(test);
        double accuracy = encrypted[^1].Evaluation!.Accuracy!.Value;
        output.WriteLine($"{partition}: relative difference {diff / norm:E2} (worst round {maxRound:E2}); accuracy encrypted {accuracy:P2}, plaintext {plain.Rounds[^1].Evaluation!.Accuracy:P2}; " +
            $"flooding σ = 2^{Math.Log2(simulation.Flooding.Sigma):F1}, released to 2^-{simulation.ReleasePrecisionBits}; " +
            $"{encrypted[0].BytesUploaded / 10} bytes per agent per round ({encrypted[0].BytesUploaded / 10.0 / (train.FeatureCount + 2):F0} per uploaded value), {committee.SharesProduced} decryption shares");

        Assert.Equal(50, encrypted.Count);
        Assert.All(encrypted, r => Assert.Equal(train.Count, r.TotalSamples));
        Assert.True(diff / norm <= 1e-4, $"relative difference {diff / norm:E2}");
        Assert.Equal(plainPredictions, encryptedPredictions);
        Assert.True(accuracy >= 0.97, $"accuracy {accuracy:P2}");
        Assert.Equal(50 * 3, committee.SharesProduced); // one ciphertext a round, three custodians each
    }

    [Fact]
    public void TooFewCustodiansOnlineStopsTheRoundWithAClearError()
    {
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);
        using var committee = new SimulatedCommittee(parameters, members: 5, threshold: 3);
        committee.SetOffline([1, 2, 4]);
        var data = CsvDataset.Load(BreastCancerPath(), "target");
        var clients = Partition.Iid(Standardizer.Fit(data).Transform(data), 3, seed: 1);
        var simulation = new EncryptedFederatedSimulation(new LogisticRegression(data.FeatureCount), clients, Config with { Rounds = 1 }, committee);
        Assert.Contains("Only 2 custodians", Assert.Throws<InvalidOperationException>(() => simulation.Run()).Message);
    }
}
