using System.Numerics;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Ckks;

/// <summary>Thrown when operands do not fit together: other parameters, different levels or scales, missing keys.</summary>
public sealed class OperandMismatchException(string message) : InvalidOperationException(message);

/// <summary>
/// Homomorphic operations on CKKS ciphertexts. Every operation comes in three shapes: allocating
/// (<c>Add(a, b)</c>), into a destination (<c>Add(a, b, destination)</c>) and in place (<c>AddInPlace(a, b)</c>).
/// Binary operations need equal levels (use <see cref="DropLevel(Ciphertext, int)"/>) and, for additions,
/// equal scales (relative tolerance 1e−9). The evaluator owns scratch buffers and is not thread-safe: give each
/// worker its own copy with <see cref="WithKeys"/>.
/// </summary>
public sealed class CkksEvaluator
{
    /// <summary>Relative tolerance under which two scales count as equal.</summary>
    public const double ScaleTolerance = 1e-9;

    private readonly CkksParameters _p;
    private readonly RlweParameters _r;
    private readonly EvaluationKeySet _keys;
    private readonly KeySwitcher _ks;
    private readonly Poly _t0, _t1, _t2, _d0, _d1;
    private readonly ulong[] _tmp;
    private readonly ulong[][] _monomialHalf; // NTT of X^(N/2) per Q prime (multiplication by i)
    private readonly DoubleToRns _toRns;
    private Ciphertext? _rotScratch;

    public CkksEvaluator(CkksParameters parameters, EvaluationKeySet? keys = null)
    {
        _p = parameters;
        _r = parameters.Rlwe;
        _keys = keys ?? new EvaluationKeySet();
        CheckKeys(_keys);
        _ks = new KeySwitcher(_r);
        int n = _r.N;
        int l = _r.Q.Count;
        _t0 = new Poly(n, l);
        _t1 = new Poly(n, l);
        _t2 = new Poly(n, l);
        _d0 = new Poly(n, l);
        _d1 = new Poly(n, l);
        _tmp = new ulong[n];
        _toRns = new DoubleToRns(_r.Q.Moduli);
        _monomialHalf = new ulong[l][];
        for (int i = 0; i < l; i++)
        {
            var mono = new ulong[n];
            mono[n / 2] = 1;
            _r.Q.Ntt(i).Forward(mono);
            _monomialHalf[i] = mono;
        }
    }

    public CkksParameters Parameters => _p;
    public EvaluationKeySet Keys => _keys;

    /// <summary>A new evaluator (own scratch buffers) over the same parameters with other keys.</summary>
    public CkksEvaluator WithKeys(EvaluationKeySet keys) => new(_p, keys);

    private void CheckKeys(EvaluationKeySet keys)
    {
        if (keys.RelinearizationKey is { } rk && rk.ParametersId != _p.Id)
        {
            throw new OperandMismatchException("The relinearization key belongs to other parameters.");
        }

        foreach (var g in keys.GaloisKeys.Values)
        {
            if (g.ParametersId != _p.Id)
            {
                throw new OperandMismatchException("A Galois key belongs to other parameters.");
            }
        }
    }

    // ------------------------------------------------------------------ checks

    private void Check(Ciphertext c, string name)
    {
        if (c.ParametersId != _p.Id)
        {
            throw new OperandMismatchException($"Ciphertext '{name}' belongs to other parameters (id {c.ParametersId.ToString()[..12]}…, expected {_p.Id.ToString()[..12]}…).");
        }
    }

    private void Check(Plaintext pt, string name)
    {
        if (pt.ParametersId != _p.Id)
        {
            throw new OperandMismatchException($"Plaintext '{name}' belongs to other parameters.");
        }
    }

    private static void CheckLevels(int a, int b)
    {
        if (a != b)
        {
            throw new OperandMismatchException($"Operands are at different levels ({a} and {b}); drop the higher one with DropLevel first.");
        }
    }

    private static void CheckScales(double a, double b)
    {
        if (Math.Abs(a - b) > ScaleTolerance * Math.Max(a, b))
        {
            throw new OperandMismatchException($"Operands have different scales (2^{Math.Log2(a):0.######} and 2^{Math.Log2(b):0.######}); rescale or re-encode so that they match.");
        }
    }

    // ------------------------------------------------------------------ add / sub / negate

    public Ciphertext Add(Ciphertext a, Ciphertext b)
    {
        var r = NewLike(a, Math.Max(a.Size, b.Size));
        Add(a, b, r);
        return r;
    }

    public void AddInPlace(Ciphertext a, Ciphertext b) => Add(a, b, a);

    public void Add(Ciphertext a, Ciphertext b, Ciphertext destination) => AddSub(a, b, destination, subtract: false);

    public Ciphertext Sub(Ciphertext a, Ciphertext b)
    {
        var r = NewLike(a, Math.Max(a.Size, b.Size));
        Sub(a, b, r);
        return r;
    }

    public void SubInPlace(Ciphertext a, Ciphertext b) => Sub(a, b, a);

    public void Sub(Ciphertext a, Ciphertext b, Ciphertext destination) => AddSub(a, b, destination, subtract: true);

    private void AddSub(Ciphertext a, Ciphertext b, Ciphertext destination, bool subtract)
    {
        Check(a, nameof(a));
        Check(b, nameof(b));
        CheckLevels(a.Level, b.Level);
        CheckScales(a.Scale, b.Scale);
        int level = a.Level;
        int size = Math.Max(a.Size, b.Size);
        double scale = a.Scale;
        // keep the larger operand's extra component before reshaping (destination may alias a or b)
        var big = a.Size >= b.Size ? a : b;
        int smallSize = Math.Min(a.Size, b.Size);
        bool bigIsA = ReferenceEquals(big, a);
        if (!ReferenceEquals(destination, a) && !ReferenceEquals(destination, b))
        {
            destination.Reshape(size, level);
        }
        else if (destination.Size < size)
        {
            // destination is the smaller operand: grow it, copying the missing component first
            destination.Reshape(size, level);
        }

        for (int c = 0; c < size; c++)
        {
            for (int i = 0; i <= level; i++)
            {
                ulong q = _r.Q[i].Value;
                var dst = destination[c].Limb(i);
                if (c < smallSize)
                {
                    if (subtract)
                    {
                        RingOps.Sub(a[c].Limb(i), b[c].Limb(i), dst, q);
                    }
                    else
                    {
                        RingOps.Add(a[c].Limb(i), b[c].Limb(i), dst, q);
                    }
                }
                else if (subtract && !bigIsA)
                {
                    RingOps.Negate(big[c].Limb(i), dst, q);
                }
                else if (!ReferenceEquals(big, destination))
                {
                    big[c].Limb(i).CopyTo(dst);
                }
            }
        }

        destination.Scale = scale;
        destination.ParametersId = _p.Id;
        destination.C1Seed = null;
    }

    public Ciphertext Negate(Ciphertext a)
    {
        var r = NewLike(a, a.Size);
        Negate(a, r);
        return r;
    }

    public void NegateInPlace(Ciphertext a) => Negate(a, a);

    public void Negate(Ciphertext a, Ciphertext destination)
    {
        Check(a, nameof(a));
        PrepareUnary(a, destination, a.Size);
        for (int c = 0; c < a.Size; c++)
        {
            for (int i = 0; i <= a.Level; i++)
            {
                RingOps.Negate(a[c].Limb(i), destination[c].Limb(i), _r.Q[i].Value);
            }
        }
    }

    // ------------------------------------------------------------------ plaintext operands

    public Ciphertext AddPlain(Ciphertext a, Plaintext b)
    {
        var r = NewLike(a, a.Size);
        AddPlain(a, b, r);
        return r;
    }

    public void AddPlainInPlace(Ciphertext a, Plaintext b) => AddPlain(a, b, a);

    public void AddPlain(Ciphertext a, Plaintext b, Ciphertext destination) => AddSubPlain(a, b, destination, false);

    public Ciphertext SubPlain(Ciphertext a, Plaintext b)
    {
        var r = NewLike(a, a.Size);
        SubPlain(a, b, r);
        return r;
    }

    public void SubPlainInPlace(Ciphertext a, Plaintext b) => SubPlain(a, b, a);

    public void SubPlain(Ciphertext a, Plaintext b, Ciphertext destination) => AddSubPlain(a, b, destination, true);

    private void AddSubPlain(Ciphertext a, Plaintext b, Ciphertext destination, bool subtract)
    {
        Check(a, nameof(a));
        Check(b, nameof(b));
        CheckLevels(a.Level, b.Level);
        CheckScales(a.Scale, b.Scale);
        PrepareUnary(a, destination, a.Size);
        for (int i = 0; i <= a.Level; i++)
        {
            ulong q = _r.Q[i].Value;
            if (subtract)
            {
                RingOps.Sub(a[0].Limb(i), b.Value.Limb(i), destination[0].Limb(i), q);
            }
            else
            {
                RingOps.Add(a[0].Limb(i), b.Value.Limb(i), destination[0].Limb(i), q);
            }
        }

        CopyComponentsFrom(a, destination, 1);
    }

    /// <summary>Multiplies by a plaintext; the result's scale is the product of the scales (rescale afterwards).</summary>
    public Ciphertext MultiplyPlain(Ciphertext a, Plaintext b)
    {
        var r = NewLike(a, a.Size);
        MultiplyPlain(a, b, r);
        return r;
    }

    public void MultiplyPlainInPlace(Ciphertext a, Plaintext b) => MultiplyPlain(a, b, a);

    public void MultiplyPlain(Ciphertext a, Plaintext b, Ciphertext destination)
    {
        Check(a, nameof(a));
        Check(b, nameof(b));
        CheckLevels(a.Level, b.Level);
        double scale = a.Scale * b.Scale;
        PrepareUnary(a, destination, a.Size);
        for (int c = 0; c < a.Size; c++)
        {
            for (int i = 0; i <= a.Level; i++)
            {
                RingOps.Multiply(a[c].Limb(i), b.Value.Limb(i), destination[c].Limb(i), _r.Q[i]);
            }
        }

        destination.Scale = scale;
    }

    // ------------------------------------------------------------------ constants

    /// <summary>Adds the constant c to every slot.</summary>
    public Ciphertext AddConstant(Ciphertext a, Complex c)
    {
        var r = NewLike(a, a.Size);
        AddConstant(a, c, r);
        return r;
    }

    public void AddConstantInPlace(Ciphertext a, Complex c) => AddConstant(a, c, a);

    public void AddConstant(Ciphertext a, Complex c, Ciphertext destination)
    {
        Check(a, nameof(a));
        CheckFinite(c);
        PrepareUnary(a, destination, a.Size);
        double re = Math.Round(c.Real * a.Scale);
        double im = Math.Round(c.Imaginary * a.Scale);
        for (int i = 0; i <= a.Level; i++)
        {
            var mod = _r.Q[i];
            var dst = destination[0].Limb(i);
            RingOps.AddScalar(a[0].Limb(i), _toRns.Residue(re, i), dst, mod.Value);
            if (im != 0)
            {
                RingOps.MultiplyScalarAdd(_monomialHalf[i], _toRns.Residue(im, i), dst, mod);
            }
        }

        CopyComponentsFrom(a, destination, 1);
    }

    /// <summary>
    /// Multiplies every slot by the constant c, encoded at scale q_ℓ (the prime the next rescale removes), so that
    /// <see cref="Rescale(Ciphertext, Ciphertext)"/> afterwards returns exactly to the input scale. Needs level ≥ 1.
    /// </summary>
    public Ciphertext MultiplyConstant(Ciphertext a, Complex c)
    {
        var r = NewLike(a, a.Size);
        MultiplyConstant(a, c, r);
        return r;
    }

    public void MultiplyConstantInPlace(Ciphertext a, Complex c) => MultiplyConstant(a, c, a);

    public void MultiplyConstant(Ciphertext a, Complex c, Ciphertext destination)
    {
        Check(a, nameof(a));
        CheckFinite(c);
        if (a.Level < 1)
        {
            throw new OperandMismatchException("MultiplyConstant needs level ≥ 1 (the constant is encoded at scale q_ℓ and removed by a rescale); use MultiplyByInteger at level 0.");
        }

        double constScale = _r.Q[a.Level].Value;
        double re = Math.Round(c.Real * constScale);
        double im = Math.Round(c.Imaginary * constScale);
        PrepareUnary(a, destination, a.Size);
        for (int i = 0; i <= a.Level; i++)
        {
            var mod = _r.Q[i];
            ulong reR = _toRns.Residue(re, i);
            if (im == 0)
            {
                for (int k = 0; k < a.Size; k++)
                {
                    RingOps.MultiplyScalar(a[k].Limb(i), reR, destination[k].Limb(i), mod);
                }
            }
            else
            {
                // constant polynomial re + im·X^(N/2) in NTT form
                RingOps.MultiplyScalar(_monomialHalf[i], _toRns.Residue(im, i), _tmp, mod);
                RingOps.AddScalar(_tmp, reR, _tmp, mod.Value);
                for (int k = 0; k < a.Size; k++)
                {
                    RingOps.Multiply(a[k].Limb(i), _tmp, destination[k].Limb(i), mod);
                }
            }
        }

        destination.Scale = a.Scale * constScale;
    }

    /// <summary>Multiplies every slot by an integer; the scale is unchanged.</summary>
    public void MultiplyByInteger(Ciphertext a, long k, Ciphertext destination)
    {
        Check(a, nameof(a));
        PrepareUnary(a, destination, a.Size);
        for (int i = 0; i <= a.Level; i++)
        {
            var mod = _r.Q[i];
            ulong w = mod.FromSigned(k);
            for (int c = 0; c < a.Size; c++)
            {
                RingOps.MultiplyScalar(a[c].Limb(i), w, destination[c].Limb(i), mod);
            }
        }
    }

    public Ciphertext MultiplyByInteger(Ciphertext a, long k)
    {
        var r = NewLike(a, a.Size);
        MultiplyByInteger(a, k, r);
        return r;
    }

    public void MultiplyByIntegerInPlace(Ciphertext a, long k) => MultiplyByInteger(a, k, a);

    private static void CheckFinite(Complex c)
    {
        if (!double.IsFinite(c.Real) || !double.IsFinite(c.Imaginary))
        {
            throw new ArgumentException("Constants must be finite.");
        }
    }

    // ------------------------------------------------------------------ ciphertext multiplication

    /// <summary>Tensor product of two size-2 ciphertexts: a size-3 result with scale a.Scale·b.Scale (relinearize, then rescale).</summary>
    public Ciphertext Multiply(Ciphertext a, Ciphertext b)
    {
        var r = NewLike(a, 3);
        Multiply(a, b, r);
        return r;
    }

    public void MultiplyInPlace(Ciphertext a, Ciphertext b) => Multiply(a, b, a);

    public void Multiply(Ciphertext a, Ciphertext b, Ciphertext destination)
    {
        Check(a, nameof(a));
        Check(b, nameof(b));
        CheckLevels(a.Level, b.Level);
        if (a.Size != 2 || b.Size != 2)
        {
            throw new OperandMismatchException($"Multiply needs size-2 ciphertexts (got {a.Size} and {b.Size}); relinearize first.");
        }

        int level = a.Level;
        double scale = a.Scale * b.Scale;
        _t0.Resize(level + 1);
        _t1.Resize(level + 1);
        _t2.Resize(level + 1);
        for (int i = 0; i <= level; i++)
        {
            var mod = _r.Q[i];
            RingOps.Multiply(a[0].Limb(i), b[0].Limb(i), _t0.Limb(i), mod);
            RingOps.Multiply(a[0].Limb(i), b[1].Limb(i), _t1.Limb(i), mod);
            RingOps.MultiplyAdd(a[1].Limb(i), b[0].Limb(i), _t1.Limb(i), mod);
            RingOps.Multiply(a[1].Limb(i), b[1].Limb(i), _t2.Limb(i), mod);
        }

        StoreTensor(level, scale, destination);
    }

    /// <summary>Moves the size-3 product held in the scratch polynomials into the destination.</summary>
    private void StoreTensor(int level, double scale, Ciphertext destination)
    {
        destination.Reshape(3, level);
        _t0.AsSpan().CopyTo(destination[0].AsSpan());
        _t1.AsSpan().CopyTo(destination[1].AsSpan());
        _t2.AsSpan().CopyTo(destination[2].AsSpan());
        destination.Scale = scale;
        destination.ParametersId = _p.Id;
    }

    /// <summary>Square of a size-2 ciphertext (3 products instead of 4).</summary>
    public Ciphertext Square(Ciphertext a)
    {
        var r = NewLike(a, 3);
        Square(a, r);
        return r;
    }

    public void SquareInPlace(Ciphertext a) => Square(a, a);

    public void Square(Ciphertext a, Ciphertext destination)
    {
        Check(a, nameof(a));
        if (a.Size != 2)
        {
            throw new OperandMismatchException($"Square needs a size-2 ciphertext (got {a.Size}).");
        }

        int level = a.Level;
        _t0.Resize(level + 1);
        _t1.Resize(level + 1);
        _t2.Resize(level + 1);
        for (int i = 0; i <= level; i++)
        {
            var mod = _r.Q[i];
            RingOps.Multiply(a[0].Limb(i), a[0].Limb(i), _t0.Limb(i), mod);
            RingOps.Multiply(a[0].Limb(i), a[1].Limb(i), _t1.Limb(i), mod);
            RingOps.Add(_t1.Limb(i), _t1.Limb(i), _t1.Limb(i), mod.Value);
            RingOps.Multiply(a[1].Limb(i), a[1].Limb(i), _t2.Limb(i), mod);
        }

        double scale = a.Scale * a.Scale;
        StoreTensor(level, scale, destination);
    }

    /// <summary>Turns a size-3 ciphertext into a size-2 one with the relinearization key (hybrid key switching).</summary>
    public Ciphertext Relinearize(Ciphertext a)
    {
        var r = NewLike(a, 2);
        Relinearize(a, r);
        return r;
    }

    public void RelinearizeInPlace(Ciphertext a) => Relinearize(a, a);

    public void Relinearize(Ciphertext a, Ciphertext destination)
    {
        Check(a, nameof(a));
        if (a.Size == 2)
        {
            a.CopyTo(destination);
            return;
        }

        if (a.Size != 3)
        {
            throw new OperandMismatchException($"Relinearize needs a size-3 ciphertext (got {a.Size}).");
        }

        var rk = _keys.RelinearizationKey ?? throw new OperandMismatchException("No relinearization key: build the evaluator with an EvaluationKeySet that has one.");
        int level = a.Level;
        _ks.Switch(a[2], level, rk, _d0, _d1);
        double scale = a.Scale;
        if (!ReferenceEquals(a, destination))
        {
            destination.Reshape(2, level);
            for (int i = 0; i <= level; i++)
            {
                ulong q = _r.Q[i].Value;
                RingOps.Add(a[0].Limb(i), _d0.Limb(i), destination[0].Limb(i), q);
                RingOps.Add(a[1].Limb(i), _d1.Limb(i), destination[1].Limb(i), q);
            }
        }
        else
        {
            for (int i = 0; i <= level; i++)
            {
                ulong q = _r.Q[i].Value;
                RingOps.Add(a[0].Limb(i), _d0.Limb(i), a[0].Limb(i), q);
                RingOps.Add(a[1].Limb(i), _d1.Limb(i), a[1].Limb(i), q);
            }

            a.Reshape(2, level);
        }

        destination.Scale = scale;
        destination.ParametersId = _p.Id;
    }

    /// <summary>Multiply then relinearize.</summary>
    public Ciphertext MultiplyRelinearize(Ciphertext a, Ciphertext b)
    {
        var r = Multiply(a, b);
        RelinearizeInPlace(r);
        return r;
    }

    public void MultiplyRelinearize(Ciphertext a, Ciphertext b, Ciphertext destination)
    {
        Multiply(a, b, destination);
        RelinearizeInPlace(destination);
    }

    public void MultiplyRelinearizeInPlace(Ciphertext a, Ciphertext b) => MultiplyRelinearize(a, b, a);

    // ------------------------------------------------------------------ levels

    /// <summary>Divides by the last prime q_ℓ with rounding: level − 1, scale / q_ℓ.</summary>
    public Ciphertext Rescale(Ciphertext a)
    {
        var r = NewLike(a, a.Size);
        Rescale(a, r);
        return r;
    }

    public void RescaleInPlace(Ciphertext a) => Rescale(a, a);

    public void Rescale(Ciphertext a, Ciphertext destination)
    {
        Check(a, nameof(a));
        if (a.Level < 1)
        {
            throw new OperandMismatchException("Cannot rescale at level 0: no prime is left to divide by.");
        }

        a.CopyTo(destination);
        int level = a.Level;
        for (int c = 0; c < destination.Size; c++)
        {
            _ks.DivideRoundByLastModulus(destination[c], level);
        }

        destination.Scale = a.Scale / _r.Q[level].Value;
        destination.C1Seed = null;
    }

    /// <summary>Drops the last primes down to <paramref name="level"/> without changing the scale.</summary>
    public Ciphertext DropLevel(Ciphertext a, int level)
    {
        var r = a.Clone(_r);
        DropLevelInPlace(r, level);
        return r;
    }

    public void DropLevel(Ciphertext a, int level, Ciphertext destination)
    {
        a.CopyTo(destination);
        DropLevelInPlace(destination, level);
    }

    public void DropLevelInPlace(Ciphertext a, int level)
    {
        Check(a, nameof(a));
        if (level < 0 || level > a.Level)
        {
            throw new OperandMismatchException($"Cannot drop from level {a.Level} to level {level}.");
        }

        byte[]? seed = a.C1Seed; // the seed expands limb by limb, so a prefix of limbs keeps it valid
        for (int c = 0; c < a.Size; c++)
        {
            a[c].Resize(level + 1);
        }

        a.C1Seed = seed;
    }

    // ------------------------------------------------------------------ rotations

    /// <summary>Rotates the slots left by k (slot j receives slot j + k); negative k rotates right.</summary>
    public Ciphertext Rotate(Ciphertext a, int k)
    {
        var r = NewLike(a, 2);
        Rotate(a, k, r);
        return r;
    }

    public void RotateInPlace(Ciphertext a, int k) => Rotate(a, k, a);

    public void Rotate(Ciphertext a, int k, Ciphertext destination)
    {
        ulong g = _r.GaloisElementForRotation(k);
        if (g == 1)
        {
            a.CopyTo(destination);
            return;
        }

        ApplyGalois(a, g, destination, k);
    }

    /// <summary>Complex conjugation of every slot.</summary>
    public Ciphertext Conjugate(Ciphertext a)
    {
        var r = NewLike(a, 2);
        Conjugate(a, r);
        return r;
    }

    public void ConjugateInPlace(Ciphertext a) => Conjugate(a, a);

    public void Conjugate(Ciphertext a, Ciphertext destination) => ApplyGalois(a, _r.GaloisElementForConjugation, destination, null);

    // rotation: the step, for error messages only; null for conjugation
    private void ApplyGalois(Ciphertext a, ulong galoisElement, Ciphertext destination, int? rotation)
    {
        Check(a, nameof(a));
        if (a.Size != 2)
        {
            throw new OperandMismatchException($"Rotations need a size-2 ciphertext (got {a.Size}); relinearize first.");
        }

        if (!_keys.TryGetGaloisKey(galoisElement, out var key))
        {
            string what = rotation is { } k ? $"rotation by {k}" : "conjugation";
            throw new OperandMismatchException($"No Galois key for {what} (element {galoisElement}); generate it with KeyGenerator.GenerateRotationKeys.");
        }

        int level = a.Level;
        var perm = _r.GaloisPermutation(galoisElement);
        _t0.Resize(level + 1);
        _t1.Resize(level + 1);
        for (int i = 0; i <= level; i++)
        {
            PolyMathPublic.Permute(a[0].Limb(i), perm, _t0.Limb(i));
            PolyMathPublic.Permute(a[1].Limb(i), perm, _t1.Limb(i));
        }

        _ks.Switch(_t1, level, key, _d0, _d1);
        double scale = a.Scale;
        destination.Reshape(2, level);
        for (int i = 0; i <= level; i++)
        {
            RingOps.Add(_t0.Limb(i), _d0.Limb(i), destination[0].Limb(i), _r.Q[i].Value);
        }

        _d1.AsSpan(level + 1).CopyTo(destination[1].AsSpan());
        destination.Scale = scale;
        destination.ParametersId = _p.Id;
    }

    /// <summary>
    /// Sums <paramref name="count"/> consecutive slots (a power of two ≤ N/2): slot j of the result is
    /// Σ_{t&lt;count} slot (j + t) of the input. Needs rotation keys for 1, 2, 4, …, count/2.
    /// </summary>
    public Ciphertext InnerSum(Ciphertext a, int count)
    {
        var r = NewLike(a, 2);
        InnerSum(a, count, r);
        return r;
    }

    public void InnerSumInPlace(Ciphertext a, int count) => InnerSum(a, count, a);

    public void InnerSum(Ciphertext a, int count, Ciphertext destination)
    {
        if (count < 1 || count > _p.MaxSlots || !BitOperations.IsPow2(count))
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"count must be a power of two in [1, {_p.MaxSlots}].");
        }

        a.CopyTo(destination);
        _rotScratch ??= new Ciphertext(_r, 2, _r.MaxLevel, 1);
        for (int k = 1; k < count; k <<= 1)
        {
            Rotate(destination, k, _rotScratch);
            AddInPlace(destination, _rotScratch);
        }
    }

    /// <summary>Rotation steps whose keys <see cref="InnerSum(Ciphertext, int)"/> needs.</summary>
    public static IEnumerable<int> InnerSumRotations(int count)
    {
        for (int k = 1; k < count; k <<= 1)
        {
            yield return k;
        }
    }

    // ------------------------------------------------------------------ helpers

    private Ciphertext NewLike(Ciphertext a, int size) => new(_r, size, a.Level, a.Scale);

    private void PrepareUnary(Ciphertext a, Ciphertext destination, int size)
    {
        if (!ReferenceEquals(a, destination))
        {
            destination.Reshape(size, a.Level);
            destination.Scale = a.Scale;
            destination.ParametersId = _p.Id;
        }
        else
        {
            destination.C1Seed = null;
        }
    }

    private static void CopyComponentsFrom(Ciphertext a, Ciphertext destination, int from)
    {
        if (ReferenceEquals(a, destination))
        {
            return;
        }

        for (int c = from; c < a.Size; c++)
        {
            a[c].AsSpan().CopyTo(destination[c].AsSpan());
        }
    }
}
