using System.Globalization;
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

    /// <summary>
    /// The first <paramref name="count"/> people of the breast-cancer file as the analytics encoder reads a person:
    /// every column a real, <c>target</c> as the category "0" or "1".
    /// </summary>
    public static List<IReadOnlyDictionary<string, object>> BreastCancerPeople(int count)
    {
        var lines = File.ReadAllLines(BreastCancerPath());
        var header = lines[0].Split(',');
        return [.. lines.Skip(1).Take(count).Select(l => l.Split(',')).Select(cells => (IReadOnlyDictionary<string, object>)header.Select((h, i) => (h, v: cells[i]))
            .ToDictionary(x => x.h, x => x.h == "target"
                ? (object)((int)double.Parse(x.v, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture)
                : double.Parse(x.v, CultureInfo.InvariantCulture)))];
    }
}
