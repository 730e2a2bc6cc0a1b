using System.Security.Cryptography;
using FsCheck;
using FsCheck.Fluent;
using PrivateHealth.Learning.Privacy;
using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.Learning.Tests;

public sealed class PrivacyTests
{
    [Fact]
    public void ClippingKeepsTheNormAtMostCAndPreservesDirection()
    {
        var vectors = Gen.NonEmptyListOf(Gen.Choose(-1_000_000, 1_000_000).Select(v => v / 1000.0)).Select(l => l.ToArray()).ToArbitrary();
        var clips = Gen.Choose(1, 100_000).Select(v => v / 1000.0).ToArbitrary();
        Prop.ForAll(vectors, clips, (vector, clip) =>
        {
            double[] original = (double[])vector.Clone();
            double norm = UpdateClipping.L2Norm(original);
            double factor = UpdateClipping.ClipL2(vector, clip);

            Assert.True(UpdateClipping.L2Norm(vector) <= clip, $"Norm {UpdateClipping.L2Norm(vector):R} > C = {clip}.");
            Assert.InRange(factor, 0.0, 1.0);
            if (norm <= clip)
            {
                Assert.Equal(1.0, factor);
                Assert.Equal(original, vector);
            }
            else
            {
                Assert.Equal(clip / norm, factor, 1e-12);
                Assert.Equal(clip, UpdateClipping.L2Norm(vector), clip * 1e-12);
                for (int i = 0; i < vector.Length; i++)
                {
                    Assert.Equal(original[i] * factor, vector[i], 1e-12 * Math.Max(1, Math.Abs(original[i])));
                }
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
    }

    [Fact]
    public void ClippingRejectsNonPositiveBoundsAndNonFiniteUpdates()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => UpdateClipping.ClipL2(new double[] { 1 }, 0));
        Assert.Throws<ArgumentException>(() => UpdateClipping.ClipL2(new double[] { double.NaN }, 1));
        Assert.Equal(1.0, UpdateClipping.ClipL2(new double[3], 1));
    }

    [Fact]
    public void SeededNoiseHasStandardDeviationZTimesC()
    {
        const double Z = 1.1;
        const double C = 0.5;
        const int N = 200_000;
        double[] noise = GaussianNoise.Sample(N, Z, C, new GaussianSampler(new SeededRandom(2024)));
        AssertGaussian(noise, Z * C, relativeTolerance: 0.01);
    }

    [Fact]
    public void CryptographicNoiseHasStandardDeviationZTimesC()
    {
        using var rng = RandomNumberGenerator.Create();
        using var source = new CryptoRandomSource(rng);
        double[] noise = GaussianNoise.Sample(100_000, 0.8, 2.0, new GaussianSampler(source));
        AssertGaussian(noise, 1.6, relativeTolerance: 0.02);

        using var system = new CryptoRandomSource();
        double[] more = GaussianNoise.Sample(100_000, 0.8, 2.0, new GaussianSampler(system));
        AssertGaussian(more, 1.6, relativeTolerance: 0.02);
    }

    [Fact]
    public void NoiseIsAddedToTheValuesAndIsReproducibleFromASeed()
    {
        double[] a = [1, 2, 3];
        double[] b = [1, 2, 3];
        GaussianNoise.Add(a, 1.0, 1.0, new GaussianSampler(new SeededRandom(7)));
        GaussianNoise.Add(b, 1.0, 1.0, new GaussianSampler(new SeededRandom(7)));
        Assert.Equal(a, b);
        Assert.NotEqual([1.0, 2.0, 3.0], a);

        double[] unchanged = [1, 2, 3];
        GaussianNoise.Add(unchanged, 0.0, 1.0, new GaussianSampler(new SeededRandom(7)));
        Assert.Equal([1.0, 2.0, 3.0], unchanged);
    }

    private static void AssertGaussian(double[] samples, double sigma, double relativeTolerance)
    {
        int n = samples.Length;
        double mean = samples.Average();
        double std = Math.Sqrt(samples.Select(x => (x - mean) * (x - mean)).Sum() / (n - 1));
        Assert.True(Math.Abs(mean) < 5 * sigma / Math.Sqrt(n), $"Mean {mean} for σ = {sigma}.");
        Assert.True(Math.Abs(std - sigma) < relativeTolerance * sigma, $"Sample std {std}, expected {sigma}.");

        // Shape: P(|x| < σ) = 0.6827, P(|x| < 2σ) = 0.9545 (tolerances ≫ binomial standard errors).
        double within1 = samples.Count(x => Math.Abs(x) < sigma) / (double)n;
        double within2 = samples.Count(x => Math.Abs(x) < 2 * sigma) / (double)n;
        Assert.InRange(within1, 0.6827 - 0.01, 0.6827 + 0.01);
        Assert.InRange(within2, 0.9545 - 0.005, 0.9545 + 0.005);
    }
}
