namespace PrivateHealth.Learning.Data;

/// <summary>
/// An immutable table of samples: features as one row-major array (row i occupies
/// [i·FeatureCount, (i+1)·FeatureCount)), one label per row as a double (class index 0, 1, … for
/// classification, a real value for regression), feature names and a label name.
/// </summary>
public sealed class Dataset
{
    private readonly double[] _features;
    private readonly double[] _labels;

    /// <summary>Copies a row-major feature array (length = labels.Length × featureCount) and the labels.</summary>
    public Dataset(
        ReadOnlySpan<double> features,
        int featureCount,
        ReadOnlySpan<double> labels,
        IReadOnlyList<string>? featureNames = null,
        string labelName = "label")
        : this(features.ToArray(), featureCount, labels.ToArray(), featureNames, labelName, validate: true)
    {
    }

    private Dataset(double[] features, int featureCount, double[] labels, IReadOnlyList<string>? featureNames, string labelName, bool validate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureCount);
        ArgumentNullException.ThrowIfNull(labelName);
        if (features.Length != (long)labels.Length * featureCount)
        {
            throw new ArgumentException(
                $"The feature array has {features.Length} values; {labels.Length} rows × {featureCount} features need {(long)labels.Length * featureCount}.",
                nameof(features));
        }

        if (featureNames is not null && featureNames.Count != featureCount)
        {
            throw new ArgumentException($"{featureNames.Count} feature names for {featureCount} features.", nameof(featureNames));
        }

        if (validate)
        {
            for (int i = 0; i < features.Length; i++)
            {
                if (!double.IsFinite(features[i]))
                {
                    throw new ArgumentException($"Feature value {features[i]} at row {i / featureCount}, column {i % featureCount} is not finite.", nameof(features));
                }
            }

            for (int i = 0; i < labels.Length; i++)
            {
                if (!double.IsFinite(labels[i]))
                {
                    throw new ArgumentException($"Label {labels[i]} at row {i} is not finite.", nameof(labels));
                }
            }
        }

        _features = features;
        _labels = labels;
        FeatureCount = featureCount;
        FeatureNames = featureNames is null ? DefaultNames(featureCount) : [.. featureNames];
        LabelName = labelName;
    }

    /// <summary>Builds a dataset from rows (each of the same length) and real-valued labels.</summary>
    public static Dataset FromRows(IReadOnlyList<double[]> rows, ReadOnlySpan<double> labels, IReadOnlyList<string>? featureNames = null, string labelName = "label")
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            throw new ArgumentException("A dataset needs at least one row.", nameof(rows));
        }

        if (rows.Count != labels.Length)
        {
            throw new ArgumentException($"{rows.Count} rows but {labels.Length} labels.", nameof(labels));
        }

        int featureCount = rows[0].Length;
        double[] flat = new double[rows.Count * featureCount];
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i].Length != featureCount)
            {
                throw new ArgumentException($"Row {i} has {rows[i].Length} values, row 0 has {featureCount}.", nameof(rows));
            }

            rows[i].CopyTo(flat, i * featureCount);
        }

        return new Dataset(flat, featureCount, labels.ToArray(), featureNames, labelName, validate: true);
    }

    /// <summary>Builds a dataset from rows and integer class labels.</summary>
    public static Dataset FromRows(IReadOnlyList<double[]> rows, ReadOnlySpan<int> labels, IReadOnlyList<string>? featureNames = null, string labelName = "label")
    {
        double[] asDouble = new double[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            asDouble[i] = labels[i];
        }

        return FromRows(rows, asDouble, featureNames, labelName);
    }

    /// <summary>Wraps arrays without copying or validating; the caller must not change them afterwards.</summary>
    internal static Dataset Wrap(double[] features, int featureCount, double[] labels, IReadOnlyList<string> featureNames, string labelName) =>
        new(features, featureCount, labels, featureNames, labelName, validate: false);

    /// <summary>Number of rows (samples).</summary>
    public int Count => _labels.Length;

    public int FeatureCount { get; }

    public IReadOnlyList<string> FeatureNames { get; }

    public string LabelName { get; }

    /// <summary>All features, row-major.</summary>
    public ReadOnlySpan<double> Features => _features;

    /// <summary>All labels, in row order.</summary>
    public ReadOnlySpan<double> Labels => _labels;

    /// <summary>The features of row <paramref name="index"/>.</summary>
    public ReadOnlySpan<double> Row(int index) => _features.AsSpan(index * FeatureCount, FeatureCount);

    /// <summary>The label of row <paramref name="index"/>.</summary>
    public double Label(int index) => _labels[index];

    /// <summary>The label of row <paramref name="index"/> as a class index; throws unless it is a non-negative integer.</summary>
    public int ClassLabel(int index) => ToClass(_labels[index], index);

    /// <summary>All labels as class indices.</summary>
    public int[] ClassLabels()
    {
        int[] classes = new int[_labels.Length];
        for (int i = 0; i < classes.Length; i++)
        {
            classes[i] = ToClass(_labels[i], i);
        }

        return classes;
    }

    /// <summary>Rows per class 0 … max label (labels must be class indices).</summary>
    public int[] ClassCounts()
    {
        int[] classes = ClassLabels();
        int max = classes.Length == 0 ? -1 : classes.Max();
        int[] counts = new int[max + 1];
        foreach (int c in classes)
        {
            counts[c]++;
        }

        return counts;
    }

    /// <summary>The rows at <paramref name="indices"/>, in that order (indices may repeat).</summary>
    public Dataset Subset(ReadOnlySpan<int> indices)
    {
        double[] features = new double[indices.Length * FeatureCount];
        double[] labels = new double[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int row = indices[i];
            if ((uint)row >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), row, $"Row index outside 0 … {Count - 1}.");
            }

            Row(row).CopyTo(features.AsSpan(i * FeatureCount, FeatureCount));
            labels[i] = _labels[row];
        }

        return new Dataset(features, FeatureCount, labels, FeatureNames, LabelName, validate: false);
    }

    /// <summary>The same labels and names with other features (same shape), e.g. after standardization.</summary>
    public Dataset WithFeatures(ReadOnlySpan<double> features) =>
        new(features.ToArray(), FeatureCount, _labels, FeatureNames, LabelName, validate: true);

    /// <summary>A copy of the features as one array per row.</summary>
    public double[][] ToRows()
    {
        double[][] rows = new double[Count][];
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = Row(i).ToArray();
        }

        return rows;
    }

    private static int ToClass(double label, int row)
    {
        if (label < 0 || label > int.MaxValue || label != Math.Floor(label))
        {
            throw new InvalidOperationException($"Label {label} of row {row} is not a class index (a non-negative integer).");
        }

        return (int)label;
    }

    private static string[] DefaultNames(int count)
    {
        string[] names = new string[count];
        for (int i = 0; i < count; i++)
        {
            names[i] = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"x{i}");
        }

        return names;
    }
}
