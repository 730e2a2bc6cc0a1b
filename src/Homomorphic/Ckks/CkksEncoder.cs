using System.Numerics;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Ckks;

/// <summary>
/// Encodes vectors of N/2 complex (or real) slots into plaintexts through the canonical embedding (special
/// FFT, rotation group 5^j; slot j is m(ζ^(5^j)) with ζ = e^(iπ/N)) and decodes them back.
/// Owns scratch buffers; not thread-safe.
/// </summary>
public sealed class CkksEncoder
{
    private readonly CkksParameters _p;
    private readonly int _n;           // ring degree
    private readonly int _slots;       // N/2
    private readonly int[] _rotGroup;  // 5^j mod 2N
    private readonly Complex[] _roots; // e^(2πik/2N), k ∈ [0, 2N]
    private readonly int[] _bitRev;
    private readonly Complex[] _w;
    private readonly double[] _coeffs;
    private readonly ulong[] _limbs;
    private readonly DoubleToRns _toRns;
    private readonly CrtComposer[] _composers;
    private readonly double[] _maxCoefficient; // per level: Q_ℓ/2, the largest encodable |Δ·coefficient|

    public CkksEncoder(CkksParameters parameters)
    {
        _p = parameters;
        _n = parameters.N;
        _slots = _n / 2;
        int m = 2 * _n;
        _rotGroup = new int[_slots];
        int g = 1;
        for (int j = 0; j < _slots; j++)
        {
            _rotGroup[j] = g;
            g = (int)(g * 5L % m);
        }

        _roots = new Complex[m + 1];
        for (int k = 0; k <= m; k++)
        {
            double angle = 2 * Math.PI * k / m;
            _roots[k] = new Complex(Math.Cos(angle), Math.Sin(angle));
        }

        int logSlots = BitOperations.Log2((uint)_slots);
        _bitRev = new int[_slots];
        for (int i = 0; i < _slots; i++)
        {
            _bitRev[i] = NttTables.BitReverse(i, logSlots);
        }

        _w = new Complex[_slots];
        _coeffs = new double[_n];
        _limbs = new ulong[parameters.Rlwe.Q.Count * _n];
        _toRns = new DoubleToRns(parameters.Rlwe.Q.Moduli);
        _maxCoefficient = new double[parameters.Rlwe.Q.Count];
        for (int l = 0; l < _maxCoefficient.Length; l++)
        {
            _maxCoefficient[l] = Math.Pow(2, parameters.Rlwe.Q.Moduli.Take(l + 1).Sum(mm => Math.Log2(mm.Value)) - 1);
        }

        _composers = new CrtComposer[parameters.Rlwe.Q.Count];
        for (int l = 0; l < _composers.Length; l++)
        {
            _composers[l] = new CrtComposer([.. parameters.Rlwe.Q.Moduli.Take(l + 1)]);
        }
    }

    public CkksParameters Parameters => _p;

    /// <summary>Encodes up to N/2 complex values (zero-padded) at the given level and scale.</summary>
    public Plaintext Encode(ReadOnlySpan<Complex> values, int level, double scale)
    {
        var pt = new Plaintext(_p.Rlwe, level, scale);
        Encode(values, pt);
        return pt;
    }

    /// <summary>Encodes up to N/2 real values (zero-padded) at the given level and scale.</summary>
    public Plaintext Encode(ReadOnlySpan<double> values, int level, double scale)
    {
        var pt = new Plaintext(_p.Rlwe, level, scale);
        Encode(values, pt);
        return pt;
    }

    /// <summary>Encodes at the top level and the default scale.</summary>
    public Plaintext Encode(ReadOnlySpan<double> values) => Encode(values, _p.MaxLevel, _p.DefaultScale);

    /// <summary>Encodes at the top level and the default scale.</summary>
    public Plaintext Encode(ReadOnlySpan<Complex> values) => Encode(values, _p.MaxLevel, _p.DefaultScale);

    /// <summary>Encodes into <paramref name="destination"/>, keeping its level and scale.</summary>
    public void Encode(ReadOnlySpan<Complex> values, Plaintext destination)
    {
        CheckCount(values.Length);
        values.CopyTo(_w);
        _w.AsSpan(values.Length).Clear();
        EncodeSlots(destination);
    }

    /// <summary>Encodes real values into <paramref name="destination"/>, keeping its level and scale.</summary>
    public void Encode(ReadOnlySpan<double> values, Plaintext destination)
    {
        CheckCount(values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            _w[i] = new Complex(values[i], 0);
        }

        _w.AsSpan(values.Length).Clear();
        EncodeSlots(destination);
    }

    private void CheckCount(int count)
    {
        if (count > _slots)
        {
            throw new ArgumentException($"At most {_slots} values fit in one plaintext; got {count}.");
        }
    }

    private void EncodeSlots(Plaintext destination)
    {
        if (destination.ParametersId != _p.Id)
        {
            throw new ArgumentException("The plaintext belongs to other parameters.", nameof(destination));
        }

        double scale = destination.Scale;
        if (!double.IsFinite(scale) || scale < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(destination), scale, "The plaintext scale must be finite and ≥ 1.");
        }

        InverseSpecialFft(_w);
        int level = destination.Level;
        double maxAllowed = _maxCoefficient[level]; // |Δ·coefficient| must stay below Q_ℓ/2
        for (int k = 0; k < _slots; k++)
        {
            double re = Math.Round(_w[k].Real * scale);
            double im = Math.Round(_w[k].Imaginary * scale);
            if (!double.IsFinite(re) || !double.IsFinite(im))
            {
                throw new ArgumentException("Values must be finite (no NaN or infinity).");
            }

            if (Math.Abs(re) >= maxAllowed || Math.Abs(im) >= maxAllowed)
            {
                throw new ArgumentException($"Values times the scale 2^{Math.Log2(scale):0.#} exceed the modulus at level {level}; lower the scale or the values.");
            }

            _coeffs[k] = re;
            _coeffs[k + _slots] = im;
        }

        for (int i = 0; i <= level; i++)
        {
            var limb = destination.Value.Limb(i);
            for (int j = 0; j < _n; j++)
            {
                limb[j] = _toRns.Residue(_coeffs[j], i);
            }

            _p.Rlwe.Q.Ntt(i).Forward(limb);
        }
    }

    /// <summary>Decodes all N/2 slots.</summary>
    public Complex[] DecodeComplex(Plaintext plaintext)
    {
        var r = new Complex[_slots];
        Decode(plaintext, r);
        return r;
    }

    /// <summary>Decodes the real parts of all N/2 slots.</summary>
    public double[] Decode(Plaintext plaintext)
    {
        var r = new double[_slots];
        Decode(plaintext, r);
        return r;
    }

    public void Decode(Plaintext plaintext, Span<Complex> destination)
    {
        DecodeSlots(plaintext);
        int count = Math.Min(destination.Length, _slots);
        _w.AsSpan(0, count).CopyTo(destination);
    }

    public void Decode(Plaintext plaintext, Span<double> destination)
    {
        DecodeSlots(plaintext);
        int count = Math.Min(destination.Length, _slots);
        for (int i = 0; i < count; i++)
        {
            destination[i] = _w[i].Real;
        }
    }

    /// <summary>
    /// Decodes for publication: real parts rounded to a multiple of 2^−<paramref name="logPrecision"/>
    /// (y = ⌊x·2^p⌉ / 2^p), so the released digits carry no information below the guaranteed precision.
    /// Necessary (not sufficient) protection against key recovery from decryptions (Li–Micciancio): the
    /// plaintext must also have been noise-flooded at decryption.
    /// </summary>
    public void DecodePublic(Plaintext plaintext, Span<double> destination, double logPrecision)
    {
        if (!(logPrecision >= 0) || logPrecision > 52)
        {
            throw new ArgumentOutOfRangeException(nameof(logPrecision), logPrecision, "Precision must be in [0, 52] bits.");
        }

        Decode(plaintext, destination);
        double factor = Math.Pow(2, logPrecision);
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = Math.Round(destination[i] * factor) / factor;
        }
    }

    private void DecodeSlots(Plaintext plaintext)
    {
        if (plaintext.ParametersId != _p.Id)
        {
            throw new ArgumentException("The plaintext belongs to other parameters.", nameof(plaintext));
        }

        int limbs = plaintext.Level + 1;
        var buf = _limbs.AsSpan(0, limbs * _n);
        plaintext.Value.AsSpan(limbs).CopyTo(buf);
        for (int i = 0; i < limbs; i++)
        {
            _p.Rlwe.Q.Ntt(i).Inverse(buf.Slice(i * _n, _n));
        }

        _composers[plaintext.Level].ComposeCentered(buf, _n, _coeffs, 1.0 / plaintext.Scale);
        for (int k = 0; k < _slots; k++)
        {
            _w[k] = new Complex(_coeffs[k], _coeffs[k + _slots]);
        }

        SpecialFft(_w);
    }

    private void BitReverseInPlace(Complex[] w)
    {
        for (int i = 0; i < _slots; i++)
        {
            int j = _bitRev[i];
            if (i < j)
            {
                (w[i], w[j]) = (w[j], w[i]);
            }
        }
    }

    /// <summary>Coefficients → slots.</summary>
    private void SpecialFft(Complex[] w)
    {
        int m = 2 * _n;
        BitReverseInPlace(w);
        for (int len = 2; len <= _slots; len <<= 1)
        {
            int h = len >> 1;
            int l4 = len << 2;
            int step = m / l4;
            for (int b = 0; b < _slots; b += len)
            {
                for (int t = 0; t < h; t++)
                {
                    var omega = _roots[(_rotGroup[t] % l4) * step];
                    var x = w[b + t];
                    var y = omega * w[b + t + h];
                    w[b + t] = x + y;
                    w[b + t + h] = x - y;
                }
            }
        }
    }

    /// <summary>Slots → coefficients (exact inverse of <see cref="SpecialFft"/>).</summary>
    private void InverseSpecialFft(Complex[] w)
    {
        int m = 2 * _n;
        for (int len = _slots; len >= 2; len >>= 1)
        {
            int h = len >> 1;
            int l4 = len << 2;
            int step = m / l4;
            for (int b = 0; b < _slots; b += len)
            {
                for (int t = 0; t < h; t++)
                {
                    var omega = _roots[(_rotGroup[t] % l4) * step];
                    var x = w[b + t];
                    var y = w[b + t + h];
                    w[b + t] = x + y;
                    w[b + t + h] = (x - y) * Complex.Conjugate(omega);
                }
            }
        }

        double inv = 1.0 / _slots;
        for (int i = 0; i < _slots; i++)
        {
            w[i] *= inv;
        }

        BitReverseInPlace(w);
    }
}
