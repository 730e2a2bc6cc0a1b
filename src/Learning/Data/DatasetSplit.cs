using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.Learning.Data;

/// <summary>A train/test split with the original row indices of each part (ascending).</summary>
public sealed record TrainTestSplit(Dataset Train, Dataset Test, IReadOnlyList<int> TrainIndices, IReadOnlyList<int> TestIndices);

/// <summary>Train/test splitting.</summary>
public static class DatasetSplit
{
    /// <summary>
    /// Stratified split by class label, deterministic in <paramref name="seed"/>. The test part has
    /// ⌈testFraction·n⌉ rows, shared among classes by largest remainder of testFraction·n_c (ties to the lower
    /// class), so class proportions match to within one row (scikit-learn's StratifiedShuffleSplit sizes;
    /// the breast-cancer file gives 455 train / 114 test). Procedure: one <see cref="SeededRandom"/>(seed);
    /// for each class in ascending order its row indices (ascending) are shuffled and the first k_c go to the
    /// test part. Both parts keep the original row order.
    /// </summary>
    public static TrainTestSplit StratifiedSplit(Dataset dataset, double testFraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (!(testFraction > 0 && testFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "The test fraction must lie in (0, 1).");
        }

        int n = dataset.Count;
        int[] classes = dataset.ClassLabels();
        int classCount = classes.Max() + 1;
        var byClass = new List<int>[classCount];
        for (int c = 0; c < classCount; c++)
        {
            byClass[c] = [];
        }

        for (int i = 0; i < n; i++)
        {
            byClass[classes[i]].Add(i);
        }

        int testTotal = (int)Math.Ceiling(testFraction * n);
        if (testTotal >= n)
        {
            throw new ArgumentException($"A test fraction of {testFraction} leaves no training rows out of {n}.", nameof(testFraction));
        }

        int[] testPerClass = new int[classCount];
        double[] remainder = new double[classCount];
        int assigned = 0;
        for (int c = 0; c < classCount; c++)
        {
            double exact = testFraction * byClass[c].Count;
            testPerClass[c] = (int)Math.Floor(exact);
            remainder[c] = exact - testPerClass[c];
            assigned += testPerClass[c];
        }

        while (assigned < testTotal)
        {
            int best = -1;
            for (int c = 0; c < classCount; c++)
            {
                if (testPerClass[c] < byClass[c].Count && (best < 0 || remainder[c] > remainder[best]))
                {
                    best = c;
                }
            }

            testPerClass[best]++;
            remainder[best] = double.NegativeInfinity;
            assigned++;
        }

        var random = new SeededRandom(seed);
        var testIndices = new List<int>(testTotal);
        var trainIndices = new List<int>(n - testTotal);
        for (int c = 0; c < classCount; c++)
        {
            int[] members = [.. byClass[c]];
            random.Shuffle(members.AsSpan());
            testIndices.AddRange(members.AsSpan(0, testPerClass[c]));
            trainIndices.AddRange(members.AsSpan(testPerClass[c]));
        }

        testIndices.Sort();
        trainIndices.Sort();
        int[] train = [.. trainIndices];
        int[] test = [.. testIndices];
        return new TrainTestSplit(dataset.Subset(train), dataset.Subset(test), train, test);
    }
}
