using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Models;

/// <summary>Numerically stable scalar functions shared by the models.</summary>
internal static class Numerics
{
    /// <summary>σ(z) = 1 / (1 + e^−z), evaluated without overflow.</summary>
    public static double Sigmoid(double z)
    {
        if (z >= 0)
        {
            return 1.0 / (1.0 + Math.Exp(-z));
        }

        double e = Math.Exp(z);
        return e / (1.0 + e);
    }

    /// <summary>softplus(z) = ln(1 + e^z) = max(z, 0) + ln(1 + e^−|z|).</summary>
    public static double Softplus(double z) => Math.Max(z, 0.0) + Math.Log(1.0 + Math.Exp(-Math.Abs(z)));

    /// <summary>Binary cross-entropy from the logit: −y ln σ(z) − (1 − y) ln(1 − σ(z)) = softplus(z) − y·z.</summary>
    public static double BinaryCrossEntropyFromLogit(double z, double y) => Softplus(z) - (y * z);

    /// <summary>
    /// Replaces logits by softmax probabilities in place and returns ln Σ e^z (computed as m + ln Σ e^(z−m), m = max z).
    /// </summary>
    public static double SoftmaxInPlace(Span<double> logits)
    {
        double max = double.NegativeInfinity;
        foreach (double z in logits)
        {
            max = Math.Max(max, z);
        }

        double sum = 0;
        for (int k = 0; k < logits.Length; k++)
        {
            double e = Math.Exp(logits[k] - max);
            logits[k] = e;
            sum += e;
        }

        for (int k = 0; k < logits.Length; k++)
        {
            logits[k] /= sum;
        }

        return max + Math.Log(sum);
    }

    public static void CheckBatch(IModel model, Dataset data, ReadOnlySpan<int> rows)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.FeatureCount != model.InputDimension)
        {
            throw new ArgumentException($"The data has {data.FeatureCount} features; the model expects {model.InputDimension}.", nameof(data));
        }

        if (rows.IsEmpty)
        {
            throw new ArgumentException("A batch needs at least one row.", nameof(rows));
        }
    }

    public static void CheckGradient(IModel model, Span<double> gradient)
    {
        if (gradient.Length != model.ParameterCount)
        {
            throw new ArgumentException($"The gradient buffer has {gradient.Length} entries; the model has {model.ParameterCount} parameters.", nameof(gradient));
        }
    }

    public static void CheckPredict(IModel model, ReadOnlySpan<double> features, Span<double> output)
    {
        if (features.Length != model.InputDimension)
        {
            throw new ArgumentException($"Expected {model.InputDimension} features, got {features.Length}.", nameof(features));
        }

        if (output.Length < model.OutputDimension)
        {
            throw new ArgumentException($"The output buffer needs {model.OutputDimension} entries, has {output.Length}.", nameof(output));
        }
    }

    public static int ClassOf(double label, int classCount)
    {
        int c = (int)label;
        if (c != label || c < 0 || c >= classCount)
        {
            throw new ArgumentException($"Label {label} is not a class index in 0 … {classCount - 1}.", nameof(label));
        }

        return c;
    }
}
