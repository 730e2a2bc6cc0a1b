using System.Security.Cryptography;
using FsCheck;
using FsCheck.Fluent;
using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Tests;

public sealed class DataTests
{
    [Fact]
    public void BreastCancerFileLoadsWithItsDocumentedShape()
    {
        string path = TestData.BreastCancerPath();
        Assert.Equal("4bb4ebfa88facd3d854e7265a8adf3be3747ecf289d4db68deb201e65cb8c8ea", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
        Dataset data = TestData.BreastCancer;
        Assert.Equal(569, data.Count);
        Assert.Equal(30, data.FeatureCount);
        Assert.Equal("target", data.LabelName);
        Assert.Equal("mean_radius", data.FeatureNames[0]);
        Assert.Equal("worst_fractal_dimension", data.FeatureNames[29]);
        Assert.Equal([212, 357], data.ClassCounts());
        Assert.Equal(17.99, data.Row(0)[0]);
        Assert.Equal(0.0, data.Label(0));
    }

    [Fact]
    public void CsvParsingTakesTheNamedLabelColumnAndKeepsFeatureOrder()
    {
        const string Csv = "a,label,b\n1.5,1,2\n\n-3,0,4e-2\n";
        Dataset data = CsvDataset.Parse(new StringReader(Csv), "label");
        Assert.Equal(["a", "b"], data.FeatureNames);
        Assert.Equal([1.5, 2, -3, 0.04], data.Features.ToArray());
        Assert.Equal([1.0, 0.0], data.Labels.ToArray());
    }

    [Theory]
    [InlineData("a,b\n1,2\n", "label")]
    [InlineData("a,label\n1\n", "label")]
    [InlineData("a,label\n1,x\n", "label")]
    [InlineData("a,label\n\"1\",0\n", "label")]
    [InlineData("a,label\n", "label")]
    public void CsvParsingRejectsMalformedInput(string csv, string label)
    {
        Assert.Throws<FormatException>(() => CsvDataset.Parse(new StringReader(csv), label));
    }

    [Fact]
    public void StratifiedSplitOfBreastCancerIsEightyTwentyWithClassProportions()
    {
        TrainTestSplit split = DatasetSplit.StratifiedSplit(TestData.BreastCancer, 0.2, seed: 42);
        Assert.Equal(455, split.Train.Count);
        Assert.Equal(114, split.Test.Count);
        Assert.Equal([43, 71], split.Test.ClassCounts());
        Assert.Equal([169, 286], split.Train.ClassCounts());
        Assert.Equal(Enumerable.Range(0, 569), split.TrainIndices.Concat(split.TestIndices).Order());

        TrainTestSplit again = DatasetSplit.StratifiedSplit(TestData.BreastCancer, 0.2, seed: 42);
        Assert.Equal(split.TestIndices, again.TestIndices);
        TrainTestSplit other = DatasetSplit.StratifiedSplit(TestData.BreastCancer, 0.2, seed: 43);
        Assert.NotEqual(split.TestIndices, other.TestIndices);
    }

    [Fact]
    public void PartitionsCoverEveryRowOnceAndGiveEveryClientARow()
    {
        var sizes = Gen.Choose(1, 300).ToArbitrary();
        var clientCounts = Gen.Choose(1, 30).ToArbitrary();
        var alphas = Gen.Elements(0.01, 0.1, 0.5, 1.0, 100.0).ToArbitrary();
        Prop.ForAll(sizes, clientCounts, alphas, (n, k, alpha) =>
        {
            int clients = Math.Min(n, k);
            int[] labels = [.. Enumerable.Range(0, n).Select(i => (i * 7919) % 3 == 0 ? 0 : (i % 5 == 0 ? 2 : 1))];
            AssertPartition(Partition.IidIndices(n, clients, (ulong)n), n, clients);
            AssertPartition(Partition.DirichletByLabelIndices(labels, clients, alpha, (ulong)(n * k)), n, clients);
            if (n >= 2 * clients)
            {
                AssertPartition(Partition.LabelShardsIndices(labels, clients, 2, 5), n, clients);
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(100));
    }

    [Fact]
    public void IidPartitionSizesDifferByAtMostOne()
    {
        IReadOnlyList<int[]> parts = Partition.IidIndices(455, 10, seed: 1);
        Assert.Equal(455, parts.Sum(p => p.Length));
        Assert.True(parts.Max(p => p.Length) - parts.Min(p => p.Length) <= 1);
    }

    [Fact]
    public void PartitionsAreDeterministicInTheSeed()
    {
        int[] labels = TestData.BreastCancer.ClassLabels();
        Assert.Equal(Partition.DirichletByLabelIndices(labels, 10, 0.5, 3), Partition.DirichletByLabelIndices(labels, 10, 0.5, 3));
        Assert.NotEqual(Partition.DirichletByLabelIndices(labels, 10, 0.5, 3), Partition.DirichletByLabelIndices(labels, 10, 0.5, 4));
        Assert.Equal(Partition.IidIndices(569, 10, 3), Partition.IidIndices(569, 10, 3));
        Assert.Equal(Partition.LabelShardsIndices(labels, 10, 2, 3), Partition.LabelShardsIndices(labels, 10, 2, 3));
    }

    [Fact]
    public void SmallDirichletConcentrationSkewsClientLabelMixes()
    {
        Dataset data = TestData.BreastCancer;
        double Skew(IReadOnlyList<Dataset> clients) => clients.Average(c =>
        {
            int[] counts = c.ClassCounts();
            return counts.Max() / (double)c.Count;
        });

        double iid = Skew(Partition.Iid(data, 10, 1));
        double skewed = Skew(Partition.DirichletByLabel(data, 10, 0.1, 1));
        double shards = Skew(Partition.LabelShards(data, 10, 1, 1));
        Assert.True(iid < 0.75, $"IID majority share {iid}.");
        Assert.True(skewed > 0.9, $"Dirichlet(0.1) majority share {skewed}.");
        Assert.True(shards > 0.9, $"One shard per client majority share {shards}.");
    }

    [Fact]
    public void StandardizerFittedOnTrainingDataCentresAndScalesIt()
    {
        (Dataset train, _) = TestData.BreastCancerStandardized();
        for (int j = 0; j < train.FeatureCount; j++)
        {
            double[] column = [.. Enumerable.Range(0, train.Count).Select(i => train.Row(i)[j])];
            double mean = column.Average();
            Assert.Equal(0.0, mean, 1e-12);
            Assert.Equal(1.0, Math.Sqrt(column.Select(v => v * v).Average()), 1e-12);
        }
    }

    [Fact]
    public void StandardizerFromPublishedStatisticsOrMomentsMatchesTheFittedOne()
    {
        TrainTestSplit split = DatasetSplit.StratifiedSplit(TestData.BreastCancer, 0.2, 42);
        var fitted = Standardizer.Fit(split.Train);
        var published = new Standardizer(fitted.Mean, fitted.StandardDeviation);
        Assert.Equal(fitted.Transform(split.Test).Features.ToArray(), published.Transform(split.Test).Features.ToArray());

        int d = split.Train.FeatureCount;
        double[] sum = new double[d];
        double[] squares = new double[d];
        for (int i = 0; i < split.Train.Count; i++)
        {
            for (int j = 0; j < d; j++)
            {
                double x = split.Train.Row(i)[j];
                sum[j] += x;
                squares[j] += x * x;
            }
        }

        var fromMoments = Standardizer.FromMoments(split.Train.Count, sum, squares);
        for (int j = 0; j < d; j++)
        {
            Assert.Equal(fitted.Mean[j], fromMoments.Mean[j], Math.Abs(fitted.Mean[j]) * 1e-12);
            Assert.Equal(fitted.StandardDeviation[j], fromMoments.StandardDeviation[j], fitted.StandardDeviation[j] * 1e-6);
        }
    }

    [Fact]
    public void StandardizerTreatsConstantFeaturesAsUnitScaleAndRejectsBadStatistics()
    {
        var data = Dataset.FromRows([[5.0, 1.0], [5.0, 3.0]], new[] { 0, 1 });
        var fitted = Standardizer.Fit(data);
        Assert.Equal([1.0, 1.0], fitted.StandardDeviation.ToArray());
        Assert.Equal([0.0, -1.0, 0.0, 1.0], fitted.Transform(data).Features.ToArray());
        Assert.Throws<ArgumentException>(() => new Standardizer([0.0], [0.0]));
        Assert.Throws<ArgumentException>(() => new Standardizer([0.0, 1.0], [1.0]));
    }

    [Fact]
    public void DatasetValidatesShapesAndLabels()
    {
        Assert.Throws<ArgumentException>(() => new Dataset([1.0, 2.0, 3.0], 2, [0.0, 1.0]));
        Assert.Throws<ArgumentException>(() => Dataset.FromRows([[1.0], [1.0, 2.0]], new[] { 0, 1 }));
        Assert.Throws<ArgumentException>(() => new Dataset([double.NaN], 1, [0.0]));
        var data = new Dataset([1.0, 2.0], 1, [0.5, 1.0]);
        Assert.Throws<InvalidOperationException>(() => data.ClassLabel(0));
        Assert.Equal([2.0, 1.0, 2.0], data.Subset([1, 0, 1]).Features.ToArray());
    }

    private static void AssertPartition(IReadOnlyList<int[]> parts, int n, int clients)
    {
        Assert.Equal(clients, parts.Count);
        Assert.All(parts, p => Assert.NotEmpty(p));
        Assert.All(parts, p => Assert.Equal(p.Order(), p));
        Assert.Equal(Enumerable.Range(0, n), parts.SelectMany(p => p).Order());
    }
}
