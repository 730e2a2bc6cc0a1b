using System.Numerics;
using System.Runtime.CompilerServices;

namespace PrivateHealth.Homomorphic.Ring;

/// <summary>
/// Precomputed tables for the negacyclic number-theoretic transform over Z_q[X]/(X^N+1).
/// <para>
/// Convention (pinned, part of the parameter hash): ψ is the smallest primitive 2N-th root of unity
/// modulo q; the forward transform evaluates at the odd powers of ψ and writes its output in
/// bit-reversed order, <c>â[i] = a(ψ^(2·brv(i)+1))</c>. Forward = Cooley–Tukey with Harvey's lazy
/// butterflies (values kept in [0, 4q) between stages), inverse = Gentleman–Sande (values in [0, 2q)),
/// with N^-1 folded into the last stage. Both return fully reduced values in [0, q).
/// </para>
/// </summary>
public sealed class NttTables
{
    private readonly ulong[] _psiRev;      // ψ^brv(k)
    private readonly ulong[] _psiRevShoup;
    private readonly ulong[] _psiInvRev;   // ψ^-brv(k)
    private readonly ulong[] _psiInvRevShoup;
    private readonly ulong _nInv;
    private readonly ulong _nInvShoup;
    private readonly ulong _lastInvW;      // ψ^-brv(1)·N^-1
    private readonly ulong _lastInvWShoup;

    public Modulus Modulus { get; }
    public int N { get; }
    public int LogN { get; }
    /// <summary>The primitive 2N-th root of unity ψ used by this table.</summary>
    public ulong Psi { get; }

    public NttTables(Modulus modulus, int n) : this(modulus, n, Primes.MinimalPrimitiveRoot(modulus.Value, n))
    {
    }

    /// <summary>Builds tables for an explicit primitive 2N-th root ψ (used by known-answer tests).</summary>
    public NttTables(Modulus modulus, int n, ulong psi)
    {
        if (n < 2 || !BitOperations.IsPow2(n))
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "N must be a power of two ≥ 2.");
        }

        if (modulus.Pow(psi, (ulong)n) != modulus.Value - 1)
        {
            throw new ArgumentException($"ψ = {psi} is not a primitive {2 * n}-th root of unity modulo {modulus.Value}.");
        }

        Modulus = modulus;
        N = n;
        LogN = BitOperations.Log2((uint)n);
        Psi = psi;
        ulong psiInv = modulus.Inverse(psi);
        _psiRev = new ulong[n];
        _psiRevShoup = new ulong[n];
        _psiInvRev = new ulong[n];
        _psiInvRevShoup = new ulong[n];
        ulong pw = 1;
        ulong pwInv = 1;
        for (int k = 0; k < n; k++)
        {
            int r = BitReverse(k, LogN);
            _psiRev[r] = pw;
            _psiInvRev[r] = pwInv;
            pw = modulus.Multiply(pw, psi);
            pwInv = modulus.Multiply(pwInv, psiInv);
        }

        for (int k = 0; k < n; k++)
        {
            _psiRevShoup[k] = modulus.ShoupPrecompute(_psiRev[k]);
            _psiInvRevShoup[k] = modulus.ShoupPrecompute(_psiInvRev[k]);
        }

        _nInv = modulus.Inverse((ulong)n);
        _nInvShoup = modulus.ShoupPrecompute(_nInv);
        _lastInvW = modulus.Multiply(_psiInvRev[1], _nInv);
        _lastInvWShoup = modulus.ShoupPrecompute(_lastInvW);
    }

    public static int BitReverse(int x, int bits) => bits == 0 ? 0 : (int)(BitReverse32((uint)x) >> (32 - bits));

    private static uint BitReverse32(uint x)
    {
        x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
        x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
        x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
        x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
        return (x >> 16) | (x << 16);
    }

    /// <summary>In-place forward negacyclic NTT. Input in [0, q) (any value &lt; 4q is accepted); output in [0, q).</summary>
    [SkipLocalsInit]
    public unsafe void Forward(Span<ulong> values)
    {
        if (values.Length != N)
        {
            throw new ArgumentException($"Expected {N} coefficients, got {values.Length}.", nameof(values));
        }

        ulong q = Modulus.Value;
        ulong twoQ = q << 1;
        fixed (ulong* a = values)
        fixed (ulong* w = _psiRev)
        fixed (ulong* ws = _psiRevShoup)
        {
            int t = N;
            for (int m = 1; m < N; m <<= 1)
            {
                t >>= 1;
                if (t >= 4)
                {
                    for (int i = 0; i < m; i++)
                    {
                        ulong W = w[m + i];
                        ulong Ws = ws[m + i];
                        ulong* x = a + (2 * i * t);
                        ulong* y = x + t;
                        for (int j = 0; j < t; j += 4)
                        {
                            Butterfly(x + j, y + j, W, Ws, q, twoQ);
                            Butterfly(x + j + 1, y + j + 1, W, Ws, q, twoQ);
                            Butterfly(x + j + 2, y + j + 2, W, Ws, q, twoQ);
                            Butterfly(x + j + 3, y + j + 3, W, Ws, q, twoQ);
                        }
                    }
                }
                else
                {
                    for (int i = 0; i < m; i++)
                    {
                        ulong W = w[m + i];
                        ulong Ws = ws[m + i];
                        ulong* x = a + (2 * i * t);
                        ulong* y = x + t;
                        for (int j = 0; j < t; j++)
                        {
                            Butterfly(x + j, y + j, W, Ws, q, twoQ);
                        }
                    }
                }
            }

            // [0, 4q) -> [0, q)
            for (int i = 0; i < N; i++)
            {
                ulong v = a[i];
                v -= twoQ & (ulong)-(long)(v >= twoQ ? 1 : 0);
                v -= q & (ulong)-(long)(v >= q ? 1 : 0);
                a[i] = v;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Butterfly(ulong* px, ulong* py, ulong w, ulong ws, ulong q, ulong twoQ)
    {
        ulong x = *px;
        x -= twoQ & (ulong)-(long)(x >= twoQ ? 1 : 0);
        ulong y = *py;
        ulong qhat = Math.BigMul(y, ws, out _);
        ulong v = (w * y) - (qhat * q);
        *px = x + v;
        *py = x - v + twoQ;
    }

    /// <summary>In-place inverse negacyclic NTT. Input in [0, 2q); output in [0, q).</summary>
    [SkipLocalsInit]
    public unsafe void Inverse(Span<ulong> values)
    {
        if (values.Length != N)
        {
            throw new ArgumentException($"Expected {N} coefficients, got {values.Length}.", nameof(values));
        }

        ulong q = Modulus.Value;
        ulong twoQ = q << 1;
        fixed (ulong* a = values)
        fixed (ulong* w = _psiInvRev)
        fixed (ulong* ws = _psiInvRevShoup)
        {
            int t = 1;
            for (int m = N; m > 2; m >>= 1)
            {
                int h = m >> 1;
                ulong* block = a;
                if (t >= 4)
                {
                    for (int i = 0; i < h; i++)
                    {
                        ulong W = w[h + i];
                        ulong Ws = ws[h + i];
                        ulong* x = block;
                        ulong* y = block + t;
                        for (int j = 0; j < t; j += 4)
                        {
                            InverseButterfly(x + j, y + j, W, Ws, q, twoQ);
                            InverseButterfly(x + j + 1, y + j + 1, W, Ws, q, twoQ);
                            InverseButterfly(x + j + 2, y + j + 2, W, Ws, q, twoQ);
                            InverseButterfly(x + j + 3, y + j + 3, W, Ws, q, twoQ);
                        }

                        block += 2 * t;
                    }
                }
                else
                {
                    for (int i = 0; i < h; i++)
                    {
                        ulong W = w[h + i];
                        ulong Ws = ws[h + i];
                        ulong* x = block;
                        ulong* y = block + t;
                        for (int j = 0; j < t; j++)
                        {
                            InverseButterfly(x + j, y + j, W, Ws, q, twoQ);
                        }

                        block += 2 * t;
                    }
                }

                t <<= 1;
            }

            // last stage with N^-1 folded in: x' = (u+v)·N^-1, y' = (u−v)·ψ^-brv(1)·N^-1
            ulong nInv = _nInv, nInvS = _nInvShoup, lw = _lastInvW, lws = _lastInvWShoup;
            int half = N >> 1;
            for (int j = 0; j < half; j++)
            {
                ulong u = a[j];
                ulong v = a[j + half];
                ulong sum = u + v;
                sum -= twoQ & (ulong)-(long)(sum >= twoQ ? 1 : 0);
                ulong diff = u - v + twoQ;
                ulong r0 = (nInv * sum) - (Math.BigMul(sum, nInvS, out _) * q);
                ulong r1 = (lw * diff) - (Math.BigMul(diff, lws, out _) * q);
                r0 -= q & (ulong)-(long)(r0 >= q ? 1 : 0);
                r1 -= q & (ulong)-(long)(r1 >= q ? 1 : 0);
                a[j] = r0;
                a[j + half] = r1;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void InverseButterfly(ulong* px, ulong* py, ulong w, ulong ws, ulong q, ulong twoQ)
    {
        ulong u = *px;
        ulong v = *py;
        ulong sum = u + v;
        sum -= twoQ & (ulong)-(long)(sum >= twoQ ? 1 : 0);
        ulong diff = u - v + twoQ;
        ulong qhat = Math.BigMul(diff, ws, out _);
        *px = sum;
        *py = (w * diff) - (qhat * q);
    }
}
