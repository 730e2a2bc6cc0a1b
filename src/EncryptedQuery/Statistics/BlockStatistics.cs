using MathNet.Numerics.LinearAlgebra;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Statistics;

/// <summary>
/// Statistics of one (decrypted, possibly noisy) block: the count, sums, sums of squares and cross-products of a
/// cell or of several cells added together (see <see cref="CellLayout"/> for the order). All moments are sample
/// moments (n − 1 denominators). With noise the count need not be an integer; the methods use it as it is.
/// </summary>
/// <param name="Layout">The layout the block comes from (gives the offsets).</param>
/// <param name="Block">The <see cref="CellLayout.BlockSize"/> values of the block.</param>
public sealed record BlockStatistics(CellLayout Layout, double[] Block)
{
    /// <summary>The layout the block comes from.</summary>
    public CellLayout Layout { get; init; } = Layout ?? throw new ArgumentNullException(nameof(Layout));

    /// <summary>The block: <see cref="CellLayout.BlockSize"/> values.</summary>
    public double[] Block { get; init; } = CheckBlock(Layout, Block);

    /// <summary>n, the (possibly noisy) number of people.</summary>
    public double Count => Block[CellLayout.CountOffset];

    /// <summary>Σx_m.</summary>
    public double Sum(int m) => Block[Layout.SumOffset(m)];

    /// <summary>Σx_m².</summary>
    public double SumSquares(int m) => Block[Layout.SumSquaresOffset(m)];

    /// <summary>Σx_a·x_b (Σx_a² when a = b).</summary>
    public double SumProducts(int a, int b) => a == b ? SumSquares(a) : Block[Layout.ProductOffset(a, b)];

    /// <summary>Σx_m / n.</summary>
    /// <exception cref="InvalidOperationException">n ≤ 0.</exception>
    public double Mean(int m)
    {
        RequireCount(0);
        return Sum(m) / Count;
    }

    /// <summary>Sample variance (Σx² − (Σx)²/n)/(n − 1). Noise can make it negative.</summary>
    /// <exception cref="InvalidOperationException">n ≤ 1.</exception>
    public double Variance(int m) => Covariance(m, m);

    /// <summary>√max(0, variance).</summary>
    public double StandardDeviation(int m) => Math.Sqrt(Math.Max(0, Variance(m)));

    /// <summary>Sample covariance (Σx_a·x_b − Σx_a·Σx_b/n)/(n − 1).</summary>
    /// <exception cref="InvalidOperationException">n ≤ 1.</exception>
    public double Covariance(int a, int b)
    {
        RequireCount(1);
        double n = Count;
        return (SumProducts(a, b) - (Sum(a) * Sum(b) / n)) / (n - 1);
    }

    /// <summary>Pearson correlation, clamped to [−1, 1] (noise can push it out); NaN when a standard deviation is 0.</summary>
    public double Correlation(int a, int b)
    {
        double sa = StandardDeviation(a), sb = StandardDeviation(b);
        if (sa == 0 || sb == 0)
        {
            return double.NaN;
        }

        return Math.Clamp(Covariance(a, b) / (sa * sb), -1, 1);
    }

    /// <summary>
    /// Ordinary least squares of measure <paramref name="y"/> on the measures <paramref name="xs"/> with an intercept,
    /// from the block's moments: the normal equations are formed on centred cross-products (corrected sums of squares),
    /// scaled to unit diagonal and solved by Cholesky (MathNet). Standard errors are the usual
    /// √(σ̂²·(XᵀX)⁻¹) ones, σ̂² = SSE/(n − p − 1); <see cref="LinearRegressionResult.StandardErrors"/> is aligned with the
    /// coefficients and <see cref="LinearRegressionResult.InterceptStandardError"/> holds the intercept's.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="y"/> among the predictors, or a predictor repeated.</exception>
    /// <exception cref="InvalidOperationException">n ≤ p + 1 (no residual degrees of freedom).</exception>
    /// <exception cref="SingularRegressionException">A predictor is constant or (nearly) a linear combination of the others.</exception>
    public LinearRegressionResult LinearRegression(int y, IReadOnlyList<int> xs)
    {
        ArgumentNullException.ThrowIfNull(xs);
        _ = Layout.SumOffset(y);
        for (int j = 0; j < xs.Count; j++)
        {
            _ = Layout.SumOffset(xs[j]);
            if (xs[j] == y)
            {
                throw new ArgumentException($"The response (measure {y}) cannot also be a predictor.", nameof(xs));
            }

            for (int k = 0; k < j; k++)
            {
                if (xs[k] == xs[j])
                {
                    throw new ArgumentException($"Predictor {xs[j]} is listed twice.", nameof(xs));
                }
            }
        }

        int p = xs.Count;
        double n = Count;
        if (!(n > p + 1))
        {
            throw new InvalidOperationException($"A regression on {p} predictors needs a count above {p + 1}, got {n}.");
        }

        // Corrected (centred) sums of squares and products: S_ab = Σab − ΣaΣb/n.
        double Corrected(int a, int b) => SumProducts(a, b) - (Sum(a) * Sum(b) / n);
        double syy = Corrected(y, y);
        var means = Vector<double>.Build.Dense(p, j => Sum(xs[j]) / n);
        if (p == 0)
        {
            double variance0 = Math.Max(0, syy) / (n - 1);
            return new LinearRegressionResult(Sum(y) / n, [], 0, variance0, [])
            {
                InterceptStandardError = Math.Sqrt(variance0 / n),
            };
        }

        var sxx = Matrix<double>.Build.Dense(p, p, (j, k) => Corrected(xs[j], xs[k]));
        var sxy = Vector<double>.Build.Dense(p, j => Corrected(xs[j], y));
        var scale = Vector<double>.Build.Dense(p);
        for (int j = 0; j < p; j++)
        {
            if (!(sxx[j, j] > 0))
            {
                throw new SingularRegressionException(
                    $"Predictor '{Layout.Schema.Measures[xs[j]].Name}' has no variance in this block, so it is collinear with the intercept.");
            }

            scale[j] = 1 / Math.Sqrt(sxx[j, j]);
        }

        // Correlation-like matrix with unit diagonal: better conditioned, and its Cholesky pivots L_jj² are
        // 1 − R²_j (predictor j on the earlier ones), a direct measure of collinearity.
        var r = Matrix<double>.Build.Dense(p, p, (j, k) => sxx[j, k] * scale[j] * scale[k]);
        var ry = sxy.PointwiseMultiply(scale);
        MathNet.Numerics.LinearAlgebra.Factorization.Cholesky<double> cholesky;
        try
        {
            cholesky = r.Cholesky();
        }
        catch (ArgumentException e)
        {
            throw new SingularRegressionException($"The predictors {Names(xs)} are linearly dependent in this block ({e.Message}).");
        }

        for (int j = 0; j < p; j++)
        {
            double pivot = cholesky.Factor[j, j] * cholesky.Factor[j, j];
            if (!(pivot > SingularityThreshold))
            {
                throw new SingularRegressionException(
                    $"The predictors {Names(xs)} are (nearly) linearly dependent in this block: "
                    + $"'{Layout.Schema.Measures[xs[j]].Name}' is explained by the preceding ones up to 1 − R² = {pivot:G3}.");
            }
        }

        var beta = cholesky.Solve(ry).PointwiseMultiply(scale);
        double intercept = (Sum(y) / n) - beta.DotProduct(means);
        double sse = Math.Max(0, syy - beta.DotProduct(sxy));
        double residualVariance = sse / (n - p - 1);
        double rSquared = syy > 0 ? 1 - (sse / syy) : double.NaN;

        // (XᵀX)⁻¹ for the slopes is S_xx⁻¹ = D R⁻¹ D.
        var rInverse = cholesky.Solve(Matrix<double>.Build.DenseIdentity(p));
        var sxxInverse = Matrix<double>.Build.Dense(p, p, (j, k) => rInverse[j, k] * scale[j] * scale[k]);
        var errors = new double[p];
        for (int j = 0; j < p; j++)
        {
            errors[j] = Math.Sqrt(residualVariance * sxxInverse[j, j]);
        }

        double interceptVariance = residualVariance * ((1 / n) + means.DotProduct(sxxInverse * means));
        return new LinearRegressionResult(intercept, beta.ToArray(), rSquared, residualVariance, errors)
        {
            InterceptStandardError = Math.Sqrt(Math.Max(0, interceptVariance)),
        };
    }

    /// <summary>Cholesky pivots (1 − R² of a predictor on the preceding ones) at or below this mean a singular design.</summary>
    public const double SingularityThreshold = 1e-10;

    /// <summary>The element-wise sum of blocks of the same layout (e.g. to merge cells).</summary>
    /// <exception cref="ArgumentException">No blocks, or blocks of different layouts.</exception>
    public static BlockStatistics Add(params BlockStatistics[] blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        if (blocks.Length == 0)
        {
            throw new ArgumentException("At least one block is needed.", nameof(blocks));
        }

        var layout = blocks[0].Layout;
        var sum = new double[layout.BlockSize];
        foreach (var block in blocks)
        {
            ArgumentNullException.ThrowIfNull(block, nameof(blocks));
            if (block.Layout.BlockSize != layout.BlockSize || block.Layout.MeasureCount != layout.MeasureCount)
            {
                throw new ArgumentException("Blocks of different layouts cannot be added.", nameof(blocks));
            }

            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += block.Block[i];
            }
        }

        return new BlockStatistics(layout, sum);
    }

    private string Names(IReadOnlyList<int> xs) => string.Join(", ", xs.Select(x => $"'{Layout.Schema.Measures[x].Name}'"));

    private void RequireCount(int minimum)
    {
        if (!(Count > minimum))
        {
            throw new InvalidOperationException($"The block's count is {Count}; this statistic needs a count above {minimum}.");
        }
    }

    private static double[] CheckBlock(CellLayout layout, double[] block)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(block);
        if (block.Length != layout.BlockSize)
        {
            throw new ArgumentException($"A block has {layout.BlockSize} values, got {block.Length}.", nameof(block));
        }

        return block;
    }
}

/// <summary>An OLS fit: <c>y ≈ Intercept + Σ Coefficients[j]·x_j</c>.</summary>
/// <param name="Intercept">The fitted intercept.</param>
/// <param name="Coefficients">The slopes, in the order of the predictors given.</param>
/// <param name="RSquared">1 − SSE/SST (NaN if the response has no variance).</param>
/// <param name="ResidualVariance">σ̂² = SSE/(n − p − 1).</param>
/// <param name="StandardErrors">Standard errors of <paramref name="Coefficients"/> (same order; the intercept's is <see cref="InterceptStandardError"/>).</param>
public sealed record LinearRegressionResult(
    double Intercept,
    IReadOnlyList<double> Coefficients,
    double RSquared,
    double ResidualVariance,
    IReadOnlyList<double> StandardErrors)
{
    /// <summary>Standard error of <see cref="Intercept"/>.</summary>
    public double InterceptStandardError { get; init; }
}

/// <summary>The regression's design is singular: a constant predictor, or predictors linearly dependent.</summary>
public sealed class SingularRegressionException(string message) : InvalidOperationException(message);
