using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Participant.Custodian;

namespace PrivateHealth.Participant.Tests;

/// <summary>
/// The noise custodians add to releases (query results and DP training updates) has the configured scale: the sum of t
/// shares of N(0, σ²/t) is N(0, σ²) in exactly the requested slots and nothing elsewhere. Checked on decrypted shares
/// (mean, variance against chi-square bounds, Kolmogorov–Smirnov against the normal law); the bounds are 6 standard
/// errors wide, so a correct sampler fails with probability below 1e-8 while a √t mistake is far outside them.
/// </summary>
public sealed class CustodianNoiseTests(ITestOutputHelper output)
{
    private static readonly CkksParameters Parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);

    [Fact]
    public void TheSumOfThresholdQueryNoiseSharesHasTheConfiguredSigmaInTheRequestedSlotsOnly()
    {
        using var keygen = new KeyGenerator(Parameters.Rlwe);
        using var secret = keygen.GenerateSecretKey();
        var publicKey = keygen.GeneratePublicKey(secret);
        const double sigma = 4.0;
        const int t = 3;
        int slots = Parameters.MaxSlots;
        var noisy = Enumerable.Range(0, slots).Where(s => s % 4 != 3).ToArray(); // 3/4 of the slots, as released blocks would be
        var evaluator = new CkksEvaluator(Parameters);
        var decryptor = new Decryptor(Parameters.Rlwe, secret);
        var encoder = new CkksEncoder(Parameters);

        Ciphertext? total = null;
        for (int party = 0; party < t; party++)
        {
            var share = CustodianNoise.EncryptSlotNoise(Parameters, publicKey, noisy, sigma / Math.Sqrt(t), Parameters.MaxLevel, Parameters.DefaultScale);
            Assert.Equal(Parameters.MaxLevel, share.Level);
            var alone = encoder.Decode(decryptor.Decrypt(share));
            AssertGaussian([.. noisy.Select(s => alone[s])], sigma / Math.Sqrt(t), $"share {party + 1}");
            if (total is null)
            {
                total = share;
            }
            else
            {
                evaluator.AddInPlace(total, share);
            }
        }

        var values = encoder.Decode(decryptor.Decrypt(total!));
        AssertGaussian([.. noisy.Select(s => values[s])], sigma, $"sum of {t} shares");
        double outside = Enumerable.Range(0, slots).Where(s => s % 4 == 3).Max(s => Math.Abs(values[s]));
        output.WriteLine($"largest value outside the noisy slots: {outside:E2}");
        Assert.True(outside < 1e-4, $"slots without noise hold {outside:E2}");
    }

    [Fact]
    public void UpdateNoiseCoversTheNoisyValuesAndLeavesTheRestZero()
    {
        var training = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);
        using var keygen = new KeyGenerator(training.Rlwe);
        using var secret = keygen.GenerateSecretKey();
        var publicKey = keygen.GeneratePublicKey(secret);
        const double sigma = 0.5;
        int valueCount = training.N + 1000; // two ciphertexts
        int noisyValues = valueCount - 1;     // the last value (the weight) gets none

        var shares = CustodianNoise.EncryptUpdateNoise(training, publicKey, valueCount, noisyValues, sigma);
        var packer = new UpdatePacker(training);
        Assert.Equal(packer.CiphertextCount(valueCount), shares.Length);
        var decryptor = new Decryptor(training.Rlwe, secret);
        var values = packer.Unpack([.. shares.Select(decryptor.Decrypt)], valueCount);
        AssertGaussian(values.AsSpan(0, noisyValues).ToArray(), sigma, "update noise");
        Assert.True(Math.Abs(values[^1]) < 1e-4, $"the weight got noise {values[^1]:E2}");
    }

    private void AssertGaussian(double[] x, double sigma, string what)
    {
        int n = x.Length;
        double mean = x.Average();
        double variance = x.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        // sample variance of n normals: standard error σ²·√(2/(n−1))
        double varianceError = sigma * sigma * Math.Sqrt(2.0 / (n - 1));
        var sorted = x.Order().ToArray();
        double d = 0;
        for (int i = 0; i < n; i++)
        {
            double f = MathNet.Numerics.Distributions.Normal.CDF(0, sigma, sorted[i]);
            d = Math.Max(d, Math.Max(f - ((double)i / n), ((double)(i + 1) / n) - f));
        }

        // Kolmogorov–Smirnov: P(√n·D > 2.9) < 1e-7
        double ksLimit = 2.9 / Math.Sqrt(n);
        output.WriteLine($"{what}: n {n}, mean {mean:F4} (|limit| {6 * sigma / Math.Sqrt(n):F4}), σ̂ {Math.Sqrt(variance):F4} vs σ {sigma:F4}, KS D {d:F4} (limit {ksLimit:F4})");
        Assert.True(Math.Abs(mean) < 6 * sigma / Math.Sqrt(n), $"{what}: mean {mean} is not 0");
        Assert.True(Math.Abs(variance - (sigma * sigma)) < 6 * varianceError, $"{what}: variance {variance:F4}, expected {sigma * sigma:F4} ± {6 * varianceError:F4}");
        Assert.True(d < ksLimit, $"{what}: not normal with σ {sigma} (KS D {d:F4} ≥ {ksLimit:F4})");
    }
}
