using System.Numerics.Tensors;
using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Models;

/// <summary>
/// Binary logistic regression, P(y = 1 | x) = σ(w·x + b). Parameter layout (d + 1 values):
/// [w₀, …, w_{d−1}, b]. Starts at zero (the loss is convex). Loss: mean binary cross-entropy.
/// </summary>
public sealed class LogisticRegression : IModel
{
    private readonly double[] _parameters;
    private readonly double[] _mask;

    public LogisticRegression(int inputDimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputDimension);
        InputDimension = inputDimension;
        _parameters = new double[inputDimension + 1];
        _mask = new double[inputDimension + 1];
        _mask.AsSpan(0, inputDimension).Fill(1.0);
    }

    public ModelTask Task => ModelTask.BinaryClassification;

    public int InputDimension { get; }

    public int OutputDimension => 1;

    public int ParameterCount => _parameters.Length;

    public Span<double> Parameters => _parameters;

    public ReadOnlySpan<double> RegularizationMask => _mask;

    private ReadOnlySpan<double> Weights => _parameters.AsSpan(0, InputDimension);

    private double Bias => _parameters[InputDimension];

    /// <summary>The logit w·x + b.</summary>
    public double Logit(ReadOnlySpan<double> features) => TensorPrimitives.Dot(Weights, features) + Bias;

    public void Predict(ReadOnlySpan<double> features, Span<double> output)
    {
        Numerics.CheckPredict(this, features, output);
        output[0] = Numerics.Sigmoid(Logit(features));
    }

    public double Loss(Dataset data, ReadOnlySpan<int> rows)
    {
        Numerics.CheckBatch(this, data, rows);
        double total = 0;
        foreach (int i in rows)
        {
            total += Numerics.BinaryCrossEntropyFromLogit(Logit(data.Row(i)), data.Label(i));
        }

        return total / rows.Length;
    }

    public double LossAndGradient(Dataset data, ReadOnlySpan<int> rows, Span<double> gradient)
    {
        Numerics.CheckBatch(this, data, rows);
        Numerics.CheckGradient(this, gradient);
        gradient.Clear();
        Span<double> gw = gradient[..InputDimension];
        double gb = 0;
        double total = 0;
        foreach (int i in rows)
        {
            ReadOnlySpan<double> x = data.Row(i);
            double y = data.Label(i);
            double z = Logit(x);
            total += Numerics.BinaryCrossEntropyFromLogit(z, y);
            double residual = Numerics.Sigmoid(z) - y;
            TensorPrimitives.MultiplyAdd(x, residual, gw, gw);
            gb += residual;
        }

        gradient[InputDimension] = gb;
        TensorPrimitives.Divide(gradient, rows.Length, gradient);
        return total / rows.Length;
    }

    public IModel Clone()
    {
        var copy = new LogisticRegression(InputDimension);
        _parameters.CopyTo(copy._parameters, 0);
        return copy;
    }
}
