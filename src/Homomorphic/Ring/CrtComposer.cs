namespace PrivateHealth.Homomorphic.Ring;

/// <summary>
/// CRT reconstruction of RNS values to centered doubles, with fixed-width multiword arithmetic
/// (x = Σ_i [x_i·Q̂_i^-1]_{q_i}·Q̂_i − k·Q, k estimated in floating point and corrected exactly).
/// One instance per prefix q_0…q_{L−1}. Thread-safe.
/// </summary>
public sealed class CrtComposer
{
    private readonly Modulus[] _moduli;
    private readonly int _words;           // words of Q (and of every Q̂_i), plus one spare for sums
    private readonly ulong[] _qHat;        // Q̂_i, _words words each
    private readonly ulong[] _qHatInv;
    private readonly ulong[] _qHatInvShoup;
    private readonly double[] _invQ;
    private readonly ulong[] _q;           // Q
    private readonly ulong[] _halfQ;       // ⌊Q/2⌋

    public CrtComposer(IReadOnlyList<Modulus> moduli)
    {
        _moduli = [.. moduli];
        int l = _moduli.Length;
        System.Numerics.BigInteger q = 1;
        foreach (var m in _moduli)
        {
            q *= m.Value;
        }

        _words = (int)((q.GetBitLength() + 63) / 64) + 1;
        _q = ToWords(q, _words);
        _halfQ = ToWords(q / 2, _words);
        _qHat = new ulong[l * _words];
        _qHatInv = new ulong[l];
        _qHatInvShoup = new ulong[l];
        _invQ = new double[l];
        for (int i = 0; i < l; i++)
        {
            var hat = q / _moduli[i].Value;
            ToWords(hat, _words).CopyTo(_qHat, i * _words);
            _qHatInv[i] = _moduli[i].Inverse((ulong)(hat % _moduli[i].Value));
            _qHatInvShoup[i] = _moduli[i].ShoupPrecompute(_qHatInv[i]);
            _invQ[i] = 1.0 / _moduli[i].Value;
        }
    }

    private static ulong[] ToWords(System.Numerics.BigInteger v, int words)
    {
        var r = new ulong[words];
        for (int w = 0; w < words; w++)
        {
            r[w] = (ulong)(v & ulong.MaxValue);
            v >>= 64;
        }

        return r;
    }

    /// <summary>
    /// For each coefficient j, output[j] = centered(x_j mod Q) · multiplier, where the residues of x_j are
    /// <paramref name="limbs"/>[i·n + j] (coefficient form).
    /// </summary>
    public void ComposeCentered(ReadOnlySpan<ulong> limbs, int n, Span<double> output, double multiplier)
    {
        int l = _moduli.Length;
        if (l == 1)
        {
            ulong q = _moduli[0].Value;
            ulong half = q >> 1;
            for (int j = 0; j < n; j++)
            {
                ulong x = limbs[j];
                output[j] = (x > half ? -(double)(q - x) : x) * multiplier;
            }

            return;
        }

        int words = _words;
        Span<ulong> acc = stackalloc ulong[words];
        Span<ulong> tmp = stackalloc ulong[words];
        for (int j = 0; j < n; j++)
        {
            acc.Clear();
            double frac = 0;
            for (int i = 0; i < l; i++)
            {
                var mod = _moduli[i];
                ulong yi = mod.MultiplyShoup(limbs[(i * n) + j], _qHatInv[i], _qHatInvShoup[i]);
                frac += yi * _invQ[i];
                MulAddWord(acc, _qHat.AsSpan(i * words, words), yi);
            }

            // subtract ⌊frac⌋·Q, then correct by at most a couple of Q either way
            ulong k = (ulong)Math.Floor(frac);
            if (k > 0)
            {
                MulSubWord(acc, _q, k);
            }

            while ((long)acc[words - 1] < 0)
            {
                AddWords(acc, _q);
            }

            while (Compare(acc, _q) >= 0)
            {
                SubWords(acc, _q);
            }

            bool negative = Compare(acc, _halfQ) > 0;
            if (negative)
            {
                // acc ← Q − acc
                _q.CopyTo(tmp);
                SubWords(tmp, acc);
                tmp.CopyTo(acc);
            }

            double v = 0;
            for (int w = words - 1; w >= 0; w--)
            {
                v = (v * 18446744073709551616.0) + acc[w];
            }

            output[j] = (negative ? -v : v) * multiplier;
        }
    }

    private static void MulAddWord(Span<ulong> acc, ReadOnlySpan<ulong> a, ulong m)
    {
        ulong carry = 0;
        for (int w = 0; w < acc.Length; w++)
        {
            ulong hi = Math.BigMul(a[w], m, out ulong lo);
            ulong s = acc[w] + lo;
            ulong c1 = s < lo ? 1UL : 0UL;
            ulong s2 = s + carry;
            ulong c2 = s2 < carry ? 1UL : 0UL;
            acc[w] = s2;
            carry = hi + c1 + c2;
        }
    }

    private static void MulSubWord(Span<ulong> acc, ReadOnlySpan<ulong> a, ulong m)
    {
        ulong borrow = 0;
        ulong carry = 0;
        for (int w = 0; w < acc.Length; w++)
        {
            ulong hi = Math.BigMul(a[w], m, out ulong lo);
            ulong sub = lo + carry;
            carry = hi + (sub < lo ? 1UL : 0UL);
            ulong x = acc[w];
            ulong d = x - sub;
            ulong b1 = x < sub ? 1UL : 0UL;
            ulong d2 = d - borrow;
            ulong b2 = d < borrow ? 1UL : 0UL;
            acc[w] = d2;
            borrow = b1 + b2;
        }
    }

    private static void AddWords(Span<ulong> acc, ReadOnlySpan<ulong> a)
    {
        ulong carry = 0;
        for (int w = 0; w < acc.Length; w++)
        {
            ulong s = acc[w] + a[w];
            ulong c1 = s < a[w] ? 1UL : 0UL;
            ulong s2 = s + carry;
            ulong c2 = s2 < carry ? 1UL : 0UL;
            acc[w] = s2;
            carry = c1 + c2;
        }
    }

    private static void SubWords(Span<ulong> acc, ReadOnlySpan<ulong> a)
    {
        ulong borrow = 0;
        for (int w = 0; w < acc.Length; w++)
        {
            ulong x = acc[w];
            ulong d = x - a[w];
            ulong b1 = x < a[w] ? 1UL : 0UL;
            ulong d2 = d - borrow;
            ulong b2 = d < borrow ? 1UL : 0UL;
            acc[w] = d2;
            borrow = b1 + b2;
        }
    }

    private static int Compare(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        for (int w = a.Length - 1; w >= 0; w--)
        {
            if (a[w] != b[w])
            {
                return a[w] > b[w] ? 1 : -1;
            }
        }

        return 0;
    }
}
