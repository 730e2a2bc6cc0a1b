using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.Learning.Privacy;

/// <summary>
/// The Gaussian mechanism of DP-FedAvg: N(0, σ²) with σ = z·C per coordinate, for noise multiplier z and
/// clipping norm C (each client's update clipped to ‖Δ‖₂ ≤ C with <see cref="UpdateClipping.ClipL2"/>).
/// <para>
/// Central DP (the intended deployment): noise is added <b>once, to the aggregate</b> — the coordinator's
/// job, after summing clipped updates (under encryption, the noise is added to the encrypted sum or by
/// the key holders at decryption, never by each client). With one user per client and unweighted summation
/// the sum has L2 sensitivity C; with sample-count weighting the sensitivity becomes C·max nᵢ, so either use
/// uniform weights or scale the noise accordingly. The privacy accounting (ε, δ over rounds, e.g. with a
/// moments/RDP accountant) is outside this class.
/// </para>
/// <para>
/// Local DP (an option when the aggregator is not trusted with plain sums): each client adds N(0, (z·C)²) to
/// its own clipped update before sending; far noisier, since the noise of m clients adds up.
/// </para>
/// Use a <see cref="GaussianSampler"/> over <see cref="CryptoRandomSource"/> for real data and over
/// <see cref="SeededRandom"/> only for tests and simulations.
/// </summary>
public static class GaussianNoise
{
    /// <summary>σ = z·C.</summary>
    public static double StandardDeviation(double noiseMultiplier, double clipNorm)
    {
        if (!(noiseMultiplier >= 0) || !double.IsFinite(noiseMultiplier))
        {
            throw new ArgumentOutOfRangeException(nameof(noiseMultiplier), noiseMultiplier, "The noise multiplier must be finite and non-negative.");
        }

        if (!(clipNorm > 0) || !double.IsFinite(clipNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "The clipping norm must be positive and finite.");
        }

        return noiseMultiplier * clipNorm;
    }

    /// <summary>Adds independent N(0, (z·C)²) noise to every coordinate of <paramref name="values"/>, in index order.</summary>
    public static void Add(Span<double> values, double noiseMultiplier, double clipNorm, GaussianSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        double sigma = StandardDeviation(noiseMultiplier, clipNorm);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] += sigma * sampler.NextStandard();
        }
    }

    /// <summary>A new vector of <paramref name="length"/> independent N(0, (z·C)²) samples.</summary>
    public static double[] Sample(int length, double noiseMultiplier, double clipNorm, GaussianSampler sampler)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        double[] noise = new double[length];
        Add(noise, noiseMultiplier, clipNorm, sampler);
        return noise;
    }
}
