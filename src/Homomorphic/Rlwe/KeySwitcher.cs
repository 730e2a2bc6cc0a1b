using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Homomorphic.Rlwe;

/// <summary>
/// Hybrid key switching (Han–Ki, ePrint 2019/688), rescaling and automorphisms on NTT-form polynomials.
/// Owns scratch buffers sized for the top level, so steady-state calls do not allocate. Not thread-safe.
/// </summary>
public sealed class KeySwitcher
{
    private readonly RlweParameters _p;
    private readonly Poly _cCoeff;     // input in coefficient form, Q limbs
    private readonly Poly _ext;        // one digit extended to Q_ℓ ∪ P, NTT form
    private readonly ulong[] _accHi0, _accLo0, _accHi1, _accLo1;
    private readonly ulong[] _convOut;
    private readonly ulong[] _convScratch;
    private readonly Poly _pPart;
    private readonly ulong[] _tmp;

    public KeySwitcher(RlweParameters parameters)
    {
        _p = parameters;
        int n = parameters.N;
        int ext = parameters.QP.Count;
        _cCoeff = new Poly(n, parameters.Q.Count);
        _ext = new Poly(n, ext);
        _accHi0 = new ulong[ext * n];
        _accLo0 = new ulong[ext * n];
        _accHi1 = new ulong[ext * n];
        _accLo1 = new ulong[ext * n];
        _convOut = new ulong[ext * n];
        _convScratch = new ulong[Math.Max(parameters.DigitSize, parameters.P.Count) * n];
        _pPart = new Poly(n, parameters.P.Count);
        _tmp = new ulong[n];
    }

    public RlweParameters Parameters => _p;

    /// <summary>
    /// (d0, d1) with d0 + d1·s ≈ c·s' where the key switches s' → s. c is in NTT form over q_0…q_ℓ;
    /// d0 and d1 receive NTT-form results over q_0…q_ℓ. c may alias neither d0 nor d1.
    /// </summary>
    public void Switch(Poly c, int level, SwitchingKey key, Poly d0, Poly d1)
    {
        int n = _p.N;
        int kp = _p.P.Count;
        int ext = level + 1 + kp;
        var extSpan = ext * n;
        _accHi0.AsSpan(0, extSpan).Clear();
        _accLo0.AsSpan(0, extSpan).Clear();
        _accHi1.AsSpan(0, extSpan).Clear();
        _accLo1.AsSpan(0, extSpan).Clear();

        _cCoeff.Resize(level + 1);
        c.AsSpan(level + 1).CopyTo(_cCoeff.AsSpan());
        PolyMath.Intt(_cCoeff, _p.Q, level + 1);
        _ext.Resize(ext);

        int digits = _p.DigitCount(level);
        for (int d = 0; d < digits; d++)
        {
            var (start, count) = _p.DigitRange(d, level);
            // ModUp: digit limbs keep their NTT values, other limbs get the *centered* digit (exact conversion),
            // then are transformed. An uncentered digit in [0, Q_j) has mean Q_j/2, and Q_j/2·(1 + X + … + X^(N−1))
            // times the key error concentrates in the slots where ζ^(5^j) ≈ ±1: a fixed, key-dependent error.
            int others = ext - count;
            _p.ModUpConverter(level, d).ConvertCentered(_cCoeff.AsSpan(level + 1).Slice(start * n, count * n), _convOut.AsSpan(0, others * n), _convScratch, n);
            int o = 0;
            for (int k = 0; k < ext; k++)
            {
                var dst = _ext.Limb(k);
                if (k >= start && k < start + count)
                {
                    c.Limb(k).CopyTo(dst);
                }
                else
                {
                    _convOut.AsSpan(o * n, n).CopyTo(dst);
                    _p.QP.Ntt(PolyMath.ExtendedToKeyIndex(_p, level, k)).Forward(dst);
                    o++;
                }
            }

            for (int k = 0; k < ext; k++)
            {
                int keyIdx = PolyMath.ExtendedToKeyIndex(_p, level, k);
                var e = _ext.Limb(k);
                RingOps.MultiplyAccumulate128Pair(
                    e, key.B[d].Limb(keyIdx), key.A[d].Limb(keyIdx), _accHi0.AsSpan(k * n, n), _accLo0.AsSpan(k * n, n), _accHi1.AsSpan(k * n, n), _accLo1.AsSpan(k * n, n));
            }
        }

        // reduce the accumulators into _ext-shaped results, then divide by P
        ReduceAndModDown(_accHi0, _accLo0, level, d0);
        ReduceAndModDown(_accHi1, _accLo1, level, d1);
    }

    private void ReduceAndModDown(ulong[] accHi, ulong[] accLo, int level, Poly destination)
    {
        int n = _p.N;
        int kp = _p.P.Count;
        destination.Resize(level + 1);
        // P limbs: reduce, INTT, then the exact centered conversion to Q_ℓ (divide by P with rounding)
        for (int k = 0; k < kp; k++)
        {
            int off = (level + 1 + k) * n;
            var limb = _pPart.Limb(k);
            RingOps.Reduce128(accHi.AsSpan(off, n), accLo.AsSpan(off, n), limb, _p.P[k]);
            _p.P.Ntt(k).Inverse(limb);
        }

        var conv = _convOut.AsSpan(0, (level + 1) * n);
        _p.ModDownConverter(level).ConvertCentered(_pPart.AsSpan(), conv, _convScratch, n);
        var pInv = _p.PInvModQ(level);
        for (int i = 0; i <= level; i++)
        {
            var mod = _p.Q[i];
            var d = destination.Limb(i);
            var ci = conv.Slice(i * n, n);
            _p.Q.Ntt(i).Forward(ci);
            RingOps.Reduce128(accHi.AsSpan(i * n, n), accLo.AsSpan(i * n, n), d, mod);
            // d = (acc − [acc]_P) · P^-1
            RingOps.Sub(d, ci, d, mod.Value);
            RingOps.MultiplyScalar(d, pInv[i], d, mod);
        }
    }

    /// <summary>
    /// Divides an NTT-form polynomial at level ℓ by q_ℓ with rounding and drops its last limb:
    /// limb_i ← (limb_i − NTT_i([x + H]_{q_ℓ} − H)) · q_ℓ^-1 with H = ⌊q_ℓ/2⌋ added to every coefficient.
    /// </summary>
    public void DivideRoundByLastModulus(Poly poly, int level)
    {
        if (level < 1)
        {
            throw new InvalidOperationException("Cannot rescale a ciphertext at level 0: no prime left to drop.");
        }

        var last = poly.Limb(level);
        var qLast = _p.Q[level];
        _p.Q.Ntt(level).Inverse(last);
        ulong half = qLast.Value >> 1;
        RingOps.AddScalar(last, half, last, qLast.Value);
        var inv = _p.QLastInverse(level);
        for (int i = 0; i < level; i++)
        {
            // tmp = [x + H]_{q_ℓ} − H in coefficient form (H is added to every coefficient, so it cannot be
            // applied as a scalar in the NTT domain, where a scalar is the constant polynomial)
            var mod = _p.Q[i];
            RingOps.Reduce(last, _tmp, mod);
            RingOps.AddScalar(_tmp, mod.Negate(mod.Reduce(half)), _tmp, mod.Value);
            _p.Q.Ntt(i).Forward(_tmp);
            var limb = poly.Limb(i);
            RingOps.Sub(limb, _tmp, limb, mod.Value);
            RingOps.MultiplyScalar(limb, inv[i], limb, mod);
        }

        poly.Resize(level);
    }
}
