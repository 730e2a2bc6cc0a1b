using System.Diagnostics;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Evaluation;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Randomness;
using PrivateHealth.Learning.Training;

namespace PrivateHealth.Learning.Tests;

public sealed class ModelLearningTests(ITestOutputHelper output)
{
    /// <summary>The centralised baseline's hyper-parameters (reported in the learning core's notes).</summary>
    public static readonly TrainConfig CentralizedLogisticConfig = new()
    {
        LocalEpochs = 100,
        BatchSize = 32,
        LearningRate = LearningRateSchedule.Constant(0.05),
        L2 = 0.01,
    };

    [Fact]
    public void CentralizedLogisticRegressionOnBreastCancerReachesNinetySevenPercent()
    {
        (Dataset train, Dataset test) = TestData.BreastCancerStandardized();
        var model = new LogisticRegression(train.FeatureCount);
        var stopwatch = Stopwatch.StartNew();
        double trainLoss = new LocalTrainer(CentralizedLogisticConfig).Fit(model, train, seed: 7);
        stopwatch.Stop();
        EvaluationResult result = ModelEvaluator.Evaluate(model, test);
        output.WriteLine(
            $"train {train.Count} / test {test.Count}: accuracy {result.Accuracy:P2}, AUC {result.RocAuc:F4}, log-loss {result.LogLoss:F4}, " +
            $"last-epoch train loss {trainLoss:F4}, {stopwatch.ElapsedMilliseconds} ms");
        Assert.Equal(455, train.Count);
        Assert.Equal(114, test.Count);
        Assert.True(result.Accuracy >= 0.97, $"Test accuracy {result.Accuracy:P2}.");
        Assert.True(result.RocAuc >= 0.99, $"Test AUC {result.RocAuc}.");
    }

    [Fact]
    public void FullBatchGradientDescentAlsoReachesNinetySevenPercentOnBreastCancer()
    {
        (Dataset train, Dataset test) = TestData.BreastCancerStandardized();
        var model = new LogisticRegression(train.FeatureCount);
        var config = new TrainConfig { LocalEpochs = 500, BatchSize = 0, LearningRate = LearningRateSchedule.Constant(0.5), L2 = 0.01 };
        new LocalTrainer(config).Fit(model, train, seed: 0);
        EvaluationResult result = ModelEvaluator.Evaluate(model, test);
        output.WriteLine($"full-batch GD: accuracy {result.Accuracy:P2}, AUC {result.RocAuc:F4}");
        Assert.True(result.Accuracy >= 0.97, $"Test accuracy {result.Accuracy:P2}.");
    }

    [Fact]
    public void SoftmaxRegressionLearnsThreeSyntheticClasses()
    {
        Dataset train = TestData.ThreeBlobs(100, seed: 1);
        Dataset test = TestData.ThreeBlobs(100, seed: 2);
        var model = new SoftmaxRegression(2, 3);
        double before = model.Loss(train);
        var config = new TrainConfig { LocalEpochs = 30, BatchSize = 16, LearningRate = LearningRateSchedule.Exponential(0.5, 0.95) };
        new LocalTrainer(config).Fit(model, train, seed: 3);
        EvaluationResult result = ModelEvaluator.Evaluate(model, test);
        output.WriteLine($"softmax: loss {before:F4} → {result.Loss:F4}, test accuracy {result.Accuracy:P2}");
        Assert.True(result.Accuracy >= 0.95, $"Test accuracy {result.Accuracy:P2}.");
        Assert.True(result.Loss < 0.5 * before);
    }

    [Fact]
    public void LinearRegressionRecoversKnownCoefficients()
    {
        double[] trueWeights = [2.0, -3.0, 0.5, 1.25];
        const double TrueBias = 0.75;
        double[][] rows = TestData.GaussianRows(400, 4, seed: 10);
        var noise = new GaussianSampler(new SeededRandom(11));
        double[] labels = [.. rows.Select(x => x.Zip(trueWeights, (a, b) => a * b).Sum() + TrueBias + (0.05 * noise.NextStandard()))];
        var data = Dataset.FromRows(rows, labels);

        var sgd = new LinearRegression(4);
        new LocalTrainer(new TrainConfig { LocalEpochs = 60, BatchSize = 20, LearningRate = LearningRateSchedule.Step(0.1, 0.5, 20) }).Fit(sgd, data, seed: 12);
        var exact = LinearRegression.FitLeastSquares(data);

        double[] expected = [.. trueWeights, TrueBias];
        for (int j = 0; j < expected.Length; j++)
        {
            Assert.Equal(expected[j], sgd.Parameters[j], 0.02);
            Assert.Equal(expected[j], exact.Parameters[j], 0.02);
            Assert.Equal(exact.Parameters[j], sgd.Parameters[j], 0.005);
        }

        EvaluationResult result = ModelEvaluator.Evaluate(sgd, data);
        output.WriteLine($"linear: R² {result.RSquared:F6}, MSE {result.MeanSquaredError:F6}, θ = [{string.Join(", ", sgd.GetParameters().Select(v => v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)))}]");
        Assert.True(result.RSquared > 0.999);
    }

    [Fact]
    public void RidgeLeastSquaresShrinksWeightsButNotTheIntercept()
    {
        double[][] rows = TestData.GaussianRows(50, 2, seed: 20);
        double[] labels = [.. rows.Select(x => (3 * x[0]) - x[1] + 10)];
        var data = Dataset.FromRows(rows, labels);
        var plain = LinearRegression.FitLeastSquares(data);
        var ridge = LinearRegression.FitLeastSquares(data, ridge: 50);
        Assert.Equal(3.0, plain.Parameters[0], 1e-9);
        Assert.True(Math.Abs(ridge.Parameters[0]) < Math.Abs(plain.Parameters[0]));
        Assert.Equal(10.0, ridge.Parameters[2], 0.5);
    }

    [Theory]
    [InlineData(Activation.Tanh, new[] { 8 })]
    [InlineData(Activation.ReLU, new[] { 16, 8 })]
    public void MlpLearnsXorLikeDataThatALinearModelCannot(Activation activation, int[] hidden)
    {
        Dataset train = TestData.Xor(400, seed: 30);
        Dataset test = TestData.Xor(400, seed: 31);
        var mlp = new Mlp(2, hidden, ModelTask.BinaryClassification, activation, seed: 32);
        var config = new TrainConfig { LocalEpochs = 150, BatchSize = 16, LearningRate = LearningRateSchedule.Constant(0.1) };
        new LocalTrainer(config).Fit(mlp, train, seed: 33);
        var linear = new LogisticRegression(2);
        new LocalTrainer(config).Fit(linear, train, seed: 33);

        double mlpAccuracy = ModelEvaluator.Evaluate(mlp, test).Accuracy!.Value;
        double linearAccuracy = ModelEvaluator.Evaluate(linear, test).Accuracy!.Value;
        output.WriteLine($"XOR, {activation} {string.Join("-", hidden)}: MLP {mlpAccuracy:P2}, logistic {linearAccuracy:P2}");
        Assert.True(mlpAccuracy >= 0.95, $"MLP accuracy {mlpAccuracy:P2}.");
        Assert.True(linearAccuracy <= 0.75, $"Logistic accuracy {linearAccuracy:P2}.");
    }

    [Fact]
    public void MlpMulticlassHeadLearnsThreeClasses()
    {
        Dataset train = TestData.ThreeBlobs(60, seed: 40);
        Dataset test = TestData.ThreeBlobs(60, seed: 41);
        var mlp = new Mlp(2, [6], ModelTask.MulticlassClassification, Activation.Tanh, seed: 42, classCount: 3);
        new LocalTrainer(new TrainConfig { LocalEpochs = 40, BatchSize = 16, LearningRate = LearningRateSchedule.Constant(0.2) }).Fit(mlp, train, seed: 43);
        Assert.True(ModelEvaluator.Evaluate(mlp, test).Accuracy >= 0.95);
    }

    [Fact]
    public void ParameterLayoutsHaveTheDocumentedSizesAndBiasMasks()
    {
        Assert.Equal(31, new LogisticRegression(30).ParameterCount);
        Assert.Equal(31, new LinearRegression(30).ParameterCount);
        var softmax = new SoftmaxRegression(4, 3);
        Assert.Equal((4 * 3) + 3, softmax.ParameterCount);
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], softmax.RegularizationMask.ToArray());

        var mlp = new Mlp(3, [4, 2], ModelTask.BinaryClassification, Activation.ReLU, seed: 1);
        Assert.Equal((3 * 4) + 4 + (4 * 2) + 2 + (2 * 1) + 1, mlp.ParameterCount);
        Assert.Equal([3, 4, 2, 1], mlp.LayerSizes);
        double[] mask = mlp.RegularizationMask.ToArray();
        Assert.Equal(12 + 8 + 2, mask.Sum());
        Assert.All(mask.AsSpan(12, 4).ToArray(), m => Assert.Equal(0, m));
        Assert.All(mlp.Parameters.Slice(12, 4).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void HeInitialisationHasTheExpectedSpread()
    {
        var mlp = new Mlp(200, [300], ModelTask.Regression, Activation.ReLU, seed: 50);
        double[] firstLayer = mlp.Parameters[..(200 * 300)].ToArray();
        double std = Math.Sqrt(firstLayer.Select(w => w * w).Average());
        Assert.Equal(Math.Sqrt(2.0 / 200), std, 0.002);

        var tanh = new Mlp(200, [300], ModelTask.Regression, Activation.Tanh, seed: 50);
        double limit = Math.Sqrt(6.0 / 500);
        double[] xavier = tanh.Parameters[..(200 * 300)].ToArray();
        Assert.All(xavier, w => Assert.InRange(w, -limit, limit));
        Assert.Equal(limit / Math.Sqrt(3), Math.Sqrt(xavier.Select(w => w * w).Average()), 0.002);
    }
}
