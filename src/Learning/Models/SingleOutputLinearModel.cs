using System.Numerics.Tensors;
using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Models;

/// <summary>
/// A model z = w·x + b with one output and a pointwise loss ℓ(z, y): the shared state, batch loss and gradient of
/// <see cref="LinearRegression"/> and <see cref="LogisticRegression"/>. Parameter layout (d + 1 values):
/// [w₀, …, w_{d−1}, b], starting at zero; the bias is not regularised. The gradient is
/// mean_i ∂ℓ/∂z(z_i, y_i)·[x_i, 1], accumulated in row order.
/// </summary>
public abstract class SingleOutputLinearModel : IModel
{
    private readonly double[] _mask;

    protected SingleOutputLinearModel(int inputDimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputDimension);
        InputDimension = inputDimension;
        ParameterArray = new double[inputDimension + 1];
        _mask = new double[inputDimension + 1];
        _mask.AsSpan(0, inputDimension).Fill(1.0);
    }

    public abstract ModelTask Task { get; }

    public int InputDimension { get; }

    public int OutputDimension => 1;

    public int ParameterCount => ParameterArray.Length;

    public Span<double> Parameters => ParameterArray;

    public ReadOnlySpan<double> RegularizationMask => _mask;

    protected double[] ParameterArray { get; }

    private ReadOnlySpan<double> Weights => ParameterArray.AsSpan(0, InputDimension);

    private double Bias => ParameterArray[InputDimension];

    /// <summary>The linear predictor z = w·x + b.</summary>
    public double Linear(ReadOnlySpan<double> features) => TensorPrimitives.Dot(Weights, features) + Bias;

    /// <summary>The prediction from z (identity, sigmoid, …).</summary>
    protected abstract double Output(double z);

    /// <summary>ℓ(z, y) for one example.</summary>
    protected abstract double PointLoss(double z, double y);

    /// <summary>∂ℓ/∂z at (z, y).</summary>
    protected abstract double PointLossDerivative(double z, double y);

    /// <summary>An instance with the same dimension and zero parameters.</summary>
    protected abstract SingleOutputLinearModel CreateEmpty();

    public void Predict(ReadOnlySpan<double> features, Span<double> output)
    {
        Numerics.CheckPredict(this, features, output);
        output[0] = Output(Linear(features));
    }

    public double Loss(Dataset data, ReadOnlySpan<int> rows)
    {
        Numerics.CheckBatch(this, data, rows);
        double total = 0;
        foreach (int i in rows)
        {
            total += PointLoss(Linear(data.Row(i)), data.Label(i));
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
            double z = Linear(x);
            total += PointLoss(z, y);
            double residual = PointLossDerivative(z, y);
            TensorPrimitives.MultiplyAdd(x, residual, gw, gw);
            gb += residual;
        }

        gradient[InputDimension] = gb;
        TensorPrimitives.Divide(gradient, rows.Length, gradient);
        return total / rows.Length;
    }

    public IModel Clone()
    {
        var copy = CreateEmpty();
        ParameterArray.CopyTo(copy.ParameterArray, 0);
        return copy;
    }
}
