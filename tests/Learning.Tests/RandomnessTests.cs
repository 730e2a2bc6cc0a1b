using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Randomness;
using PrivateHealth.Learning.Training;

namespace PrivateHealth.Learning.Tests;

public sealed class RandomnessTests
{
    [Fact]
    public void SplitMixMatchesItsReferenceOutputs()
    {
        // Reference SplitMix64 (Vigna) from state 0: 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F.
        ulong state = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, Seeds.SplitMix64(ref state));
        Assert.Equal(0x6E789E6AA1B965F4UL, Seeds.SplitMix64(ref state));
        Assert.Equal(0x06C45D188009454FUL, Seeds.SplitMix64(ref state));
    }

    [Fact]
    public void SeededRandomIsReproducibleAndSeedSensitive()
    {
        var a = new SeededRandom(123);
        var b = new SeededRandom(123);
        var c = new SeededRandom(124);
        ulong[] first = [.. Enumerable.Range(0, 8).Select(_ => a.NextUInt64())];
        Assert.Equal(first, Enumerable.Range(0, 8).Select(_ => b.NextUInt64()));
        Assert.NotEqual(first, Enumerable.Range(0, 8).Select(_ => c.NextUInt64()));
    }

    [Fact]
    public void BoundedIntegersAreRoughlyUniformAndInRange()
    {
        var random = new SeededRandom(9);
        int[] counts = new int[7];
        for (int i = 0; i < 70_000; i++)
        {
            counts[random.NextInt(7)]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500));
        Assert.Throws<ArgumentOutOfRangeException>(() => random.NextInt(0));
    }

    [Fact]
    public void PermutationsArePermutations()
    {
        int[] permutation = new SeededRandom(4).Permutation(1000);
        Assert.Equal(Enumerable.Range(0, 1000), permutation.Order());
        Assert.NotEqual(Enumerable.Range(0, 1000), permutation);
    }

    [Fact]
    public void GammaSamplesHaveTheirShapeAsMean()
    {
        foreach (double shape in new[] { 0.1, 0.5, 1.0, 3.0 })
        {
            var sampler = new GaussianSampler(new SeededRandom(17));
            double[] samples = [.. Enumerable.Range(0, 50_000).Select(_ => sampler.NextGamma(shape))];
            Assert.All(samples, s => Assert.True(s >= 0));
            Assert.Equal(shape, samples.Average(), 0.03 * Math.Max(shape, 1));
            double variance = samples.Select(s => (s - shape) * (s - shape)).Average();
            Assert.Equal(shape, variance, 0.08 * Math.Max(shape, 1));
        }
    }

    [Fact]
    public void SameSeedGivesIdenticalInitialisationAndTraining()
    {
        var data = Data.Dataset.FromRows(TestData.GaussianRows(64, 3, 1), new SeededRandom(2).Permutation(64).Select(i => (double)(i % 2)).ToArray());
        double[] Train(ulong initSeed, ulong trainSeed)
        {
            var mlp = new Mlp(3, [5, 3], ModelTask.BinaryClassification, Activation.ReLU, initSeed);
            new LocalTrainer(new TrainConfig { LocalEpochs = 5, BatchSize = 8 }).Fit(mlp, data, trainSeed);
            return mlp.GetParameters();
        }

        Assert.Equal(Train(1, 2), Train(1, 2));
        Assert.NotEqual(Train(1, 2), Train(3, 2));
        Assert.NotEqual(Train(1, 2), Train(1, 4));
    }
}
