using System.Collections.Concurrent;
using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Homomorphic.Rlwe;

/// <summary>
/// Validated, immutable ring-LWE parameters with every precomputed table: the ciphertext modulus chain
/// Q = q_0·…·q_L (level ℓ uses q_0…q_ℓ; rescaling drops the last), the special modulus P = p_0·…·p_{K−1}
/// for hybrid key switching with digits of <see cref="DigitSize"/> consecutive primes of Q, and the error
/// distribution. Built by the scheme layer (e.g. CkksParameters), which also fixes the <see cref="Id"/>.
/// Thread-safe.
/// </summary>
public sealed class RlweParameters
{
    private readonly BasisConverter[] _modDown;         // P -> Q_ℓ, per level
    private readonly ulong[][] _pInvModQ;               // [P^-1]_{q_i}
    private readonly ulong[] _pModQ;                    // [P]_{q_i}
    private readonly ulong[][] _qLastInv;               // per level ℓ: [q_ℓ^-1]_{q_i}, i < ℓ
    private readonly BasisConverter[][] _modUp;         // per level ℓ, per digit: digit primes -> (Q_ℓ \ digit) ∪ P
    private readonly ConcurrentDictionary<ulong, int[]> _galoisPermutations = new();

    public int LogN { get; }
    public int N { get; }
    public RnsBasis Q { get; }
    public RnsBasis P { get; }
    /// <summary>Q followed by P: the basis of keys ("key level").</summary>
    public RnsBasis QP { get; }
    public int MaxLevel => Q.Count - 1;
    public int DigitSize { get; }
    public ErrorDistributionKind ErrorDistribution { get; }
    public double ErrorSigma { get; }
    public double ErrorBound { get; }
    public ParametersId Id { get; }

    public RlweParameters(int logN, IReadOnlyList<ulong> q, IReadOnlyList<ulong> p, int digitSize,
        ErrorDistributionKind errorDistribution, double errorSigma, double errorBound, ParametersId id)
    {
        if (q.Count < 1)
        {
            throw new ArgumentException("At least one ciphertext prime is required.");
        }

        if (p.Count < 1)
        {
            throw new ArgumentException("At least one special prime P is required (key switching and public-key encryption use it).");
        }

        if (digitSize < 1 || digitSize > q.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(digitSize), digitSize, "Digit size must be between 1 and the number of Q primes.");
        }

        LogN = logN;
        N = 1 << logN;
        Q = new RnsBasis(N, q);
        P = new RnsBasis(N, p);
        QP = Q.Concat(P);
        if (QP.Moduli.Select(m => m.Value).Distinct().Count() != QP.Count)
        {
            throw new ArgumentException("Q and P primes must all be distinct.");
        }

        foreach (var m in QP.Moduli)
        {
            if ((m.Value - 1) % (2UL * (ulong)N) != 0)
            {
                throw new ArgumentException($"Prime {m.Value} is not congruent to 1 mod 2N = {2 * N}.");
            }
        }

        DigitSize = digitSize;
        ErrorDistribution = errorDistribution;
        ErrorSigma = errorSigma;
        ErrorBound = errorBound;
        Id = id;

        int levels = Q.Count;
        _modDown = new BasisConverter[levels];
        _pInvModQ = new ulong[levels][];
        _qLastInv = new ulong[levels][];
        _modUp = new BasisConverter[levels][];
        var pBig = P.Product();
        _pModQ = [.. Q.Moduli.Select(m => (ulong)(pBig % m.Value))];
        for (int l = 0; l < levels; l++)
        {
            var qModuli = Q.Moduli.Take(l + 1).ToArray();
            _modDown[l] = new BasisConverter(P.Moduli, qModuli);
            _pInvModQ[l] = [.. qModuli.Select(m => m.Inverse((ulong)(pBig % m.Value)))];
            _qLastInv[l] = [.. qModuli.Take(l).Select(m => m.Inverse(m.Reduce(Q[l].Value)))];
            int digits = DigitCount(l);
            _modUp[l] = new BasisConverter[digits];
            for (int d = 0; d < digits; d++)
            {
                var (start, count) = DigitRange(d, l);
                var from = qModuli.Skip(start).Take(count).ToArray();
                var to = qModuli.Where((_, i) => i < start || i >= start + count).Concat(P.Moduli).ToArray();
                _modUp[l][d] = new BasisConverter(from, to);
            }
        }
    }

    /// <summary>Number of key-switching digits at the top level (dnum).</summary>
    public int DigitCountMax => DigitCount(MaxLevel);

    /// <summary>Number of digits covering q_0…q_ℓ.</summary>
    public int DigitCount(int level) => ((level + 1) + DigitSize - 1) / DigitSize;

    /// <summary>First prime index and prime count of digit <paramref name="digit"/> at level ℓ.</summary>
    public (int Start, int Count) DigitRange(int digit, int level)
    {
        int start = digit * DigitSize;
        return (start, Math.Min(DigitSize, level + 1 - start));
    }

    internal BasisConverter ModDownConverter(int level) => _modDown[level];
    internal BasisConverter ModUpConverter(int level, int digit) => _modUp[level][digit];
    internal ReadOnlySpan<ulong> PInvModQ(int level) => _pInvModQ[level];
    /// <summary>[P]_{q_i} for every Q prime (the gadget factor of switching keys).</summary>
    public ReadOnlySpan<ulong> PModQ => _pModQ;
    internal ReadOnlySpan<ulong> QLastInverse(int level) => _qLastInv[level];

    /// <summary>Key-level index of the k-th P prime.</summary>
    public int PLimbIndex(int k) => Q.Count + k;

    /// <summary>
    /// Permutation π with σ_g(a)^[i] = â[π[i]] for the NTT ordering â[i] = a(ψ^(2·brv(i)+1)).
    /// </summary>
    public int[] GaloisPermutation(ulong galoisElement)
    {
        if (_galoisPermutations.TryGetValue(galoisElement, out var cached))
        {
            return cached;
        }

        ulong m = 2UL * (ulong)N;
        if ((galoisElement & 1) == 0 || galoisElement >= m)
        {
            throw new ArgumentException($"Galois element {galoisElement} must be odd and below 2N = {m}.");
        }

        var perm = new int[N];
        for (int i = 0; i < N; i++)
        {
            ulong exponent = (2UL * (ulong)NttTables.BitReverse(i, LogN)) + 1;
            ulong image = exponent * galoisElement % m;
            perm[i] = NttTables.BitReverse((int)((image - 1) >> 1), LogN);
        }

        return _galoisPermutations.GetOrAdd(galoisElement, perm);
    }

    /// <summary>Galois element of a left rotation by k slots (5^k mod 2N); negative k rotates right.</summary>
    public ulong GaloisElementForRotation(int k)
    {
        ulong m = 2UL * (ulong)N;
        int slots = N / 2;
        int steps = ((k % slots) + slots) % slots;
        ulong g = 1, b = 5;
        for (int e = steps; e != 0; e >>= 1)
        {
            if ((e & 1) != 0)
            {
                g = g * b % m;
            }

            b = b * b % m;
        }

        return g;
    }

    /// <summary>Galois element of complex conjugation (2N − 1).</summary>
    public ulong GaloisElementForConjugation => (2UL * (ulong)N) - 1;
}
