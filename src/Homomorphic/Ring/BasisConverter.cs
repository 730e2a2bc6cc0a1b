namespace PrivateHealth.Homomorphic.Ring;

/// <summary>
/// Fast (approximate) RNS basis conversion Conv_{B→C} (Bajard–Eynard–Hasan–Zucca, ePrint 2016/510):
/// for x given by its residues modulo the primes of B, returns x + v·|B| modulo each prime of C with
/// 0 ≤ v &lt; |B| (the number of primes of B). Exact when B has one prime. Inputs in coefficient form.
/// </summary>
public sealed class BasisConverter
{
    private readonly Modulus[] _from;
    private readonly Modulus[] _to;
    private readonly ulong[] _hatInv;       // [(B/b_i)^-1]_{b_i}
    private readonly ulong[] _hatInvShoup;
    private readonly ulong[] _hatModTo;     // [(B/b_i)]_{c_t}, index t·|B| + i
    private readonly double[] _invFrom;     // 1/b_i
    private readonly ulong[] _bMultiplesTo; // [v·B]_{c_t} for v ∈ [0, |B|], index t·(|B|+1) + v

    public IReadOnlyList<Modulus> From => _from;
    public IReadOnlyList<Modulus> To => _to;

    public BasisConverter(IReadOnlyList<Modulus> from, IReadOnlyList<Modulus> to)
    {
        _from = [.. from];
        _to = [.. to];
        int nb = _from.Length;
        _hatInv = new ulong[nb];
        _hatInvShoup = new ulong[nb];
        _hatModTo = new ulong[_to.Length * nb];
        _invFrom = [.. _from.Select(m => 1.0 / m.Value)];
        _bMultiplesTo = new ulong[_to.Length * (nb + 1)];
        for (int t = 0; t < _to.Length; t++)
        {
            ulong bt = 1;
            foreach (var m in _from)
            {
                bt = _to[t].Multiply(bt, _to[t].Reduce(m.Value));
            }

            for (int v = 0; v <= nb; v++)
            {
                _bMultiplesTo[(t * (nb + 1)) + v] = _to[t].Multiply(bt, (ulong)v % _to[t].Value);
            }
        }
        for (int i = 0; i < nb; i++)
        {
            ulong hatModBi = 1;
            for (int k = 0; k < nb; k++)
            {
                if (k != i)
                {
                    hatModBi = _from[i].Multiply(hatModBi, _from[i].Reduce(_from[k].Value));
                }
            }

            _hatInv[i] = _from[i].Inverse(hatModBi);
            _hatInvShoup[i] = _from[i].ShoupPrecompute(_hatInv[i]);
            for (int t = 0; t < _to.Length; t++)
            {
                ulong h = 1;
                for (int k = 0; k < nb; k++)
                {
                    if (k != i)
                    {
                        h = _to[t].Multiply(h, _to[t].Reduce(_from[k].Value));
                    }
                }

                _hatModTo[(t * nb) + i] = h;
            }
        }
    }

    /// <summary>y_i = [x_i·(B/b_i)^-1]_{b_i} for every source limb.</summary>
    private unsafe void ScaleByHatInverse(ulong* input, ulong* y, int n)
    {
        for (int i = 0; i < _from.Length; i++)
        {
            ulong q = _from[i].Value, w = _hatInv[i], ws = _hatInvShoup[i];
            ulong* src = input + (i * n);
            ulong* dst = y + (i * n);
            for (int j = 0; j < n; j++)
            {
                ulong x = src[j];
                ulong v = (w * x) - (Math.BigMul(x, ws, out _) * q);
                dst[j] = RingOps.SubtractIfGreaterOrEqual(v, q);
            }
        }
    }

    /// <summary>
    /// Exact conversion of the centered representative: output = [x]_B ∈ [−B/2, B/2) modulo each prime of C.
    /// The overshoot v = round(Σ_i y_i / b_i) is computed in floating point (Halevi–Polyakov–Shoup) and
    /// subtracted; it can be off only when x is within ~2^−50·B of ±B/2. Dividing by B after this conversion
    /// rounds to nearest, with no systematic error: the fast conversion's overshoot v ∈ [0, |B|) is not centered,
    /// and after ModDown it multiplies the secret (≈ 1.2 bits of extra noise at |B| = 2).
    /// </summary>
    public unsafe void ConvertCentered(ReadOnlySpan<ulong> input, Span<ulong> output, Span<ulong> scratch, int n)
    {
        int nb = _from.Length;
        if (input.Length < nb * n || output.Length < _to.Length * n || scratch.Length < nb * n)
        {
            throw new ArgumentException("Basis conversion buffers are too small.");
        }

        if (nb == 1)
        {
            // single prime b: the centered representative is x when x ≤ b/2, else x − b
            ulong b = _from[0].Value, half = b >> 1;
            fixed (ulong* pin1 = input, pout1 = output)
            {
                for (int t = 0; t < _to.Length; t++)
                {
                    var mod = _to[t];
                    ulong qt = mod.Value, muHi = mod.BarrettHi, bModT = _bMultiplesTo[(t * 2) + 1];
                    ulong* dst = pout1 + (t * n);
                    for (int j = 0; j < n; j++)
                    {
                        ulong x = pin1[j];
                        ulong r = x - (Math.BigMul(x, muHi, out _) * qt);
                        r = RingOps.SubtractIfGreaterOrEqual(r, qt);
                        ulong shift = x > half ? bModT : 0;
                        ulong d = r + qt - shift;
                        dst[j] = RingOps.SubtractIfGreaterOrEqual(d, qt);
                    }
                }
            }

            return;
        }

        fixed (ulong* pin = input, py = scratch, pout = output)
        fixed (double* inv = _invFrom)
        fixed (ulong* bMul = _bMultiplesTo)
        {
            ScaleByHatInverse(pin, py, n);

            for (int t = 0; t < _to.Length; t++)
            {
                var mod = _to[t];
                ulong qt = mod.Value, muHi = mod.BarrettHi, muLo = mod.BarrettLo;
                ulong* dst = pout + (t * n);
                ulong* multiples = bMul + (t * (nb + 1));
                fixed (ulong* hat = &_hatModTo[t * nb])
                {
                    for (int j = 0; j < n; j++)
                    {
                        ulong accHi = 0, accLo = 0;
                        double frac = 0;
                        for (int i = 0; i < nb; i++)
                        {
                            ulong y = py[(i * n) + j];
                            frac += y * inv[i];
                            ulong hi = Math.BigMul(y, hat[i], out ulong lo);
                            accLo += lo;
                            accHi += hi + (accLo < lo ? 1UL : 0UL);
                        }

                        int v = (int)(frac + 0.5);
                        ulong r = RingOps.Barrett(accHi, accLo, qt, muHi, muLo);
                        ulong s = r + qt - multiples[v];
                        dst[j] = RingOps.SubtractIfGreaterOrEqual(s, qt);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Converts <paramref name="input"/> (|B| limbs of n coefficients, limb-major) into
    /// <paramref name="output"/> (|C| limbs). <paramref name="scratch"/> must hold |B|·n words.
    /// </summary>
    public unsafe void Convert(ReadOnlySpan<ulong> input, Span<ulong> output, Span<ulong> scratch, int n)
    {
        int nb = _from.Length;
        if (input.Length < nb * n || output.Length < _to.Length * n || scratch.Length < nb * n)
        {
            throw new ArgumentException("Basis conversion buffers are too small.");
        }

        if (nb == 1)
        {
            for (int t = 0; t < _to.Length; t++)
            {
                RingOps.Reduce(input[..n], output.Slice(t * n, n), _to[t]);
            }

            return;
        }

        fixed (ulong* pin = input, py = scratch, pout = output)
        {
            ScaleByHatInverse(pin, py, n);

            for (int t = 0; t < _to.Length; t++)
            {
                var mod = _to[t];
                ulong qt = mod.Value, muHi = mod.BarrettHi, muLo = mod.BarrettLo;
                ulong* dst = pout + (t * n);
                fixed (ulong* hat = &_hatModTo[t * nb])
                {
                    for (int j = 0; j < n; j++)
                    {
                        ulong accHi = 0, accLo = 0;
                        for (int i = 0; i < nb; i++)
                        {
                            ulong hi = Math.BigMul(py[(i * n) + j], hat[i], out ulong lo);
                            accLo += lo;
                            accHi += hi + (accLo < lo ? 1UL : 0UL);
                        }

                        dst[j] = RingOps.Barrett(accHi, accLo, qt, muHi, muLo);
                    }
                }
            }
        }
    }
}
