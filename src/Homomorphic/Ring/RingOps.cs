using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PrivateHealth.Homomorphic.Ring;

/// <summary>
/// Element-wise arithmetic on residue vectors modulo one prime. Inputs must be in [0, q) and outputs are
/// in [0, q). Additions use SIMD (min(x, x−q) trick, valid since 2q &lt; 2^62); products are scalar
/// (x86 has no 64×64→128 vector multiply).
/// </summary>
public static class RingOps
{
    public static unsafe void Add(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> r, ulong q)
    {
        int n = r.Length;
        CheckLengths(a.Length, b.Length, n);
        fixed (ulong* pa = a, pb = b, pr = r)
        {
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var vq = Vector512.Create(q);
                for (; i + 8 <= n; i += 8)
                {
                    var s = Vector512.Load(pa + i) + Vector512.Load(pb + i);
                    Vector512.Min(s, s - vq).Store(pr + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var vq = Vector256.Create(q);
                for (; i + 4 <= n; i += 4)
                {
                    var s = Vector256.Load(pa + i) + Vector256.Load(pb + i);
                    Vector256.Min(s, s - vq).Store(pr + i);
                }
            }

            for (; i < n; i++)
            {
                ulong s = pa[i] + pb[i];
                pr[i] = SubtractIfGreaterOrEqual(s, q);
            }
        }
    }

    public static unsafe void Sub(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> r, ulong q)
    {
        int n = r.Length;
        CheckLengths(a.Length, b.Length, n);
        fixed (ulong* pa = a, pb = b, pr = r)
        {
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var vq = Vector512.Create(q);
                for (; i + 8 <= n; i += 8)
                {
                    var s = Vector512.Load(pa + i) + vq - Vector512.Load(pb + i);
                    Vector512.Min(s, s - vq).Store(pr + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var vq = Vector256.Create(q);
                for (; i + 4 <= n; i += 4)
                {
                    var s = Vector256.Load(pa + i) + vq - Vector256.Load(pb + i);
                    Vector256.Min(s, s - vq).Store(pr + i);
                }
            }

            for (; i < n; i++)
            {
                ulong s = pa[i] + q - pb[i];
                pr[i] = SubtractIfGreaterOrEqual(s, q);
            }
        }
    }

    public static unsafe void Negate(ReadOnlySpan<ulong> a, Span<ulong> r, ulong q)
    {
        int n = r.Length;
        CheckLengths(a.Length, n, n);
        fixed (ulong* pa = a, pr = r)
        {
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var vq = Vector512.Create(q);
                for (; i + 8 <= n; i += 8)
                {
                    var s = vq - Vector512.Load(pa + i);
                    Vector512.Min(s, s - vq).Store(pr + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var vq = Vector256.Create(q);
                for (; i + 4 <= n; i += 4)
                {
                    var s = vq - Vector256.Load(pa + i);
                    Vector256.Min(s, s - vq).Store(pr + i);
                }
            }

            for (; i < n; i++)
            {
                ulong s = q - pa[i];
                pr[i] = SubtractIfGreaterOrEqual(s, q);
            }
        }
    }

    /// <summary>r = a·b mod q for a, b in [0, q) (Barrett on the product, <see cref="MultiplyReduced"/>).</summary>
    public static unsafe void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> r, in Modulus mod)
    {
        int n = r.Length;
        CheckLengths(a.Length, b.Length, n);
        ulong q = mod.Value, mu = mod.ProductBarrett;
        int k = mod.BitCount;
        fixed (ulong* pa = a, pb = b, pr = r)
        {
            for (int i = 0; i < n; i++)
            {
                pr[i] = MultiplyReduced(pa[i], pb[i], q, mu, k);
            }
        }
    }

    /// <summary>r = r + a·b mod q for a, b, r in [0, q).</summary>
    public static unsafe void MultiplyAdd(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> r, in Modulus mod)
    {
        int n = r.Length;
        CheckLengths(a.Length, b.Length, n);
        ulong q = mod.Value, mu = mod.ProductBarrett;
        int k = mod.BitCount;
        fixed (ulong* pa = a, pb = b, pr = r)
        {
            for (int i = 0; i < n; i++)
            {
                ulong s = MultiplyReduced(pa[i], pb[i], q, mu, k) + pr[i];
                pr[i] = SubtractIfGreaterOrEqual(s, q);
            }
        }
    }

    /// <summary>
    /// a·b mod q for a·b &lt; 2^(2k), k the bit length of q (so for any a, b in [0, q)): Barrett reduction with
    /// base 2 (HAC 14.42). With x = a·b, q1 = ⌊x / 2^(k−1)⌋ &lt; 2^(k+1) and μ = ⌊2^(2k)/q⌋ &lt; 2^(k+1), the estimate
    /// ⌊q1·μ / 2^(k+1)⌋ is at most 2 below ⌊x/q⌋. Two 64×64→128 products and one low product, against four and
    /// two for the general 128-bit <see cref="Barrett"/>, which stays for sums of products (key switching).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong MultiplyReduced(ulong a, ulong b, ulong q, ulong mu, int k)
    {
        ulong hi = Math.BigMul(a, b, out ulong lo);
        ulong q1 = (hi << (65 - k)) | (lo >> (k - 1)); // 2 <= k <= 61 keeps both shift counts in [1, 63]
        ulong h = Math.BigMul(q1, mu, out ulong l);
        ulong estimate = (h << (63 - k)) | (l >> (k + 1));
        ulong r = lo - (estimate * q);
        return SubtractIfGreaterOrEqual(SubtractIfGreaterOrEqual(r, q), q);
    }

    /// <summary>r = a·w mod q for a scalar w &lt; q (Shoup).</summary>
    public static unsafe void MultiplyScalar(ReadOnlySpan<ulong> a, ulong w, Span<ulong> r, in Modulus mod)
    {
        int n = r.Length;
        CheckLengths(a.Length, n, n);
        ulong q = mod.Value;
        ulong ws = mod.ShoupPrecompute(w);
        fixed (ulong* pa = a, pr = r)
        {
            for (int i = 0; i < n; i++)
            {
                ulong x = pa[i];
                ulong v = (w * x) - (Math.BigMul(x, ws, out _) * q);
                pr[i] = SubtractIfGreaterOrEqual(v, q);
            }
        }
    }

    /// <summary>r = r + a·w mod q for a scalar w &lt; q (Shoup).</summary>
    public static unsafe void MultiplyScalarAdd(ReadOnlySpan<ulong> a, ulong w, Span<ulong> r, in Modulus mod)
    {
        int n = r.Length;
        CheckLengths(a.Length, n, n);
        ulong q = mod.Value;
        ulong ws = mod.ShoupPrecompute(w);
        fixed (ulong* pa = a, pr = r)
        {
            for (int i = 0; i < n; i++)
            {
                ulong x = pa[i];
                ulong v = (w * x) - (Math.BigMul(x, ws, out _) * q);
                v = SubtractIfGreaterOrEqual(v, q);
                ulong s = v + pr[i];
                pr[i] = SubtractIfGreaterOrEqual(s, q);
            }
        }
    }

    /// <summary>r = a + c mod q for a scalar c &lt; q.</summary>
    public static unsafe void AddScalar(ReadOnlySpan<ulong> a, ulong c, Span<ulong> r, ulong q)
    {
        int n = r.Length;
        CheckLengths(a.Length, n, n);
        fixed (ulong* pa = a, pr = r)
        {
            for (int i = 0; i < n; i++)
            {
                ulong s = pa[i] + c;
                pr[i] = SubtractIfGreaterOrEqual(s, q);
            }
        }
    }

    /// <summary>
    /// Lazy 128-bit accumulation: (hi, lo) += a·b without reduction. Safe for up to 2^(128 − 2·bits)
    /// accumulated products (256 products of 60-bit residues).
    /// </summary>
    public static unsafe void MultiplyAccumulate128(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> accHi, Span<ulong> accLo)
    {
        int n = a.Length;
        CheckLengths(b.Length, accHi.Length, n);
        CheckLengths(accLo.Length, n, n);
        fixed (ulong* pa = a, pb = b, ph = accHi, pl = accLo)
        {
            for (int i = 0; i < n; i++)
            {
                ulong hi = Math.BigMul(pa[i], pb[i], out ulong lo);
                ulong nl = pl[i] + lo;
                ph[i] += hi + (nl < lo ? 1UL : 0UL);
                pl[i] = nl;
            }
        }
    }

    /// <summary>
    /// Two <see cref="MultiplyAccumulate128"/> with one shared operand, in one pass: (hi0, lo0) += a·b0 and
    /// (hi1, lo1) += a·b1 (key switching multiplies each digit by both halves of the key). The shared operand
    /// is read once and the loop overhead paid once.
    /// </summary>
    public static unsafe void MultiplyAccumulate128Pair(
        ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b0, ReadOnlySpan<ulong> b1, Span<ulong> accHi0, Span<ulong> accLo0, Span<ulong> accHi1, Span<ulong> accLo1)
    {
        int n = a.Length;
        CheckLengths(b0.Length, b1.Length, n);
        CheckLengths(accHi0.Length, accLo0.Length, n);
        CheckLengths(accHi1.Length, accLo1.Length, n);
        fixed (ulong* pa = a, pb0 = b0, pb1 = b1, ph0 = accHi0, pl0 = accLo0, ph1 = accHi1, pl1 = accLo1)
        {
            for (int i = 0; i < n; i++)
            {
                ulong x = pa[i];
                ulong hi = Math.BigMul(x, pb0[i], out ulong lo);
                ulong nl = pl0[i] + lo;
                ph0[i] += hi + (nl < lo ? 1UL : 0UL);
                pl0[i] = nl;
                hi = Math.BigMul(x, pb1[i], out lo);
                nl = pl1[i] + lo;
                ph1[i] += hi + (nl < lo ? 1UL : 0UL);
                pl1[i] = nl;
            }
        }
    }

    /// <summary>r = (hi, lo) mod q, for any 128-bit accumulator value.</summary>
    public static unsafe void Reduce128(ReadOnlySpan<ulong> accHi, ReadOnlySpan<ulong> accLo, Span<ulong> r, in Modulus mod)
    {
        int n = r.Length;
        CheckLengths(accHi.Length, accLo.Length, n);
        ulong q = mod.Value, muHi = mod.BarrettHi, muLo = mod.BarrettLo;
        fixed (ulong* ph = accHi, pl = accLo, pr = r)
        {
            for (int i = 0; i < n; i++)
            {
                pr[i] = Barrett(ph[i], pl[i], q, muHi, muLo);
            }
        }
    }

    /// <summary>Reduces each value of <paramref name="a"/> (any 64-bit value) modulo q.</summary>
    public static unsafe void Reduce(ReadOnlySpan<ulong> a, Span<ulong> r, in Modulus mod)
    {
        int n = r.Length;
        CheckLengths(a.Length, n, n);
        ulong q = mod.Value, muHi = mod.BarrettHi;
        fixed (ulong* pa = a, pr = r)
        {
            for (int i = 0; i < n; i++)
            {
                ulong x = pa[i];
                ulong v = x - (Math.BigMul(x, muHi, out _) * q);
                pr[i] = SubtractIfGreaterOrEqual(v, q);
            }
        }
    }

    /// <summary>x − q if x ≥ q, else x; branch-free (valid for x &lt; 2q &lt; 2^63).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SubtractIfGreaterOrEqual(ulong x, ulong q)
    {
        ulong d = x - q;
        return d + (q & (ulong)((long)d >> 63));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Barrett(ulong hi, ulong lo, ulong q, ulong muHi, ulong muLo)
    {
        ulong carry = Math.BigMul(lo, muLo, out _);
        ulong t2Hi = Math.BigMul(lo, muHi, out ulong t2Lo);
        ulong tmp1 = t2Lo + carry;
        ulong tmp3 = t2Hi + (tmp1 < t2Lo ? 1UL : 0UL);
        t2Hi = Math.BigMul(hi, muLo, out t2Lo);
        tmp1 += t2Lo;
        carry = t2Hi + (tmp1 < t2Lo ? 1UL : 0UL);
        ulong quotient = (hi * muHi) + tmp3 + carry;
        // the quotient estimate is at most 2 below ⌊x/q⌋ for any 128-bit x, so r ∈ [0, 3q)
        ulong r = lo - (quotient * q);
        return SubtractIfGreaterOrEqual(SubtractIfGreaterOrEqual(r, q), q);
    }

    private static void CheckLengths(int a, int b, int r)
    {
        if (a != r || b != r)
        {
            throw new ArgumentException($"Length mismatch: {a}, {b}, {r}.");
        }
    }
}
