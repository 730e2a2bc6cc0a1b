using System.Numerics.Tensors;

namespace PrivateHealth.Learning.Data;

/// <summary>
/// Per-feature standardization x′ = (x − mean) / std. Either fitted on training data (population std,
/// divisor n, as scikit-learn's StandardScaler) or built from published statistics — the coordinator
/// publishes mean and std (e.g. derived from encrypted sums via <see cref="FromMoments"/>) and every
/// participant transforms its own rows with them. Constant features (std below <see cref="MinimumStandardDeviation"/>)
/// get std = 1, i.e. are only centred.
/// </summary>
public sealed class Standardizer
{
    /// <summary>Standard deviations below this are treated as a constant feature and replaced by 1.</summary>
    public const double MinimumStandardDeviation = 1e-12;

    private readonly double[] _mean;
    private readonly double[] _std;

    /// <summary>From published statistics. Every std must be finite and positive; every mean finite.</summary>
    public Standardizer(ReadOnlySpan<double> mean, ReadOnlySpan<double> standardDeviation)
    {
        if (mean.Length == 0 || mean.Length != standardDeviation.Length)
        {
            throw new ArgumentException($"Need as many means as standard deviations (got {mean.Length} and {standardDeviation.Length}), at least one.", nameof(standardDeviation));
        }

        for (int j = 0; j < mean.Length; j++)
        {
            if (!double.IsFinite(mean[j]))
            {
                throw new ArgumentException($"Mean {j} = {mean[j]} is not finite.", nameof(mean));
            }

            if (!double.IsFinite(standardDeviation[j]) || !(standardDeviation[j] > 0))
            {
                throw new ArgumentException($"Standard deviation {j} = {standardDeviation[j]} is not finite and positive.", nameof(standardDeviation));
            }
        }

        _mean = mean.ToArray();
        _std = standardDeviation.ToArray();
    }

    /// <summary>Fits on a dataset: mean = Σx/n, then std = √(Σ(x − mean)²/n), rows in order.</summary>
    public static Standardizer Fit(Dataset training)
    {
        ArgumentNullException.ThrowIfNull(training);
        int d = training.FeatureCount;
        int n = training.Count;
        if (n == 0)
        {
            throw new ArgumentException("Cannot fit on an empty dataset.", nameof(training));
        }

        double[] mean = new double[d];
        for (int i = 0; i < n; i++)
        {
            TensorPrimitives.Add(mean, training.Row(i), mean);
        }

        TensorPrimitives.Divide(mean, n, mean);
        double[] squares = new double[d];
        double[] centred = new double[d];
        for (int i = 0; i < n; i++)
        {
            TensorPrimitives.Subtract(training.Row(i), mean, centred);
            TensorPrimitives.MultiplyAdd(centred, centred, squares, squares);
        }

        double[] std = new double[d];
        for (int j = 0; j < d; j++)
        {
            std[j] = Guard(Math.Sqrt(squares[j] / n));
        }

        return new Standardizer(mean, std);
    }

    /// <summary>
    /// From aggregate moments (what a coordinator can compute from encrypted per-feature sums):
    /// mean = sum/n, variance = max(0, sumOfSquares/n − mean²), std = √variance (population).
    /// </summary>
    public static Standardizer FromMoments(long count, ReadOnlySpan<double> sum, ReadOnlySpan<double> sumOfSquares)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (sum.Length != sumOfSquares.Length)
        {
            throw new ArgumentException("Sums and sums of squares differ in length.", nameof(sumOfSquares));
        }

        double[] mean = new double[sum.Length];
        double[] std = new double[sum.Length];
        for (int j = 0; j < sum.Length; j++)
        {
            mean[j] = sum[j] / count;
            std[j] = Guard(Math.Sqrt(Math.Max(0.0, (sumOfSquares[j] / count) - (mean[j] * mean[j]))));
        }

        return new Standardizer(mean, std);
    }

    public int FeatureCount => _mean.Length;

    public ReadOnlySpan<double> Mean => _mean;

    public ReadOnlySpan<double> StandardDeviation => _std;

    /// <summary>Writes (row − mean) / std to <paramref name="destination"/> (may be the same memory as the row).</summary>
    public void TransformRow(ReadOnlySpan<double> row, Span<double> destination)
    {
        if (row.Length != FeatureCount || destination.Length != FeatureCount)
        {
            throw new ArgumentException($"Expected rows of {FeatureCount} features, got {row.Length} → {destination.Length}.", nameof(row));
        }

        TensorPrimitives.Subtract(row, _mean, destination);
        TensorPrimitives.Divide(destination, _std, destination);
    }

    /// <summary>A standardized copy of the dataset (labels and names unchanged).</summary>
    public Dataset Transform(Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.FeatureCount != FeatureCount)
        {
            throw new ArgumentException($"The dataset has {dataset.FeatureCount} features; the standardizer {FeatureCount}.", nameof(dataset));
        }

        double[] features = dataset.Features.ToArray();
        for (int i = 0; i < dataset.Count; i++)
        {
            Span<double> row = features.AsSpan(i * FeatureCount, FeatureCount);
            TransformRow(row, row);
        }

        return Dataset.Wrap(features, FeatureCount, dataset.Labels.ToArray(), dataset.FeatureNames, dataset.LabelName);
    }

    private static double Guard(double std) => double.IsFinite(std) && std >= MinimumStandardDeviation ? std : 1.0;
}
