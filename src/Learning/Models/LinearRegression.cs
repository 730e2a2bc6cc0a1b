using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Models;

/// <summary>
/// Linear regression ŷ = w·x + b. Parameter layout (d + 1 values): [w₀, …, w_{d−1}, b]. Starts at zero.
/// Loss: mean of ½(ŷ − y)² (half the MSE). <see cref="FitLeastSquares"/> gives the closed-form reference.
/// </summary>
public sealed class LinearRegression : IModel
{
    private readonly double[] _parameters;
    private readonly double[] _mask;

    public LinearRegression(int inputDimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputDimension);
        InputDimension = inputDimension;
        _parameters = new double[inputDimension + 1];
        _mask = new double[inputDimension + 1];
        _mask.AsSpan(0, inputDimension).Fill(1.0);
    }

    public ModelTask Task => ModelTask.Regression;

    public int InputDimension { get; }

    public int OutputDimension => 1;

    public int ParameterCount => _parameters.Length;

    public Span<double> Parameters => _parameters;

    public ReadOnlySpan<double> RegularizationMask => _mask;

    private ReadOnlySpan<double> Weights => _parameters.AsSpan(0, InputDimension);

    private double Bias => _parameters[InputDimension];

    /// <summary>
    /// Closed-form least squares with an intercept, minimising Σ(ŷ − y)² + ridge·‖w‖² (the intercept is not
    /// penalised). ridge = 0 solves by QR of the design matrix [X 1]; ridge &gt; 0 by Cholesky of the
    /// regularised normal equations. Uses MathNet.Numerics.
    /// </summary>
    public static LinearRegression FitLeastSquares(Dataset data, double ridge = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(ridge);
        int d = data.FeatureCount;
        int n = data.Count;
        Matrix<double> design = Matrix<double>.Build.Dense(n, d + 1, (i, j) => j < d ? data.Row(i)[j] : 1.0);
        Vector<double> y = Vector<double>.Build.DenseOfArray(data.Labels.ToArray());
        Vector<double> beta;
        if (ridge == 0)
        {
            if (n < d + 1)
            {
                throw new ArgumentException($"Least squares without ridge needs at least {d + 1} rows, got {n}.", nameof(data));
            }

            beta = design.QR().Solve(y);
        }
        else
        {
            Matrix<double> gram = design.TransposeThisAndMultiply(design);
            for (int j = 0; j < d; j++)
            {
                gram[j, j] += ridge;
            }

            beta = gram.Cholesky().Solve(design.TransposeThisAndMultiply(y));
        }

        var model = new LinearRegression(d);
        beta.ToArray().CopyTo(model._parameters, 0);
        return model;
    }

    public void Predict(ReadOnlySpan<double> features, Span<double> output)
    {
        Numerics.CheckPredict(this, features, output);
        output[0] = TensorPrimitives.Dot(Weights, features) + Bias;
    }

    public double Loss(Dataset data, ReadOnlySpan<int> rows)
    {
        Numerics.CheckBatch(this, data, rows);
        double total = 0;
        foreach (int i in rows)
        {
            double r = TensorPrimitives.Dot(Weights, data.Row(i)) + Bias - data.Label(i);
            total += 0.5 * r * r;
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
            double r = TensorPrimitives.Dot(Weights, x) + Bias - data.Label(i);
            total += 0.5 * r * r;
            TensorPrimitives.MultiplyAdd(x, r, gw, gw);
            gb += r;
        }

        gradient[InputDimension] = gb;
        TensorPrimitives.Divide(gradient, rows.Length, gradient);
        return total / rows.Length;
    }

    public IModel Clone()
    {
        var copy = new LinearRegression(InputDimension);
        _parameters.CopyTo(copy._parameters, 0);
        return copy;
    }
}
