using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.Learning.Tests;

/// <summary>Shared fixtures: the breast-cancer file and seeded synthetic datasets.</summary>
internal static class TestData
{
    public const string BreastCancerFileName = "breast_cancer.csv";

    private static readonly Lazy<Dataset> BreastCancerData = new(() => CsvDataset.Load(BreastCancerPath(), "target"));

    public static Dataset BreastCancer => BreastCancerData.Value;

    /// <summary>
    /// The real data file: $PRIVATEHEALTH_DATA_DIR/breast_cancer.csv if set, otherwise the first
    /// shared/data/breast_cancer.csv or data/breast_cancer.csv found walking up from the test binaries
    /// (in the workspace: /work/shared/data/breast_cancer.csv).
    /// </summary>
    public static string BreastCancerPath()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("PRIVATEHEALTH_DATA_DIR");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Path.Combine(fromEnvironment, BreastCancerFileName);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (string candidate in new[] { Path.Combine(dir.FullName, "shared", "data", BreastCancerFileName), Path.Combine(dir.FullName, "data", BreastCancerFileName) })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException(
            $"{BreastCancerFileName} not found above {AppContext.BaseDirectory}; set PRIVATEHEALTH_DATA_DIR to the folder holding it.");
    }

    /// <summary>The 80/20 stratified split (seed 42) standardized with training statistics.</summary>
    public static (Dataset Train, Dataset Test) BreastCancerStandardized(ulong splitSeed = 42)
    {
        TrainTestSplit split = DatasetSplit.StratifiedSplit(BreastCancer, 0.2, splitSeed);
        var standardizer = Standardizer.Fit(split.Train);
        return (standardizer.Transform(split.Train), standardizer.Transform(split.Test));
    }

    /// <summary>Rows of independent N(0, 1) features.</summary>
    public static double[][] GaussianRows(int rows, int features, ulong seed)
    {
        var sampler = new GaussianSampler(new SeededRandom(seed));
        double[][] result = new double[rows][];
        for (int i = 0; i < rows; i++)
        {
            result[i] = new double[features];
            sampler.Fill(result[i], 0, 1);
        }

        return result;
    }

    /// <summary>
    /// Three Gaussian blobs in 2-D (centres (0, 3), (−2.6, −1.5), (2.6, −1.5), unit variance), <paramref name="perClass"/> rows each.
    /// </summary>
    public static Dataset ThreeBlobs(int perClass, ulong seed)
    {
        double[][] centres = [[0, 3], [-2.6, -1.5], [2.6, -1.5]];
        var sampler = new GaussianSampler(new SeededRandom(seed));
        var rows = new List<double[]>();
        var labels = new List<int>();
        for (int i = 0; i < perClass; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                rows.Add([centres[c][0] + sampler.NextStandard(), centres[c][1] + sampler.NextStandard()]);
                labels.Add(c);
            }
        }

        return Dataset.FromRows(rows, labels.ToArray());
    }

    /// <summary>XOR-like: x uniform in [−1, 1]², label 1 when x₀·x₁ &gt; 0; points within 0.1 of an axis are left out.</summary>
    public static Dataset Xor(int count, ulong seed)
    {
        var random = new SeededRandom(seed);
        var rows = new List<double[]>();
        var labels = new List<int>();
        while (rows.Count < count)
        {
            double a = (2 * random.NextDouble()) - 1;
            double b = (2 * random.NextDouble()) - 1;
            if (Math.Abs(a) < 0.1 || Math.Abs(b) < 0.1)
            {
                continue;
            }

            rows.Add([a, b]);
            labels.Add(a * b > 0 ? 1 : 0);
        }

        return Dataset.FromRows(rows, labels.ToArray());
    }
}
