namespace PrivateHealth.Learning.Randomness;

/// <summary>
/// A source of uniform 64-bit words with the derived draws the learning core needs. Every derived draw is
/// defined here (not by the subclass), so a seeded source gives the same doubles, integers and permutations
/// on every platform. Instances are not thread-safe.
/// </summary>
public abstract class RandomSource
{
    private const double TwoPowMinus53 = 1.0 / (1UL << 53);

    /// <summary>The next uniform 64-bit word.</summary>
    public abstract ulong NextUInt64();

    /// <summary>A uniform double in [0, 1): the top 53 bits of one word times 2^-53.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * TwoPowMinus53;

    /// <summary>A uniform double in the open interval (0, 1): (top 53 bits + ½) · 2^-53.</summary>
    public double NextOpenDouble() => ((NextUInt64() >> 11) + 0.5) * TwoPowMinus53;

    /// <summary>
    /// A uniform integer in [0, <paramref name="maxExclusive"/>) by Lemire's multiply-and-reject method
    /// (unbiased; one word per draw except with probability below maxExclusive / 2^64).
    /// </summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        ulong range = (ulong)maxExclusive;
        ulong high = Math.BigMul(NextUInt64(), range, out ulong low);
        if (low < range)
        {
            ulong threshold = (0UL - range) % range;
            while (low < threshold)
            {
                high = Math.BigMul(NextUInt64(), range, out low);
            }
        }

        return (int)high;
    }

    /// <summary>In-place Fisher–Yates shuffle: for i = n−1 down to 1, swap item i with item NextInt(i + 1).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A uniformly random permutation of 0 … count−1 (the identity, then <see cref="Shuffle{T}"/>).</summary>
    public int[] Permutation(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int[] permutation = new int[count];
        for (int i = 0; i < count; i++)
        {
            permutation[i] = i;
        }

        Shuffle(permutation.AsSpan());
        return permutation;
    }
}
