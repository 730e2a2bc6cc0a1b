namespace PrivateHealth.Homomorphic.Ring;

/// <summary>NTT-friendly prime generation and deterministic primality testing.</summary>
public static class Primes
{
    private static readonly ulong[] WitnessBases = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];

    /// <summary>Deterministic Miller–Rabin for 64-bit integers (bases 2…37 are exact below 2^64).</summary>
    public static bool IsPrime(ulong n)
    {
        if (n < 2)
        {
            return false;
        }

        foreach (ulong p in WitnessBases)
        {
            if (n == p)
            {
                return true;
            }

            if (n % p == 0)
            {
                return false;
            }
        }

        ulong d = n - 1;
        int r = 0;
        while ((d & 1) == 0)
        {
            d >>= 1;
            r++;
        }

        foreach (ulong a in WitnessBases)
        {
            ulong x = PowMod(a, d, n);
            if (x == 1 || x == n - 1)
            {
                continue;
            }

            bool composite = true;
            for (int i = 1; i < r; i++)
            {
                x = (ulong)((UInt128)x * x % n);
                if (x == n - 1)
                {
                    composite = false;
                    break;
                }
            }

            if (composite)
            {
                return false;
            }
        }

        return true;
    }

    private static ulong PowMod(ulong b, ulong e, ulong m)
    {
        UInt128 result = 1;
        UInt128 bb = b % m;
        while (e != 0)
        {
            if ((e & 1) != 0)
            {
                result = result * bb % m;
            }

            bb = bb * bb % m;
            e >>= 1;
        }

        return (ulong)result;
    }

    /// <summary>
    /// The <paramref name="count"/> largest primes q &lt; 2^bits with q ≡ 1 (mod 2N), in descending order,
    /// skipping any in <paramref name="exclude"/>.
    /// </summary>
    public static ulong[] GenerateNttPrimes(int bits, int count, int n, IReadOnlyCollection<ulong>? exclude = null)
    {
        if (bits < 2 || bits > Modulus.MaxBits)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, $"Prime bit size must be in [2, {Modulus.MaxBits}].");
        }

        ulong m = 2UL * (ulong)n;
        var result = new List<ulong>(count);
        // largest candidate ≡ 1 mod 2N strictly below 2^bits
        ulong top = 1UL << bits;
        ulong candidate = ((top - 1) / m * m) + 1;
        if (candidate >= top)
        {
            candidate -= m;
        }

        ulong lowest = 1UL << (bits - 1);
        while (result.Count < count)
        {
            if (candidate < lowest || candidate <= m)
            {
                throw new ArgumentException($"Not enough {bits}-bit primes congruent to 1 mod {m}.");
            }

            if (IsPrime(candidate) && (exclude is null || !exclude.Contains(candidate)))
            {
                result.Add(candidate);
            }

            candidate -= m;
        }

        return [.. result];
    }

    /// <summary>The smallest primitive 2N-th root of unity modulo the prime q (SEAL's convention).</summary>
    public static ulong MinimalPrimitiveRoot(ulong q, int n)
    {
        ulong m = 2UL * (ulong)n;
        if ((q - 1) % m != 0)
        {
            throw new ArgumentException($"{q} is not congruent to 1 mod {m}.");
        }

        var mod = new Modulus(q);
        // find any generator of the 2N-th roots subgroup, then the minimal primitive root among its odd powers
        ulong cofactor = (q - 1) / m;
        ulong root = 0;
        for (ulong x = 2; x < q; x++)
        {
            ulong r = mod.Pow(x, cofactor);
            if (mod.Pow(r, m / 2) == q - 1)
            {
                root = r;
                break;
            }
        }

        if (root == 0)
        {
            throw new ArgumentException($"No primitive {m}-th root of unity modulo {q}.");
        }

        // the primitive 2N-th roots are root^k for odd k
        ulong best = root;
        ulong square = mod.Multiply(root, root);
        ulong current = root;
        for (ulong k = 1; k < m; k += 2)
        {
            if (current < best)
            {
                best = current;
            }

            current = mod.Multiply(current, square);
        }

        return best;
    }
}
