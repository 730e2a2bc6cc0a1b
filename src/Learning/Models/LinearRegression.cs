using MathNet.Numerics.LinearAlgebra;
using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Models;

/// <summary>
/// Linear regression ŷ = w·x + b. Parameter layout (d + 1 values): [w₀, …, w_{d−1}, b]. Starts at zero.
/// Loss: mean of ½(ŷ − y)² (half the MSE). <see cref="FitLeastSquares"/> gives the closed-form reference.
/// </summary>
public sealed class LinearRegression(int inputDimension) : SingleOutputLinearModel(inputDimension)
{
    public override ModelTask Task => ModelTask.Regression;

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
        beta.ToArray().CopyTo(model.ParameterArray, 0);
        return model;
    }

    protected override double Output(double z) => z;

    protected override double PointLoss(double z, double y)
    {
        double r = z - y;
        return 0.5 * r * r;
    }

    protected override double PointLossDerivative(double z, double y) => z - y;

    protected override SingleOutputLinearModel CreateEmpty() => new LinearRegression(InputDimension);
}
