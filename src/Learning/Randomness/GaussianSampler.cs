namespace PrivateHealth.Learning.Randomness;

/// <summary>
/// Standard normal samples by the Box–Muller transform over a <see cref="RandomSource"/>: from u₁ ∈ (0, 1)
/// and u₂ ∈ [0, 1), r = √(−2 ln u₁) gives r·cos(2πu₂) and then r·sin(2πu₂) (the second is kept for the next
/// call). Give it a <see cref="CryptoRandomSource"/> for real privacy noise and a <see cref="SeededRandom"/> in
/// tests and simulations. Floating-point Gaussian sampling is not hardened against the precision attacks on
/// textbook DP samplers (Mironov 2012); the noise scales used in DP-FedAvg make those attacks weak but not absent.
/// Not thread-safe.
/// </summary>
public sealed class GaussianSampler
{
    private readonly RandomSource _source;
    private double _spare;
    private bool _hasSpare;

    public GaussianSampler(RandomSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
    }

    /// <summary>The next N(0, 1) sample.</summary>
    public double NextStandard()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }

        double u1 = _source.NextOpenDouble();
        double u2 = _source.NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        (double sin, double cos) = Math.SinCos(2.0 * Math.PI * u2);
        _spare = r * sin;
        _hasSpare = true;
        return r * cos;
    }

    /// <summary>The next N(mean, standardDeviation²) sample.</summary>
    public double Next(double mean, double standardDeviation)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(standardDeviation);
        return mean + (standardDeviation * NextStandard());
    }

    /// <summary>Fills <paramref name="destination"/> with independent N(mean, standardDeviation²) samples, in order.</summary>
    public void Fill(Span<double> destination, double mean, double standardDeviation)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(standardDeviation);
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = mean + (standardDeviation * NextStandard());
        }
    }

    /// <summary>
    /// A Gamma(shape, 1) sample (Marsaglia–Tsang; for shape &lt; 1 the boost Gamma(shape + 1)·U^(1/shape)).
    /// Uses this sampler's normals and its source's uniforms; used for Dirichlet partitions.
    /// </summary>
    public double NextGamma(double shape)
    {
        if (!(shape > 0) || double.IsInfinity(shape))
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "The Gamma shape must be positive and finite.");
        }

        if (shape < 1.0)
        {
            double boosted = NextGamma(shape + 1.0);
            return boosted * Math.Pow(_source.NextOpenDouble(), 1.0 / shape);
        }

        double d = shape - (1.0 / 3.0);
        double c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x;
            double v;
            do
            {
                x = NextStandard();
                v = 1.0 + (c * x);
            }
            while (v <= 0);

            v = v * v * v;
            double u = _source.NextOpenDouble();
            if (u < 1.0 - (0.0331 * x * x * x * x) || Math.Log(u) < (0.5 * x * x) + (d * (1.0 - v + Math.Log(v))))
            {
                return d * v;
            }
        }
    }
}
