namespace PrivateHealth.Homomorphic.Ring;

/// <summary>
/// Reduces integer-valued doubles of any magnitude modulo word primes. Values below 2^62 in magnitude take
/// the direct path; larger ones are split as M·2^E (53-bit integer mantissa) and reduced as
/// (M mod q)·(2^E mod q), with a table of powers of two per modulus.
/// </summary>
public sealed class DoubleToRns
{
    private readonly Modulus[] _moduli;
    private readonly ulong[][] _pow2;   // 2^e mod q_i for e in [0, 1024)

    public DoubleToRns(IReadOnlyList<Modulus> moduli)
    {
        _moduli = [.. moduli];
        _pow2 = new ulong[_moduli.Length][];
        for (int i = 0; i < _moduli.Length; i++)
        {
            var t = new ulong[1024];
            ulong v = 1;
            for (int e = 0; e < t.Length; e++)
            {
                t[e] = v;
                v = _moduli[i].Add(v, v);
            }

            _pow2[i] = t;
        }
    }

    /// <summary>Residue of the integer-valued, finite double <paramref name="v"/> modulo prime i.</summary>
    public ulong Residue(double v, int i)
    {
        var mod = _moduli[i];
        if (Math.Abs(v) < 4611686018427387904.0)
        {
            return mod.FromSigned((long)v);
        }

        long bits = BitConverter.DoubleToInt64Bits(v);
        int exponent = (int)((bits >> 52) & 0x7FF);
        if (exponent == 0x7FF)
        {
            throw new ArgumentException("Cannot encode a non-finite value.");
        }

        ulong mantissa = ((ulong)bits & 0xF_FFFF_FFFF_FFFFUL) | (1UL << 52);
        int e = exponent - 1075; // v = ±mantissa·2^e, e ≥ 10 here
        ulong r = mod.Multiply(mod.Reduce(mantissa), _pow2[i][e]);
        return v < 0 ? mod.Negate(r) : r;
    }
}
