using System.Globalization;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.Learning.Data;

namespace PrivateHealth.Demo;

/// <summary>One simulated participant: its clinical records (rows of the breast-cancer file), its 30-day wearable series and the summary its device computes.</summary>
internal sealed record DemoPerson(
    int Index,
    string Id,
    IReadOnlyList<int> Rows,
    Dataset TrainingData,
    IReadOnlyList<double> RestingHeartRate,
    IReadOnlyList<double> DailySteps,
    IReadOnlyDictionary<string, object> Summary)
{
    /// <summary>Whether the participant also consents to analytics (one in ten consents to training only).</summary>
    public bool Analytics => Index % 10 != 9;

    /// <summary>The label of the summary ("0" malignant, "1" benign in the breast-cancer file).</summary>
    public string Label => (string)Summary["target"];
}

/// <summary>
/// The demo's data: the breast-cancer file (found like the tests find it), a stratified 80/20 split standardized with
/// the training statistics, the training rows dealt IID among the participants (their clinical records), and a
/// synthetic wearable series per participant (daily resting heart rate and steps for 30 days from the seed, shifted by
/// the label), summarised on the device with <see cref="ContributionEncoder.Summarize"/>.
/// </summary>
internal sealed class DemoData
{
    public const int Days = 30;

    private DemoData(string path, IReadOnlyList<DemoPerson> people, Dataset test, int features)
    {
        Path = path;
        People = people;
        Test = test;
        Features = features;
    }

    public string Path { get; }
    public IReadOnlyList<DemoPerson> People { get; }

    /// <summary>The held-out, standardized test split.</summary>
    public Dataset Test { get; }

    public int Features { get; }

    /// <summary>The breast-cancer file: $PRIVATEHEALTH_DATA_DIR/breast_cancer.csv, else shared/data found walking up from the binaries or the working directory.</summary>
    public static string FindBreastCancerCsv()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("PRIVATEHEALTH_DATA_DIR");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            string file = System.IO.Path.Combine(fromEnvironment, "breast_cancer.csv");
            return File.Exists(file) ? file : throw new FileNotFoundException($"PRIVATEHEALTH_DATA_DIR is set but {file} does not exist.", file);
        }

        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = System.IO.Path.Combine(dir.FullName, "shared", "data", "breast_cancer.csv");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException("breast_cancer.csv not found in a shared/data folder above the demo; set PRIVATEHEALTH_DATA_DIR.");
    }

    public static DemoData Load(int participants, int seed)
    {
        string path = FindBreastCancerCsv();
        var data = CsvDataset.Load(path, "target");
        var split = DatasetSplit.StratifiedSplit(data, 0.2, (ulong)seed);
        if (participants < 2 || participants > split.Train.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(participants), participants, $"--participants must be in [2, {split.Train.Count}] (the training split has {split.Train.Count} records).");
        }

        var standardizer = Standardizer.Fit(split.Train);
        var train = standardizer.Transform(split.Train);
        var test = standardizer.Transform(split.Test);

        // raw rows for what the devices summarise (the file's own values, not standardized)
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        int radius = Array.IndexOf(header, "mean_radius");
        int area = Array.IndexOf(header, "mean_area");
        int target = Array.IndexOf(header, "target");
        var raw = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList();

        var parts = Partition.IidIndices(train.Count, participants, (ulong)seed + 11);
        var people = new List<DemoPerson>(participants);
        for (int k = 0; k < participants; k++)
        {
            int[] positions = parts[k];
            int[] rows = [.. positions.Select(p => split.TrainIndices[p])];
            var records = new List<IReadOnlyDictionary<string, object>>();
            foreach (int row in rows)
            {
                var cells = raw[row];
                records.Add(new Dictionary<string, object>
                {
                    ["target"] = ((int)double.Parse(cells[target], CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture),
                    ["mean_radius"] = double.Parse(cells[radius], CultureInfo.InvariantCulture),
                    ["mean_area"] = double.Parse(cells[area], CultureInfo.InvariantCulture),
                });
            }

            string label = (string)records[^1]["target"];
            var (heart, steps) = Wearables(seed, k, label);
            for (int d = 0; d < Days; d++)
            {
                records.Add(new Dictionary<string, object> { ["resting_hr"] = heart[d], ["daily_steps"] = steps[d] });
            }

            people.Add(new DemoPerson(k, $"participant-{k:D3}", rows, train.Subset(positions), heart, steps, ContributionEncoder.Summarize(records)));
        }

        return new DemoData(path, people, test, train.FeatureCount);
    }

    /// <summary>
    /// A participant's 30 days from the seed: resting heart rate around 73 bpm with a malignant diagnosis ("0") and 66 bpm
    /// otherwise, steps around 6,200 and 8,400 a day, each with a personal offset and day-to-day variation.
    /// </summary>
    internal static (double[] RestingHeartRate, double[] Steps) Wearables(int seed, int participant, string label)
    {
        var random = new Random(unchecked((seed * 1_000_003) + participant));
        bool malignant = label == "0";
        double personalHeart = (malignant ? 73 : 66) + (4 * Normal(random));
        double personalSteps = (malignant ? 6_200 : 8_400) + (1_500 * Normal(random));
        var heart = new double[Days];
        var steps = new double[Days];
        for (int d = 0; d < Days; d++)
        {
            heart[d] = Math.Round(Math.Clamp(personalHeart + (2 * Normal(random)), 42, 108), 1);
            bool weekend = d % 7 is 5 or 6;
            steps[d] = Math.Round(Math.Clamp(personalSteps + (weekend ? -800 : 0) + (1_800 * Normal(random)), 300, 24_000));
        }

        return (heart, steps);
    }

    private static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
