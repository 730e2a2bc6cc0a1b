using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Homomorphic operations on top-level ciphertexts at SEAL's shapes (SEAL: CKKS / EvaluateAddCt, AddPt, SubCt,
/// Negate, MulCt, MulPt, Square, RelinInplace, RescaleInplace, Rotate).
/// <para>
/// Every row uses the destination shape with fixed sources, so each invocation does the same work and no
/// per-iteration setup is needed: the destinations are allocated once with the right size (2 or 3) so that
/// <see cref="Ciphertext.Reshape"/> only adjusts limb counts. MemoryDiagnoser should report 0 B everywhere.
/// Rescale and Relinearize write to a separate destination (SEAL times the in-place variants after a paused
/// reset); our Rescale into a destination includes a copy of the source, which SEAL's in-place form does not.
/// The *InPlace rows are state-stable in-place variants, kept to watch for allocations in that shape.
/// </para>
/// </summary>
[MemoryDiagnoser]
public class EvaluatorBenchmarks
{
    private CkksEvaluator _ev = null!;
    private Plaintext _pt = null!;
    private Ciphertext _a = null!, _b = null!;     // fresh size-2 ciphertexts at the top level, scale Δ
    private Ciphertext _prod3 = null!;             // size-3 product a·b (scale Δ²)
    private Ciphertext _prod2 = null!;             // relinearized product (scale Δ²): the rescale input
    private Ciphertext _dst2 = null!, _dst3 = null!;
    private Ciphertext _acc = null!;               // target of the in-place rows

    [Params(12, 13, 14)]
    public int LogN { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var p = SealShapes.Parameters(LogN);
        var r = p.Rlwe;
        using var kg = new KeyGenerator(r);
        using var sk = kg.GenerateSecretKey();
        var pk = kg.GeneratePublicKey(sk);
        var rlk = kg.GenerateRelinearizationKey(sk);
        var galois = kg.GenerateRotationKeys(sk, [1]);
        _ev = new CkksEvaluator(p, new EvaluationKeySet(rlk, galois));

        var encoder = new CkksEncoder(p);
        using var enc = new Encryptor(r, pk);
        _pt = encoder.Encode(SealShapes.RandomSlots(p, 1));
        _a = new Ciphertext(r, 2, p.MaxLevel, p.DefaultScale);
        _b = new Ciphertext(r, 2, p.MaxLevel, p.DefaultScale);
        enc.Encrypt(_pt, _a);
        enc.Encrypt(encoder.Encode(SealShapes.RandomSlots(p, 2)), _b);

        _prod3 = new Ciphertext(r, 3, p.MaxLevel, p.DefaultScale);
        _ev.Multiply(_a, _b, _prod3);
        _prod2 = new Ciphertext(r, 2, p.MaxLevel, p.DefaultScale);
        _ev.Relinearize(_prod3, _prod2);

        _dst2 = new Ciphertext(r, 2, p.MaxLevel, p.DefaultScale);
        _dst3 = new Ciphertext(r, 3, p.MaxLevel, p.DefaultScale);
        _acc = _a.Clone(r);

        // sanity: the product decrypts to the product of the inputs after relinearize + rescale
        var dec = new Decryptor(r, sk);
        _ev.Rescale(_prod2, _dst2);
        var got = encoder.Decode(dec.Decrypt(_dst2));
        var x = SealShapes.RandomSlots(p, 1);
        var y = SealShapes.RandomSlots(p, 2);
        double err = 0;
        for (int i = 0; i < got.Length; i++)
        {
            err = Math.Max(err, Math.Abs(got[i] - (x[i] * y[i])));
        }

        if (err > 1e-2)
        {
            throw new InvalidOperationException($"Multiply/relinearize/rescale sanity check is off by {err}.");
        }
    }

    [Benchmark]
    public void AddCt() => _ev.Add(_a, _b, _dst2);

    [Benchmark]
    public void AddPt() => _ev.AddPlain(_a, _pt, _dst2);

    [Benchmark]
    public void SubCt() => _ev.Sub(_a, _b, _dst2);

    [Benchmark]
    public void Negate() => _ev.Negate(_a, _dst2);

    [Benchmark]
    public void MulCt() => _ev.Multiply(_a, _b, _dst3);

    [Benchmark]
    public void MulPt() => _ev.MultiplyPlain(_a, _pt, _dst2);

    [Benchmark]
    public void Square() => _ev.Square(_a, _dst3);

    [Benchmark]
    public void Relinearize() => _ev.Relinearize(_prod3, _dst2);

    [Benchmark]
    public void Rescale() => _ev.Rescale(_prod2, _dst2);

    [Benchmark]
    public void Rotate() => _ev.Rotate(_a, 1, _dst2);

    // ---- in-place shapes whose state stays valid across invocations (allocation watch)

    [Benchmark]
    public void AddCtInPlace() => _ev.AddInPlace(_acc, _b);

    [Benchmark]
    public void AddPtInPlace() => _ev.AddPlainInPlace(_acc, _pt);

    [Benchmark]
    public void NegateInPlace() => _ev.NegateInPlace(_acc);

    [Benchmark]
    public void RotateInPlace() => _ev.RotateInPlace(_acc, 1);
}
