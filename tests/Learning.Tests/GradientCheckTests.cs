using FsCheck;
using FsCheck.Fluent;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Randomness;
using PrivateHealth.Learning.Training;

namespace PrivateHealth.Learning.Tests;

/// <summary>
/// Property-style checks of every model's analytic gradient against central finite differences, over random
/// architectures, parameters, data and batches (all derived from an FsCheck-generated seed).
/// </summary>
public sealed class GradientCheckTests
{
    private const double Step = 1e-6;

    private static readonly Arbitrary<int> Seeds = Gen.Choose(0, int.MaxValue).ToArbitrary();

    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(40);

    private static void CheckAgainstFiniteDifferences(IModel model, Dataset data, int[] batch, double maxSkippedFraction)
    {
        double[] gradient = new double[model.ParameterCount];
        double loss = model.LossAndGradient(data, batch, gradient);
        Assert.Equal(model.Loss(data, batch), loss, 12);

        Span<double> w = model.Parameters;
        int skipped = 0;
        for (int j = 0; j < model.ParameterCount; j++)
        {
            double original = w[j];
            w[j] = original + Step;
            double plus = model.Loss(data, batch);
            w[j] = original - Step;
            double minus = model.Loss(data, batch);
            w[j] = original;

            // A ReLU kink inside [w − h, w + h] makes the one-sided slopes disagree; such coordinates are not
            // differentiable there and are skipped (smooth models must never hit this).
            double right = (plus - loss) / Step;
            double left = (loss - minus) / Step;
            if (Math.Abs(right - left) > 1e-3)
            {
                skipped++;
                continue;
            }

            double numeric = (plus - minus) / (2 * Step);
            double tolerance = 1e-6 + (1e-5 * Math.Abs(gradient[j]));
            Assert.True(
                Math.Abs(numeric - gradient[j]) <= tolerance,
                $"∂L/∂θ[{j}]: analytic {gradient[j]:R}, finite difference {numeric:R}.");
        }

        Assert.True(skipped <= maxSkippedFraction * model.ParameterCount, $"{skipped} of {model.ParameterCount} coordinates were at a kink.");
    }

    private static (Dataset Data, int[] Batch) RandomProblem(SeededRandom random, int features, Func<SeededRandom, double> label)
    {
        int rows = 1 + random.NextInt(12);
        double[][] x = TestData.GaussianRows(rows, features, random.NextUInt64());
        double[] y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            y[i] = label(random);
        }

        var data = Dataset.FromRows(x, y);
        int batchSize = 1 + random.NextInt(rows);
        int[] batch = new int[batchSize];
        for (int i = 0; i < batchSize; i++)
        {
            batch[i] = random.NextInt(rows);
        }

        return (data, batch);
    }

    private static void Randomize(IModel model, SeededRandom random, double scale)
    {
        var sampler = new GaussianSampler(random);
        sampler.Fill(model.Parameters, 0, scale);
    }

    [Fact]
    public void LogisticRegressionGradientMatchesFiniteDifferences()
    {
        Prop.ForAll(Seeds, seed =>
        {
            var random = new SeededRandom((ulong)seed);
            int d = 1 + random.NextInt(6);
            var model = new LogisticRegression(d);
            Randomize(model, random, 1.5);
            (Dataset data, int[] batch) = RandomProblem(random, d, r => r.NextInt(2));
            CheckAgainstFiniteDifferences(model, data, batch, 0);
        }).Check(Quick);
    }

    [Fact]
    public void SoftmaxRegressionGradientMatchesFiniteDifferences()
    {
        Prop.ForAll(Seeds, seed =>
        {
            var random = new SeededRandom((ulong)seed);
            int d = 1 + random.NextInt(5);
            int k = 2 + random.NextInt(4);
            var model = new SoftmaxRegression(d, k);
            Randomize(model, random, 1.0);
            (Dataset data, int[] batch) = RandomProblem(random, d, r => r.NextInt(k));
            CheckAgainstFiniteDifferences(model, data, batch, 0);
        }).Check(Quick);
    }

    [Fact]
    public void LinearRegressionGradientMatchesFiniteDifferences()
    {
        Prop.ForAll(Seeds, seed =>
        {
            var random = new SeededRandom((ulong)seed);
            int d = 1 + random.NextInt(6);
            var model = new LinearRegression(d);
            Randomize(model, random, 1.0);
            var sampler = new GaussianSampler(random);
            (Dataset data, int[] batch) = RandomProblem(random, d, _ => 2 * sampler.NextStandard());
            CheckAgainstFiniteDifferences(model, data, batch, 0);
        }).Check(Quick);
    }

    [Fact]
    public void MlpWithTanhGradientMatchesFiniteDifferencesForEveryTask()
    {
        Prop.ForAll(Seeds, seed =>
        {
            var random = new SeededRandom((ulong)seed);
            int d = 1 + random.NextInt(4);
            int[] hidden = random.NextInt(2) == 0 ? [1 + random.NextInt(5)] : [1 + random.NextInt(5), 1 + random.NextInt(4)];
            var task = (ModelTask)random.NextInt(3);
            int k = 2 + random.NextInt(3);
            var model = new Mlp(d, hidden, task, Activation.Tanh, random.NextUInt64(), k);
            var sampler = new GaussianSampler(random);
            (Dataset data, int[] batch) = RandomProblem(random, d, r => task switch
            {
                ModelTask.BinaryClassification => r.NextInt(2),
                ModelTask.MulticlassClassification => r.NextInt(k),
                _ => sampler.NextStandard(),
            });
            CheckAgainstFiniteDifferences(model, data, batch, 0);
        }).Check(Quick);
    }

    [Fact]
    public void MlpWithReluGradientMatchesFiniteDifferencesAwayFromKinks()
    {
        Prop.ForAll(Seeds, seed =>
        {
            var random = new SeededRandom((ulong)seed);
            int d = 1 + random.NextInt(4);
            int[] hidden = random.NextInt(2) == 0 ? [2 + random.NextInt(6)] : [2 + random.NextInt(5), 2 + random.NextInt(4)];
            var task = (ModelTask)random.NextInt(3);
            int k = 2 + random.NextInt(3);
            var model = new Mlp(d, hidden, task, Activation.ReLU, random.NextUInt64(), k);
            Randomize(model, random, 0.8);
            var sampler = new GaussianSampler(random);
            (Dataset data, int[] batch) = RandomProblem(random, d, r => task switch
            {
                ModelTask.BinaryClassification => r.NextInt(2),
                ModelTask.MulticlassClassification => r.NextInt(k),
                _ => sampler.NextStandard(),
            });
            CheckAgainstFiniteDifferences(model, data, batch, 0.1);
        }).Check(Quick);
    }

    [Fact]
    public void OneFullBatchStepFollowsTheDocumentedUpdateWithL2AndProximalTerms()
    {
        var data = Dataset.FromRows(TestData.GaussianRows(20, 3, 5), new SeededRandom(6).Permutation(20).Select(i => (double)(i % 2)).ToArray());
        var global = new LogisticRegression(3);
        double[] start = [0.3, -0.2, 0.5, 0.1];
        global.SetParameters(start);
        var config = new TrainConfig { LocalEpochs = 1, BatchSize = 0, LearningRate = LearningRateSchedule.Constant(0.25), L2 = 0.1, ProximalMu = 0.7 };

        LocalUpdate update = new LocalTrainer(config).Train(global, data, seed: 1);

        // At the first step w = w_global, so the proximal term vanishes; the L2 term skips the bias.
        double[] gradient = new double[4];
        global.LossAndGradient(data, ModelExtensions.AllRows(20), gradient);
        for (int j = 0; j < 4; j++)
        {
            double g = gradient[j] + (j < 3 ? 0.1 * start[j] : 0);
            Assert.Equal(-0.25 * g, update.Delta[j], 15);
        }

        Assert.Equal(20, update.SampleCount);
        Assert.Equal(1, update.Steps);
        Assert.Equal(start, global.GetParameters());
    }

    [Fact]
    public void ProximalTermPullsLocalModelTowardsTheGlobalModel()
    {
        var data = Dataset.FromRows(TestData.GaussianRows(40, 4, 8), new SeededRandom(9).Permutation(40).Select(i => (double)(i % 2)).ToArray());
        var global = new LogisticRegression(4);
        var plain = new TrainConfig { LocalEpochs = 20, BatchSize = 8, LearningRate = LearningRateSchedule.Constant(0.2) };
        double plainNorm = Norm(new LocalTrainer(plain).Train(global, data, 3).Delta);
        double proxNorm = Norm(new LocalTrainer(plain with { ProximalMu = 5 }).Train(global, data, 3).Delta);
        Assert.True(proxNorm < 0.5 * plainNorm, $"‖Δ‖ with μ = 5: {proxNorm}; without: {plainNorm}.");
    }

    private static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));
}
