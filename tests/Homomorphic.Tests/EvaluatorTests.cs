using FsCheck;
using FsCheck.Fluent;

namespace PrivateHealth.Homomorphic.Tests;

public sealed class EvaluatorTests(ITestOutputHelper output)
{
    private static Complex[] Map(Complex[] a, Func<Complex, Complex> f) => [.. a.Select(f)];

    private static Complex[] Zip(Complex[] a, Complex[] b, Func<Complex, Complex, Complex> f) => [.. a.Zip(b, f)];

    private static Complex[] RotateLeft(Complex[] a, int k)
    {
        int n = a.Length;
        return [.. Enumerable.Range(0, n).Select(j => a[(((j + k) % n) + n) % n])];
    }

    private void AssertPrecision(Complex[] expected, Complex[] actual, double minBits, string what)
    {
        double bits = CkksTestContext.PrecisionBits(expected, actual);
        output.WriteLine($"{what}: {bits:F1} bits");
        Assert.True(bits >= minBits, $"{what}: {bits:F1} bits < {minBits}");
    }

    [Theory]
    [MemberData(nameof(CkksTestContext.TestSetNames), MemberType = typeof(CkksTestContext))]
    public void AdditiveOperationsMatchPlaintext(string set)
    {
        var ctx = CkksTestContext.Get(set);
        var ev = ctx.Evaluator;
        var a = ctx.RandomComplex(10);
        var b = ctx.RandomComplex(11);
        var ca = ctx.Encrypt(a);
        var cb = ctx.Encrypt(b);
        double min = Math.Log2(ctx.Parameters.DefaultScale) - 20;
        AssertPrecision(Zip(a, b, (x, y) => x + y), ctx.Decrypt(ev.Add(ca, cb)), min, $"{set} add");
        AssertPrecision(Zip(a, b, (x, y) => x - y), ctx.Decrypt(ev.Sub(ca, cb)), min, $"{set} sub");
        AssertPrecision(Map(a, x => -x), ctx.Decrypt(ev.Negate(ca)), min, $"{set} negate");
        var pb = ctx.Encoder.Encode(b);
        AssertPrecision(Zip(a, b, (x, y) => x + y), ctx.Decrypt(ev.AddPlain(ca, pb)), min, $"{set} add plain");
        AssertPrecision(Zip(a, b, (x, y) => x - y), ctx.Decrypt(ev.SubPlain(ca, pb)), min, $"{set} sub plain");
        var c = new Complex(0.75, -1.25);
        AssertPrecision(Map(a, x => x + c), ctx.Decrypt(ev.AddConstant(ca, c)), min, $"{set} add constant");
        AssertPrecision(Map(a, x => x * 7), ctx.Decrypt(ev.MultiplyByInteger(ca, 7)), min - 3, $"{set} multiply by integer");
    }

    [Theory]
    [MemberData(nameof(CkksTestContext.TestSetNames), MemberType = typeof(CkksTestContext))]
    public void MultiplicativeOperationsMatchPlaintextAndTrackTheScale(string set)
    {
        var ctx = CkksTestContext.Get(set);
        var ev = ctx.Evaluator;
        var a = ctx.RandomComplex(20);
        var b = ctx.RandomComplex(21);
        var ca = ctx.Encrypt(a);
        var cb = ctx.Encrypt(b);
        int level = ca.Level;
        double qLast = ctx.Parameters.Q[level];
        double min = Math.Log2(ctx.Parameters.DefaultScale) - 22;

        var prod = ev.MultiplyRelinearize(ca, cb);
        Assert.Equal(2, prod.Size);
        Assert.Equal(ca.Scale * cb.Scale, prod.Scale);
        var rescaled = ev.Rescale(prod);
        Assert.Equal(level - 1, rescaled.Level);
        Assert.Equal(ca.Scale * cb.Scale / qLast, rescaled.Scale); // exactly as tracked
        AssertPrecision(Zip(a, b, (x, y) => x * y), ctx.Decrypt(rescaled), min, $"{set} multiply+relinearize+rescale");

        var sq = ev.Rescale(ev.Relinearize(ev.Square(ca)));
        AssertPrecision(Map(a, x => x * x), ctx.Decrypt(sq), min, $"{set} square");

        // size-3 ciphertexts decrypt without relinearization
        AssertPrecision(Zip(a, b, (x, y) => x * y), ctx.Decrypt(ev.Multiply(ca, cb)), min, $"{set} multiply (size 3)");

        // plaintext multiplicand at scale q_ℓ: the rescale returns exactly to Δ
        var pb = ctx.Encoder.Encode(b, level, qLast);
        var mp = ev.Rescale(ev.MultiplyPlain(ca, pb));
        Assert.Equal(ca.Scale, mp.Scale, ca.Scale * 1e-15);
        AssertPrecision(Zip(a, b, (x, y) => x * y), ctx.Decrypt(mp), min, $"{set} multiply plain");

        var c = new Complex(-0.5, 2.0);
        var mc = ev.Rescale(ev.MultiplyConstant(ca, c));
        Assert.Equal(ca.Scale, mc.Scale, ca.Scale * 1e-15);
        AssertPrecision(Map(a, x => x * c), ctx.Decrypt(mc), min, $"{set} multiply constant");
        var mr = ev.Rescale(ev.MultiplyConstant(ca, 3.5));
        AssertPrecision(Map(a, x => x * 3.5), ctx.Decrypt(mr), min - 2, $"{set} multiply real constant");
    }

    [Theory]
    [MemberData(nameof(CkksTestContext.TestSetNames), MemberType = typeof(CkksTestContext))]
    public void RotationsConjugationAndInnerSumMatchPlaintext(string set)
    {
        var ctx = CkksTestContext.Get(set);
        var ev = ctx.Evaluator;
        var a = ctx.RandomComplex(30);
        var ca = ctx.Encrypt(a);
        double min = Math.Log2(ctx.Parameters.DefaultScale) - 22;
        foreach (int k in new[] { 1, 2, 5, ctx.Slots / 2, -1 })
        {
            AssertPrecision(RotateLeft(a, k), ctx.Decrypt(ev.Rotate(ca, k)), min, $"{set} rotate {k}");
        }

        AssertPrecision(Map(a, Complex.Conjugate), ctx.Decrypt(ev.Conjugate(ca)), min, $"{set} conjugate");
        // key switching costs at most a few bits over fresh noise, in every slot: a digit decomposition that is not
        // centered leaves a fixed error in the slots where ζ^(5^j) ≈ ±1 (≈5 bits lost when P ≈ q)
        double fresh = CkksTestContext.PrecisionBits(a, ctx.Decrypt(ca));
        AssertPrecision(RotateLeft(a, 1), ctx.Decrypt(ev.Rotate(ca, 1)), fresh - 3, $"{set} rotate 1 vs fresh {fresh:F1}");
        var sum = a.Aggregate(Complex.Zero, (x, y) => x + y);
        var inner = ctx.Decrypt(ev.InnerSum(ca, ctx.Slots));
        AssertPrecision(Map(a, _ => sum), inner, min - 10, $"{set} inner sum of {ctx.Slots} slots");
        var partial = ctx.Decrypt(ev.InnerSum(ca, 4));
        AssertPrecision([.. Enumerable.Range(0, ctx.Slots).Select(j => a[j] + a[(j + 1) % ctx.Slots] + a[(j + 2) % ctx.Slots] + a[(j + 3) % ctx.Slots])], partial, min - 2, $"{set} inner sum of 4");
        // rotations at a lower level
        var low = ev.DropLevel(ca, 1);
        AssertPrecision(RotateLeft(a, 3), ctx.Decrypt(ev.Rotate(low, 3)), min, $"{set} rotate 3 at level 1");
    }

    [Theory]
    [MemberData(nameof(CkksTestContext.TestSetNames), MemberType = typeof(CkksTestContext))]
    public void DepthThreeCircuitMatchesPlaintext(string set)
    {
        // ((a·b + c)·rot(a, 1))·b + conj(c), with relinearize, rescale, rotate and add at every level
        var ctx = CkksTestContext.Get(set);
        var ev = ctx.Evaluator;
        var a = ctx.RandomComplex(40);
        var b = ctx.RandomComplex(41);
        var c = ctx.RandomComplex(42);
        var ca = ctx.Encrypt(a);
        var cb = ctx.Encrypt(b);
        var cc = ctx.Encrypt(c);

        var t1 = ev.Rescale(ev.MultiplyRelinearize(ca, cb));                       // level L−1
        var c1 = ev.DropLevel(cc, t1.Level);
        c1.Scale = t1.Scale; // scales differ by q_L/Δ ≈ 1 ± 2^−30; re-tag as the tests of SEAL do
        var t2 = ev.Add(t1, c1);
        var ra = ev.DropLevel(ev.Rotate(ca, 1), t2.Level);
        ra.Scale = t2.Scale;
        var t3 = ev.Rescale(ev.MultiplyRelinearize(t2, ra));                       // level L−2
        var b3 = ev.DropLevel(cb, t3.Level);
        b3.Scale = t3.Scale;
        var t4 = ev.Rescale(ev.MultiplyRelinearize(t3, b3));                       // level L−3
        var cj = ev.DropLevel(ev.Conjugate(cc), t4.Level);
        cj.Scale = t4.Scale;
        var result = ev.Add(t4, cj);
        Assert.Equal(ctx.Parameters.MaxLevel - 3, result.Level);

        var ra2 = RotateLeft(a, 1);
        var expected = Enumerable.Range(0, ctx.Slots).Select(j => (((a[j] * b[j]) + c[j]) * ra2[j] * b[j]) + Complex.Conjugate(c[j])).ToArray();
        // re-tagging scales that differ by (q_i/Δ) introduces a relative error ≤ 2^−30 per step for these primes
        double min = Math.Min(Math.Log2(ctx.Parameters.DefaultScale) - 26, 18);
        AssertPrecision(expected, ctx.Decrypt(result), min, $"{set} depth-3 circuit");
    }

    [Fact]
    public void DepthFourChainStaysWithinTheGrowthRule()
    {
        // |m| ≤ 1, four squarings at Set B's shape: error ≈ 2^d × (fresh + rounding)
        var ctx = CkksTestContext.Get("TestInsecureLogN10SetBShape");
        var ev = ctx.Evaluator;
        var a = ctx.RandomComplex(50, 0.9);
        var ct = ctx.Encrypt(a);
        var expected = a;
        for (int d = 0; d < 4; d++)
        {
            ct = ev.Rescale(ev.Relinearize(ev.Square(ct)));
            expected = Map(expected, x => x * x);
        }

        Assert.Equal(1, ct.Level);
        double bits = CkksTestContext.PrecisionBits(expected, ctx.Decrypt(ct));
        output.WriteLine($"depth 4 at Δ = 2^57, N = 2^10: {bits:F1} bits");
        Assert.True(bits >= 35, $"{bits:F1} bits");
    }

    [Fact]
    public void AllocatingDestinationAndInPlaceShapesAgreeBitForBit()
    {
        var ctx = CkksTestContext.Get("TestInsecureLogN10Depth4");
        var ev = ctx.Evaluator;
        var ca = ctx.Encrypt(ctx.RandomComplex(60));
        var cb = ctx.Encrypt(ctx.RandomComplex(61));
        var ops = new (string Name, Func<Ciphertext, Ciphertext, Ciphertext> Alloc, Action<Ciphertext, Ciphertext, Ciphertext> Dest, Action<Ciphertext, Ciphertext> InPlace)[]
        {
            ("add", ev.Add, ev.Add, ev.AddInPlace),
            ("sub", ev.Sub, ev.Sub, ev.SubInPlace),
            ("multiply+relinearize", ev.MultiplyRelinearize, ev.MultiplyRelinearize, ev.MultiplyRelinearizeInPlace),
            ("rescale", (x, _) => ev.Rescale(x), (x, _, d) => ev.Rescale(x, d), (x, _) => ev.RescaleInPlace(x)),
            ("rotate", (x, _) => ev.Rotate(x, 5), (x, _, d) => ev.Rotate(x, 5, d), (x, _) => ev.RotateInPlace(x, 5)),
            ("conjugate", (x, _) => ev.Conjugate(x), (x, _, d) => ev.Conjugate(x, d), (x, _) => ev.ConjugateInPlace(x)),
            ("negate", (x, _) => ev.Negate(x), (x, _, d) => ev.Negate(x, d), (x, _) => ev.NegateInPlace(x)),
            ("multiply constant", (x, _) => ev.MultiplyConstant(x, 1.5), (x, _, d) => ev.MultiplyConstant(x, 1.5, d), (x, _) => ev.MultiplyConstantInPlace(x, 1.5)),
        };
        foreach (var (name, alloc, dest, inPlace) in ops)
        {
            var r1 = alloc(ca, cb);
            var r2 = new Ciphertext(ctx.Parameters.Rlwe, 2, 0, 1);
            dest(ca, cb, r2);
            var r3 = ca.Clone(ctx.Parameters.Rlwe);
            inPlace(r3, cb);
            foreach (var r in new[] { r2, r3 })
            {
                Assert.True(r1.Size == r.Size && r1.Level == r.Level && r1.Scale == r.Scale, name);
                for (int c = 0; c < r1.Size; c++)
                {
                    Assert.True(r1[c].ContentEquals(r[c]), $"{name}: component {c} differs");
                }
            }
        }
    }

    [Fact]
    public void MismatchedOperandsAreRejectedWithClearErrors()
    {
        var ctx = CkksTestContext.Get("TestInsecureLogN10Depth4");
        var other = CkksTestContext.Get("TestInsecureLogN11Digits2");
        var ev = ctx.Evaluator;
        var ca = ctx.Encrypt(ctx.RandomComplex(70));
        var low = ev.DropLevel(ca, 2);
        var e = Assert.Throws<OperandMismatchException>(() => ev.Add(ca, low));
        Assert.Contains("different levels", e.Message);
        var scaled = ca.Clone(ctx.Parameters.Rlwe);
        scaled.Scale *= 2;
        Assert.Contains("different scales", Assert.Throws<OperandMismatchException>(() => ev.Add(ca, scaled)).Message);
        Assert.Contains("other parameters", Assert.Throws<OperandMismatchException>(() => ev.Add(ca, other.Encrypt(other.RandomComplex(1)))).Message);
        var noKeys = new CkksEvaluator(ctx.Parameters);
        Assert.Contains("relinearization key", Assert.Throws<OperandMismatchException>(() => noKeys.Relinearize(ev.Multiply(ca, ca))).Message);
        Assert.Contains("Galois key", Assert.Throws<OperandMismatchException>(() => noKeys.Rotate(ca, 1)).Message);
        Assert.Throws<OperandMismatchException>(() => ev.Rescale(ev.DropLevel(ca, 0)));
        Assert.Throws<OperandMismatchException>(() => ev.Multiply(ev.Multiply(ca, ca), ca));
        Assert.Throws<OperandMismatchException>(() => ev.MultiplyConstant(ev.DropLevel(ca, 0), 2.0));
    }

    [Fact]
    public void EncryptionIsHomomorphicForAdditionAndMultiplication()
    {
        var ctx = CkksTestContext.Get("TestInsecureLogN10Depth4");
        var ev = ctx.Evaluator;
        var values = Gen.ArrayOf(Gen.Choose(-1000, 1000).Select(v => v / 100.0), 8).ToArbitrary();
        Prop.ForAll(values, values, (x, y) =>
        {
            var cx = ctx.Encryptor.Encrypt(ctx.Encoder.Encode(x));
            var cy = ctx.Encryptor.Encrypt(ctx.Encoder.Encode(y));
            var sum = ctx.Encoder.Decode(ctx.Decryptor.Decrypt(ev.Add(cx, cy)));
            var prod = ctx.Encoder.Decode(ctx.Decryptor.Decrypt(ev.Rescale(ev.MultiplyRelinearize(cx, cy))));
            bool ok = true;
            for (int i = 0; i < 8; i++)
            {
                ok &= Math.Abs(sum[i] - (x[i] + y[i])) < 1e-6;
                ok &= Math.Abs(prod[i] - (x[i] * y[i])) < 1e-5;
            }

            for (int i = 8; i < 16; i++)
            {
                ok &= Math.Abs(sum[i]) < 1e-6 && Math.Abs(prod[i]) < 1e-5; // padding stays zero
            }

            return ok;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(25));
    }
}
