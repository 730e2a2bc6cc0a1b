using System.Numerics.Tensors;
using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Models;

/// <summary>
/// Multinomial logistic (softmax) regression, P(y = k | x) = softmax(W x + b)_k for K classes. Parameter
/// layout (K·d + K values): W row-major (class k's weights at [k·d, (k+1)·d)), then b₀ … b_{K−1}.
/// Starts at zero. Loss: mean categorical cross-entropy, labels 0 … K−1.
/// </summary>
public sealed class SoftmaxRegression : IModel
{
    private readonly double[] _parameters;
    private readonly double[] _mask;
    private readonly double[] _scratch;

    public SoftmaxRegression(int inputDimension, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputDimension);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        InputDimension = inputDimension;
        ClassCount = classCount;
        _parameters = new double[(inputDimension + 1) * classCount];
        _mask = new double[_parameters.Length];
        _mask.AsSpan(0, inputDimension * classCount).Fill(1.0);
        _scratch = new double[classCount];
    }

    public ModelTask Task => ModelTask.MulticlassClassification;

    public int InputDimension { get; }

    public int ClassCount { get; }

    public int OutputDimension => ClassCount;

    public int ParameterCount => _parameters.Length;

    public Span<double> Parameters => _parameters;

    public ReadOnlySpan<double> RegularizationMask => _mask;

    private int BiasOffset => InputDimension * ClassCount;

    public void Predict(ReadOnlySpan<double> features, Span<double> output)
    {
        Numerics.CheckPredict(this, features, output);
        Span<double> p = output[..ClassCount];
        Logits(features, p);
        Numerics.SoftmaxInPlace(p);
    }

    public double Loss(Dataset data, ReadOnlySpan<int> rows)
    {
        Numerics.CheckBatch(this, data, rows);
        double total = 0;
        foreach (int i in rows)
        {
            int y = Numerics.ClassOf(data.Label(i), ClassCount);
            Logits(data.Row(i), _scratch);
            double logit = _scratch[y];
            total += Numerics.SoftmaxInPlace(_scratch) - logit;
        }

        return total / rows.Length;
    }

    public double LossAndGradient(Dataset data, ReadOnlySpan<int> rows, Span<double> gradient)
    {
        Numerics.CheckBatch(this, data, rows);
        Numerics.CheckGradient(this, gradient);
        gradient.Clear();
        int d = InputDimension;
        double total = 0;
        foreach (int i in rows)
        {
            ReadOnlySpan<double> x = data.Row(i);
            int y = Numerics.ClassOf(data.Label(i), ClassCount);
            Logits(x, _scratch);
            double logit = _scratch[y];
            total += Numerics.SoftmaxInPlace(_scratch) - logit;
            _scratch[y] -= 1.0;
            for (int k = 0; k < ClassCount; k++)
            {
                Span<double> gk = gradient.Slice(k * d, d);
                TensorPrimitives.MultiplyAdd(x, _scratch[k], gk, gk);
                gradient[BiasOffset + k] += _scratch[k];
            }
        }

        TensorPrimitives.Divide(gradient, rows.Length, gradient);
        return total / rows.Length;
    }

    public IModel Clone()
    {
        var copy = new SoftmaxRegression(InputDimension, ClassCount);
        _parameters.CopyTo(copy._parameters, 0);
        return copy;
    }

    private void Logits(ReadOnlySpan<double> x, Span<double> logits)
    {
        int d = InputDimension;
        for (int k = 0; k < ClassCount; k++)
        {
            logits[k] = TensorPrimitives.Dot(_parameters.AsSpan(k * d, d), x) + _parameters[BiasOffset + k];
        }
    }
}
