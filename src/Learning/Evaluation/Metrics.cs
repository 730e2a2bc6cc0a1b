namespace PrivateHealth.Learning.Evaluation;

/// <summary>Evaluation metrics on plain arrays. Sums run in index order.</summary>
public static class Metrics
{
    /// <summary>Default probability clipping for <see cref="LogLoss"/>: p is clipped to [ε, 1 − ε].</summary>
    public const double DefaultLogLossEpsilon = 1e-15;

    /// <summary>Fraction of equal entries.</summary>
    public static double Accuracy(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted)
    {
        CheckLengths(actual.Length, predicted.Length);
        int correct = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (actual[i] == predicted[i])
            {
                correct++;
            }
        }

        return (double)correct / actual.Length;
    }

    /// <summary>Binary accuracy from probabilities: predicted class = 1 when p ≥ threshold; labels 0/1.</summary>
    public static double Accuracy(ReadOnlySpan<double> labels, ReadOnlySpan<double> probabilities, double threshold = 0.5)
    {
        CheckLengths(labels.Length, probabilities.Length);
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            double predicted = probabilities[i] >= threshold ? 1.0 : 0.0;
            if (predicted == labels[i])
            {
                correct++;
            }
        }

        return (double)correct / labels.Length;
    }

    /// <summary>
    /// Area under the ROC curve by ranks (Mann–Whitney U): scores are ranked ascending with tied scores sharing
    /// their mid-rank, and AUC = (Σ ranks of positives − P(P+1)/2) / (P·N). A tie between a positive and a
    /// negative counts ½. Labels are 0/1 (anything other than 1 is negative); throws unless both classes occur.
    /// </summary>
    public static double RocAuc(ReadOnlySpan<double> labels, ReadOnlySpan<double> scores)
    {
        CheckLengths(labels.Length, scores.Length);
        int n = labels.Length;
        for (int i = 0; i < n; i++)
        {
            if (double.IsNaN(scores[i]))
            {
                throw new ArgumentException($"Score {i} is NaN.", nameof(scores));
            }
        }

        int[] order = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        double[] keys = scores.ToArray();
        Array.Sort(keys, order);
        double positiveRankSum = 0;
        long positives = 0;
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && keys[end] == keys[start])
            {
                end++;
            }

            double midRank = (start + 1 + end) / 2.0; // ranks start+1 … end
            for (int t = start; t < end; t++)
            {
                if (labels[order[t]] == 1.0)
                {
                    positiveRankSum += midRank;
                    positives++;
                }
            }

            start = end;
        }

        long negatives = n - positives;
        if (positives == 0 || negatives == 0)
        {
            throw new ArgumentException("ROC AUC needs both positive and negative labels.", nameof(labels));
        }

        return (positiveRankSum - (positives * (positives + 1) / 2.0)) / ((double)positives * negatives);
    }

    /// <summary>
    /// Mean binary cross-entropy −[y ln p + (1 − y) ln(1 − p)] with p clipped to [ε, 1 − ε].
    /// </summary>
    public static double LogLoss(ReadOnlySpan<double> labels, ReadOnlySpan<double> probabilities, double epsilon = DefaultLogLossEpsilon)
    {
        CheckLengths(labels.Length, probabilities.Length);
        CheckEpsilon(epsilon);
        double total = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            double p = Math.Clamp(probabilities[i], epsilon, 1.0 - epsilon);
            double y = labels[i];
            total -= (y * Math.Log(p)) + ((1.0 - y) * Math.Log(1.0 - p));
        }

        return total / labels.Length;
    }

    /// <summary>
    /// Mean categorical cross-entropy −ln p_{i, y_i}; <paramref name="probabilities"/> is row-major
    /// (n × classCount), each probability clipped below at ε.
    /// </summary>
    public static double MulticlassLogLoss(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, int classCount, double epsilon = DefaultLogLossEpsilon)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        CheckEpsilon(epsilon);
        CheckLengths(labels.Length * classCount, probabilities.Length);
        double total = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            int y = labels[i];
            ArgumentOutOfRangeException.ThrowIfNegative(y, nameof(labels));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, classCount, nameof(labels));
            total -= Math.Log(Math.Max(probabilities[(i * classCount) + y], epsilon));
        }

        return total / labels.Length;
    }

    /// <summary>Mean of (ŷ − y)².</summary>
    public static double MeanSquaredError(ReadOnlySpan<double> actual, ReadOnlySpan<double> predicted)
    {
        CheckLengths(actual.Length, predicted.Length);
        double total = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double r = predicted[i] - actual[i];
            total += r * r;
        }

        return total / actual.Length;
    }

    /// <summary>
    /// Coefficient of determination 1 − Σ(y − ŷ)² / Σ(y − ȳ)². When every y is equal: 1 for a perfect
    /// prediction, NaN otherwise.
    /// </summary>
    public static double RSquared(ReadOnlySpan<double> actual, ReadOnlySpan<double> predicted)
    {
        CheckLengths(actual.Length, predicted.Length);
        double mean = 0;
        foreach (double y in actual)
        {
            mean += y;
        }

        mean /= actual.Length;
        double residual = 0;
        double totalSquares = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double r = actual[i] - predicted[i];
            double t = actual[i] - mean;
            residual += r * r;
            totalSquares += t * t;
        }

        if (totalSquares == 0)
        {
            return residual == 0 ? 1.0 : double.NaN;
        }

        return 1.0 - (residual / totalSquares);
    }

    private static void CheckLengths(int expected, int actual)
    {
        if (expected == 0)
        {
            throw new ArgumentException("Metrics need at least one sample.");
        }

        if (expected != actual)
        {
            throw new ArgumentException($"Length mismatch: {expected} versus {actual}.");
        }
    }

    private static void CheckEpsilon(double epsilon)
    {
        if (!(epsilon > 0 && epsilon < 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must lie in (0, 0.5).");
        }
    }
}
