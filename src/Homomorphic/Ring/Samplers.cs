using System.Numerics;

namespace PrivateHealth.Homomorphic.Ring;

/// <summary>Kind of the error distribution χ.</summary>
public enum ErrorDistributionKind
{
    /// <summary>Rounded Gaussian of standard deviation σ, truncated at the bound (default σ = 3.2, bound 19.2).</summary>
    DiscreteGaussian = 0,
    /// <summary>Centered binomial CBD(21): popcount of 21 bits minus popcount of 21 bits (σ ≈ 3.24, support [−21, 21]).</summary>
    CenteredBinomial21 = 1,
}

/// <summary>Samplers of uniform, ternary and error polynomials. All randomness comes from a <see cref="Prng"/>.</summary>
public static class Samplers
{
    /// <summary>
    /// Fills <paramref name="destination"/> with uniform residues mod q: 8 little-endian bytes per draw,
    /// masked to the bit length of q, rejected when ≥ q (unbiased, and byte-exact across implementations).
    /// </summary>
    public static void Uniform(Prng prng, Modulus q, Span<ulong> destination)
    {
        ulong mask = q.BitCount == 64 ? ulong.MaxValue : (1UL << q.BitCount) - 1;
        for (int i = 0; i < destination.Length;)
        {
            ulong v = prng.NextUInt64() & mask;
            if (v < q.Value)
            {
                destination[i++] = v;
            }
        }
    }

    /// <summary>Uniform polynomial over the given limbs of a basis, limb by limb in order.</summary>
    public static void UniformPoly(Prng prng, RnsBasis basis, Poly destination)
    {
        for (int i = 0; i < destination.LimbCount; i++)
        {
            Uniform(prng, basis[i], destination.Limb(i));
        }
    }

    /// <summary>Uniform ternary coefficients in {−1, 0, 1}, each with probability 1/3.</summary>
    public static void Ternary(Prng prng, Span<long> destination)
    {
        Span<byte> buf = stackalloc byte[256];
        int pos = buf.Length;
        for (int i = 0; i < destination.Length;)
        {
            if (pos == buf.Length)
            {
                prng.Fill(buf);
                pos = 0;
            }

            byte b = buf[pos++];
            if (b < 255)
            {
                destination[i++] = (b % 3) - 1;
            }
        }
    }

    /// <summary>Centered binomial CBD(21).</summary>
    public static void CenteredBinomial21(Prng prng, Span<long> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            ulong r = prng.NextUInt64();
            destination[i] = BitOperations.PopCount(r & 0x1FFFFF) - BitOperations.PopCount((r >> 21) & 0x1FFFFF);
        }
    }

    /// <summary>
    /// Rounded Gaussian with standard deviation <paramref name="sigma"/>, truncated at |x| ≤ bound:
    /// Box–Muller on 53-bit uniforms (two samples per pair of draws); an out-of-bound sample is drawn again.
    /// Suitable for σ up to about 2^50.
    /// </summary>
    public static void Gaussian(Prng prng, double sigma, double bound, Span<long> destination)
    {
        if (!(sigma > 0) || !(bound >= sigma) || bound > 1L << 62)
        {
            throw new ArgumentOutOfRangeException(nameof(sigma), $"Invalid Gaussian σ = {sigma}, bound = {bound}.");
        }

        for (int i = 0; i < destination.Length;)
        {
            double u1 = 1.0 - prng.NextDouble(); // (0, 1]
            double u2 = prng.NextDouble();
            double radius = sigma * Math.Sqrt(-2.0 * Math.Log(u1));
            (double sin, double cos) = Math.SinCos(2.0 * Math.PI * u2);
            double x = Math.Round(radius * cos);
            double y = Math.Round(radius * sin);
            if (Math.Abs(x) <= bound)
            {
                destination[i++] = (long)x;
            }

            if (i < destination.Length && Math.Abs(y) <= bound)
            {
                destination[i++] = (long)y;
            }
        }
    }

    /// <summary>Samples an error polynomial with the chosen distribution.</summary>
    public static void Error(Prng prng, ErrorDistributionKind kind, double sigma, double bound, Span<long> destination)
    {
        switch (kind)
        {
            case ErrorDistributionKind.DiscreteGaussian:
                Gaussian(prng, sigma, bound, destination);
                break;
            case ErrorDistributionKind.CenteredBinomial21:
                CenteredBinomial21(prng, destination);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown error distribution.");
        }
    }

    /// <summary>Writes the signed small coefficients into limbs [0, destination.LimbCount) of the basis (coefficient form).</summary>
    public static void SetSigned(ReadOnlySpan<long> coefficients, RnsBasis basis, Poly destination)
    {
        for (int i = 0; i < destination.LimbCount; i++)
        {
            var mod = basis[i];
            var limb = destination.Limb(i);
            for (int j = 0; j < limb.Length; j++)
            {
                limb[j] = mod.FromSigned(coefficients[j]);
            }
        }
    }
}
