using FsCheck;
using FsCheck.Fluent;
using MathNet.Numerics.LinearAlgebra;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.EncryptedQuery.Statistics;

namespace PrivateHealth.EncryptedQuery.Tests.Statistics;

public sealed class BlockStatisticsTests
{
    private static readonly CohortSchema ThreeMeasures = new()
    {
        Id = "random",
        Dimensions = [],
        Measures = [.. Enumerable.Range(0, 3).Select(m => new MeasureSpec { Name = $"x{m}", Lo = -1e6, Hi = 1e6 })],
    };

    private static readonly ContributionEncoder Encoder = new(ThreeMeasures);

    private static Dictionary<string, object> Person(double[] x) =>
        Enumerable.Range(0, x.Length).ToDictionary(m => $"x{m}", m => (object)x[m]);

    private static BlockStatistics Block(IEnumerable<double[]> rows) =>
        new(Encoder.Layout, PlainAggregator.Sum(rows.Select(r => Encoder.Encode(Person(r)))));

    private static double[][] RandomRows(int seed, int n)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ =>
        {
            double a = 50 + (10 * Gaussian(random));
            double b = (0.5 * a) + (3 * Gaussian(random)) - 7;
            double c = 100 + (2 * a) - (4 * b) + (5 * Gaussian(random));
            return new[] { a, b, c };
        })];
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static void AssertRelative(double expected, double actual, double tolerance)
    {
        double error = Math.Abs(expected - actual) / Math.Max(Math.Abs(expected), 1e-300);
        Assert.True(error <= tolerance, $"expected {expected:R}, got {actual:R} (relative error {error:G3} > {tolerance:G3})");
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(3, 40)]
    [InlineData(4, 1000)]
    public void MomentsMatchSchoolbookFormulas(int seed, int n)
    {
        double[][] rows = RandomRows(seed, n);
        var stats = Block(rows);
        Assert.Equal(n, stats.Count);
        for (int a = 0; a < 3; a++)
        {
            double[] x = [.. rows.Select(r => r[a])];
            double mean = x.Average();
            AssertRelative(x.Sum(), stats.Sum(a), 1e-12);
            AssertRelative(mean, stats.Mean(a), 1e-12);
            double variance = x.Sum(v => (v - mean) * (v - mean)) / (n - 1);
            AssertRelative(variance, stats.Variance(a), 1e-9);
            AssertRelative(Math.Sqrt(variance), stats.StandardDeviation(a), 1e-9);
            for (int b = 0; b < 3; b++)
            {
                double[] y = [.. rows.Select(r => r[b])];
                double meanY = y.Average();
                double covariance = x.Zip(y, (p, q) => (p - mean) * (q - meanY)).Sum() / (n - 1);
                double varianceY = y.Sum(v => (v - meanY) * (v - meanY)) / (n - 1);
                AssertRelative(covariance, stats.Covariance(a, b), 1e-9);
                Assert.Equal(stats.Covariance(a, b), stats.Covariance(b, a));
                Assert.Equal(covariance / Math.Sqrt(variance * varianceY), stats.Correlation(a, b), 1e-9);
            }
        }
    }

    [Fact]
    public void VarianceMatchesTwoPassForArbitrarySamples()
    {
        var sample = Gen.ArrayOf(Gen.Choose(-100_000, 100_000).Select(v => v / 100.0)).Where(a => a.Length >= 2).ToArbitrary();
        Prop.ForAll(sample, xs =>
        {
            var stats = Block(xs.Select(v => new[] { v, 0.0, 0.0 }));
            double mean = xs.Average();
            double variance = xs.Sum(v => (v - mean) * (v - mean)) / (xs.Length - 1);
            double scale = xs.Sum(v => v * v) / (xs.Length - 1);   // error of Σx² − (Σx)²/n is relative to this
            return stats.Count == xs.Length
                && Math.Abs(stats.Mean(0) - mean) <= 1e-12 * (1 + Math.Abs(mean))
                && Math.Abs(stats.Variance(0) - variance) <= 1e-12 * (1 + scale);
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData(5, 10)]
    [InlineData(6, 500)]
    public void RegressionMatchesQr(int seed, int n)
    {
        double[][] rows = RandomRows(seed, n);
        var result = Block(rows).LinearRegression(2, [1, 0]);
        var x = Matrix<double>.Build.Dense(n, 3, (i, j) => j == 0 ? 1 : rows[i][j == 1 ? 1 : 0]);
        var y = Vector<double>.Build.Dense(n, i => rows[i][2]);
        var beta = x.QR().Solve(y);
        AssertRelative(beta[0], result.Intercept, 1e-8);
        AssertRelative(beta[1], result.Coefficients[0], 1e-8);
        AssertRelative(beta[2], result.Coefficients[1], 1e-8);
        var residual = y - (x * beta);
        AssertRelative(residual.DotProduct(residual) / (n - 3), result.ResidualVariance, 1e-7);
        Assert.Equal(2, result.StandardErrors.Count);
        Assert.All(result.StandardErrors, se => Assert.True(se > 0));
    }

    [Fact]
    public void InterceptOnlyRegressionIsTheMean()
    {
        var stats = Block(RandomRows(8, 30));
        var result = stats.LinearRegression(0, []);
        AssertRelative(stats.Mean(0), result.Intercept, 1e-12);
        AssertRelative(stats.Variance(0), result.ResidualVariance, 1e-12);
        AssertRelative(Math.Sqrt(stats.Variance(0) / 30), result.InterceptStandardError, 1e-12);
        Assert.Empty(result.Coefficients);
        Assert.Equal(0, result.RSquared);
    }

    [Fact]
    public void SingularRegressionsAreReportedClearly()
    {
        var random = new Random(9);
        double[][] collinear = [.. Enumerable.Range(0, 50).Select(_ =>
        {
            double a = random.NextDouble() * 10;
            return new[] { a, (2 * a) + 1, random.NextDouble() };
        })];
        var e = Assert.Throws<SingularRegressionException>(() => Block(collinear).LinearRegression(2, [0, 1]));
        Assert.Contains("'x0', 'x1'", e.Message, StringComparison.Ordinal);
        Assert.Contains("linearly dependent", e.Message, StringComparison.Ordinal);

        double[][] constant = [.. Enumerable.Range(0, 50).Select(i => new[] { i * 0.1, 3.0, i * 0.5 })];
        e = Assert.Throws<SingularRegressionException>(() => Block(constant).LinearRegression(2, [0, 1]));
        Assert.Contains("'x1' has no variance", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<InvalidOperationException>(e);

        var stats = Block(RandomRows(10, 3));
        Assert.Throws<InvalidOperationException>(() => stats.LinearRegression(2, [0, 1]));   // n = p + 1
        Assert.Throws<ArgumentException>(() => stats.LinearRegression(2, [2]));
        Assert.Throws<ArgumentException>(() => stats.LinearRegression(2, [0, 0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => stats.LinearRegression(3, [0]));
    }

    [Fact]
    public void TooSmallCountsAreRefused()
    {
        var one = Block(RandomRows(11, 1));
        Assert.Equal(one.Sum(0), one.Mean(0));
        Assert.Throws<InvalidOperationException>(() => one.Variance(0));
        var empty = new BlockStatistics(Encoder.Layout, new double[Encoder.Layout.BlockSize]);
        Assert.Throws<InvalidOperationException>(() => empty.Mean(0));
        Assert.Throws<ArgumentException>(() => new BlockStatistics(Encoder.Layout, new double[3]));
    }

    [Fact]
    public void NoisyBlocksStayUsable()
    {
        var stats = Block(RandomRows(12, 20));
        double[] noisy = (double[])stats.Block.Clone();
        noisy[Encoder.Layout.SumSquaresOffset(0)] = 0;   // variance of x0 now negative
        var block = stats with { Block = noisy };
        Assert.True(block.Variance(0) < 0);
        Assert.Equal(0, block.StandardDeviation(0));
        Assert.True(double.IsNaN(block.Correlation(0, 1)));
    }

    [Fact]
    public void AddingBlocksEqualsTheBlockOfTheUnion()
    {
        double[][] rows = RandomRows(13, 100);
        var whole = Block(rows);
        var merged = BlockStatistics.Add(Block(rows[..30]), Block(rows[30..70]), Block(rows[70..]));
        for (int i = 0; i < whole.Block.Length; i++)
        {
            Assert.Equal(whole.Block[i], merged.Block[i], Math.Abs(whole.Block[i]) * 1e-13);
        }

        Assert.Throws<ArgumentException>(() => BlockStatistics.Add());
        var other = new CellLayout(new CohortSchema { Id = "o", Dimensions = [], Measures = [] });
        Assert.Throws<ArgumentException>(() => BlockStatistics.Add(whole, new BlockStatistics(other, [5])));
    }

    [Fact]
    public void SumCellsAddsTheChosenBlocks()
    {
        var schema = new CohortSchema
        {
            Id = "c",
            Dimensions = [new DimensionSpec { Name = "d", Values = ["a", "b", "c"] }],
            Measures = [new MeasureSpec { Name = "m", Lo = 0, Hi = 10 }],
        };
        var layout = new CellLayout(schema);
        double[] vector = [.. Enumerable.Range(0, layout.SlotCount).Select(i => (double)i)];   // blocks [0,1,2] [3,4,5] [6,7,8]
        Assert.Equal([6.0, 8, 10], CellSums.SumCells(layout, vector, [0, 2]));
        Assert.Equal([0.0, 0, 0], CellSums.SumCells(layout, vector, []));
        Assert.Throws<ArgumentException>(() => CellSums.SumCells(layout, vector, [1, 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => CellSums.SumCells(layout, vector, [3]));
        Assert.Throws<ArgumentException>(() => CellSums.SumCells(layout, vector.AsSpan(1), [0]));
    }
}
