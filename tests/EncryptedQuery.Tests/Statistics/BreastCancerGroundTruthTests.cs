using MathNet.Numerics.LinearAlgebra;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.EncryptedQuery.Statistics;
using PrivateHealth.EncryptedQuery.Tests.Schema;

namespace PrivateHealth.EncryptedQuery.Tests.Statistics;

/// <summary>
/// One person per row of the breast-cancer file: every statistic recovered from the summed contribution vectors
/// equals the same statistic computed directly from the CSV rows.
/// </summary>
public sealed class BreastCancerGroundTruthTests
{
    private static readonly IReadOnlyList<IReadOnlyDictionary<string, object>> Rows = EncodingTestData.Rows();
    private static readonly ContributionEncoder Encoder = new(EncodingTestData.BreastCancerSchema());
    private static readonly double[] Total = PlainAggregator.Sum(Rows.Select(Encoder.Encode));

    private static CellLayout Layout => Encoder.Layout;

    private static BlockStatistics Where(Func<int[], bool> select) =>
        new(Layout, CellSums.SumCells(Layout, Total, Enumerable.Range(0, Layout.CellCount).Where(c => select(Layout.Coordinates(c)))));

    private static void AssertRelative(double expected, double actual, double tolerance)
    {
        double error = Math.Abs(expected - actual) / Math.Max(Math.Abs(expected), 1e-300);
        Assert.True(error <= tolerance, $"expected {expected:R}, got {actual:R} (relative error {error:G3} > {tolerance:G3})");
    }

    [Fact]
    public void CountsPerLabelMatchTheCsv()
    {
        Assert.Equal(569, Rows.Count);
        Assert.Equal(569, Total.Where((_, i) => i % Layout.BlockSize == CellLayout.CountOffset).Sum());
        var label = Encoder.Layout.Schema.FindDimension("label")!;
        foreach (string value in label.Values!)
        {
            int direct = Rows.Count(r => (string)r["target"] == value);
            Assert.Equal(direct, Where(c => c[0] == label.IndexOf(value)).Count);
        }

        // scikit-learn's coding of this data set: 0 = malignant (212), 1 = benign (357).
        Assert.Equal(212, Where(c => c[0] == 0).Count);
        Assert.Equal(357, Where(c => c[0] == 1).Count);
    }

    [Fact]
    public void RadiusHistogramMatchesADirectCount()
    {
        double[] edges = EncodingTestData.RadiusEdges();
        var direct = new int[10];
        foreach (var row in Rows)
        {
            double r = (double)row["mean_radius"];
            int bin = 0;
            while (bin < 9 && r >= edges[bin + 1])
            {
                bin++;
            }

            direct[bin]++;
        }

        var fromCells = Enumerable.Range(0, 10).Select(b => Where(c => c[1] == b).Count).ToArray();
        Assert.Equal(direct.Select(d => (double)d), fromCells);
        Assert.Equal(569, direct.Sum());
        Assert.True(direct[0] > 0 && direct[9] > 0);   // the data's min and max land in the end bins
    }

    [Fact]
    public void PerLabelMeansAndVariancesMatchDirectComputation()
    {
        for (int label = 0; label < 2; label++)
        {
            var stats = Where(c => c[0] == label);
            var rows = Rows.Where(r => (string)r["target"] == label.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            for (int m = 0; m < EncodingTestData.MeasureNames.Length; m++)
            {
                double[] x = [.. rows.Select(r => (double)r[EncodingTestData.MeasureNames[m]])];
                double mean = x.Sum() / x.Length;
                double variance = x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1);
                AssertRelative(mean, stats.Mean(m), 1e-12);
                AssertRelative(variance, stats.Variance(m), 1e-12);
                AssertRelative(Math.Sqrt(variance), stats.StandardDeviation(m), 1e-12);
            }

            double[] r0 = [.. rows.Select(r => (double)r["mean_radius"])];
            double[] a0 = [.. rows.Select(r => (double)r["mean_area"])];
            double mr = r0.Average(), ma = a0.Average();
            double covariance = r0.Zip(a0, (p, q) => (p - mr) * (q - ma)).Sum() / (r0.Length - 1);
            AssertRelative(covariance, stats.Covariance(0, 2), 1e-12);
            AssertRelative(covariance / Math.Sqrt(stats.Variance(0) * stats.Variance(2)), stats.Correlation(2, 0), 1e-12);
        }
    }

    [Fact]
    public void RegressionOfAreaOnRadiusAndTextureMatchesQrOnTheRows()
    {
        var stats = Where(_ => true);
        var result = stats.LinearRegression(2, [0, 1]);

        int n = Rows.Count;
        var x = Matrix<double>.Build.Dense(n, 3, (i, j) => j == 0 ? 1 : (double)Rows[i][j == 1 ? "mean_radius" : "mean_texture"]);
        var y = Vector<double>.Build.Dense(n, i => (double)Rows[i]["mean_area"]);
        var qr = x.QR();
        var beta = qr.Solve(y);
        var residual = y - (x * beta);
        double sse = residual.DotProduct(residual);
        double ybar = y.Average();
        double sst = y.Sum(v => (v - ybar) * (v - ybar));
        double sigma2 = sse / (n - 3);
        var rInverse = qr.R.SubMatrix(0, 3, 0, 3).Inverse();
        var covariance = rInverse * rInverse.Transpose() * sigma2;   // σ²(XᵀX)⁻¹ = σ² R⁻¹R⁻ᵀ

        AssertRelative(beta[0], result.Intercept, 1e-9);
        AssertRelative(beta[1], result.Coefficients[0], 1e-9);
        AssertRelative(beta[2], result.Coefficients[1], 1e-9);
        AssertRelative(1 - (sse / sst), result.RSquared, 1e-9);
        AssertRelative(sigma2, result.ResidualVariance, 1e-8);
        AssertRelative(Math.Sqrt(covariance[0, 0]), result.InterceptStandardError, 1e-8);
        AssertRelative(Math.Sqrt(covariance[1, 1]), result.StandardErrors[0], 1e-8);
        AssertRelative(Math.Sqrt(covariance[2, 2]), result.StandardErrors[1], 1e-8);
        Assert.InRange(result.RSquared, 0.9, 1);
    }
}
