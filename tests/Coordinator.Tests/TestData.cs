using PrivateHealth.Learning.Data;

namespace PrivateHealth.Coordinator.Tests;

internal static class TestData
{
    /// <summary>The breast-cancer file: $PRIVATEHEALTH_DATA_DIR, else shared/data found walking up from the binaries.</summary>
    public static string BreastCancerPath()
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

    /// <summary>80/20 stratified split, standardized with the training statistics, training part split IID among agents.</summary>
    public static (Dataset[] Clients, Dataset Test, int Features) BreastCancer(int agents)
    {
        var data = CsvDataset.Load(BreastCancerPath(), "target");
        var split = DatasetSplit.StratifiedSplit(data, 0.2, 42);
        var standardizer = Standardizer.Fit(split.Train);
        var train = standardizer.Transform(split.Train);
        var test = standardizer.Transform(split.Test);
        return ([.. Partition.Iid(train, agents, seed: 11)], test, train.FeatureCount);
    }
}
