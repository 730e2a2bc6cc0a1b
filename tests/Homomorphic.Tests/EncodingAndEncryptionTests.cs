namespace PrivateHealth.Homomorphic.Tests;

public sealed class EncodingAndEncryptionTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(CkksTestContext.PresetNames), MemberType = typeof(CkksTestContext))]
    public void EncodeDecodePrecisionAtEachPreset(string preset)
    {
        var ctx = CkksTestContext.Get(preset);
        var z = ctx.RandomComplex(1);
        var decoded = ctx.Encoder.DecodeComplex(ctx.Encoder.Encode(z));
        double bits = CkksTestContext.PrecisionBits(z, decoded);
        output.WriteLine($"{preset}: encode/decode precision {bits:F1} bits (Δ = 2^{Math.Log2(ctx.Parameters.DefaultScale)})");
        // rounding to Δ costs ≈ log2 Δ − 5 bits; float64 caps it near 45–50 bits
        Assert.True(bits >= Math.Min(Math.Log2(ctx.Parameters.DefaultScale) - 8, 42), $"{bits:F1} bits");
    }

    [Theory]
    [MemberData(nameof(CkksTestContext.PresetNames), MemberType = typeof(CkksTestContext))]
    public void EncryptDecryptPrecisionAtEachPreset(string preset)
    {
        var ctx = CkksTestContext.Get(preset);
        var z = ctx.RandomComplex(2);
        double logScale = Math.Log2(ctx.Parameters.DefaultScale);
        double pkBits = CkksTestContext.PrecisionBits(z, ctx.Decrypt(ctx.Encrypt(z)));
        var skCt = ctx.SecretEncryptor.Encrypt(ctx.Encoder.Encode(z));
        double skBits = CkksTestContext.PrecisionBits(z, ctx.Decrypt(skCt));
        output.WriteLine($"{preset}: public-key {pkBits:F1} bits, secret-key {skBits:F1} bits (Δ = 2^{logScale})");
        // he-reference §1.2 [sim]: max fresh error ≈ 2^13–2^14.3 (pk mod QP + ModDown), ≈ 2^10 (sk), in scaled units
        double floatCap = 44;
        Assert.True(pkBits >= Math.Min(logScale - 16, floatCap), $"public key: {pkBits:F1} bits");
        Assert.True(skBits >= Math.Min(logScale - 12, floatCap), $"secret key: {skBits:F1} bits");
    }

    [Fact]
    public void FreshNoiseMatchesTheReferenceSimulationAtScale2To40()
    {
        // he-reference §6 test 7: Δ = 2^40, N = 2^13: symmetric ≈ 30 bits, pk mod QP + ModDown ≈ 27 bits (±1)
        var ctx = CkksTestContext.Get(nameof(CkksParametersLiteral.LogN13LogQP200));
        var z = ctx.RandomComplex(3);
        var sk = new List<double>();
        var pk = new List<double>();
        for (int i = 0; i < 4; i++)
        {
            sk.Add(CkksTestContext.PrecisionBits(z, ctx.Decrypt(ctx.SecretEncryptor.Encrypt(ctx.Encoder.Encode(z)))));
            pk.Add(CkksTestContext.PrecisionBits(z, ctx.Decrypt(ctx.Encrypt(z))));
        }

        output.WriteLine($"secret-key {sk.Average():F2} bits, public-key {pk.Average():F2} bits");
        Assert.InRange(sk.Average(), 28.5, 32);
        Assert.InRange(pk.Average(), 25.5, 29);
    }

    [Fact]
    public void SlotsAreEvaluationsAtPowersOfFiveOfTheRootOfUnity()
    {
        // N = 16, one prime, level 0: the plaintext coefficients can be read back exactly
        var p = CkksParameters.FromLiteral(new() { LogN = 4, LogQ = [50], LogP = [50], LogDefaultScale = 30, InsecureForTestingOnly = true });
        var encoder = new CkksEncoder(p);
        var rng = new Random(4);
        var z = Enumerable.Range(0, 8).Select(_ => new Complex(rng.NextDouble() - 0.5, rng.NextDouble() - 0.5)).ToArray();
        var pt = encoder.Encode(z, 0, p.DefaultScale);
        var coeffs = pt.Value.Limb(0).ToArray();
        p.Rlwe.Q.Ntt(0).Inverse(coeffs);
        ulong q = p.Q[0];
        double[] m = [.. coeffs.Select(c => (c > q / 2 ? -(double)(q - c) : c) / p.DefaultScale)];
        int g = 1;
        for (int j = 0; j < 8; j++)
        {
            Complex value = 0;
            for (int k = 0; k < 16; k++)
            {
                value += m[k] * Complex.Exp(Complex.ImaginaryOne * Math.PI * g * k / 16);
            }

            Assert.Equal(z[j].Real, value.Real, 1e-7);
            Assert.Equal(z[j].Imaginary, value.Imaginary, 1e-7);
            g = g * 5 % 32;
        }
    }

    [Fact]
    public void RealInputsDecodeWithZeroImaginaryParts()
    {
        var ctx = CkksTestContext.Get("TestInsecureLogN10Depth4");
        var rng = new Random(5);
        double[] x = [.. Enumerable.Range(0, ctx.Slots).Select(_ => rng.NextDouble() * 100 - 50)];
        var decoded = ctx.Decrypt(ctx.Encryptor.Encrypt(ctx.Encoder.Encode(x)));
        Assert.All(decoded, c => Assert.True(Math.Abs(c.Imaginary) < 1e-6));
        Assert.True(CkksTestContext.PrecisionBits([.. x.Select(v => new Complex(v, 0))], decoded) > 20);
    }

    [Fact]
    public void LargeScaleEncodingUsesTheMultiwordPath()
    {
        // Set A: Δ = 2^70, so Δ·z exceeds 64 bits
        var ctx = CkksTestContext.Get(nameof(CkksParametersLiteral.AggregationLogN13LogQP216));
        var rng = new Random(6);
        double[] x = [.. Enumerable.Range(0, ctx.Slots).Select(_ => (rng.NextDouble() * 2 - 1) * 1e6)];
        var decoded = ctx.Encoder.Decode(ctx.Encoder.Encode(x));
        double maxErr = x.Zip(decoded, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"Δ = 2^70, |x| ≤ 1e6: max error {maxErr:E2} ({-Math.Log2(maxErr):F1} bits)");
        Assert.True(maxErr < 1e-8);
    }

    [Fact]
    public void EncoderRejectsBadInput()
    {
        var ctx = CkksTestContext.Get("TestInsecureLogN10Depth4");
        Assert.Throws<ArgumentException>(() => ctx.Encoder.Encode(new double[ctx.Slots + 1]));
        Assert.Throws<ArgumentException>(() => ctx.Encoder.Encode([double.NaN]));
        Assert.Throws<ArgumentException>(() => ctx.Encoder.Encode([double.PositiveInfinity]));
        Assert.Throws<ArgumentException>(() => ctx.Encoder.Encode([1e30], 0, ctx.Parameters.DefaultScale));
        Assert.Throws<ArgumentOutOfRangeException>(() => ctx.Encoder.Encode([1.0], ctx.Parameters.MaxLevel + 1, 1.0));
    }

    [Fact]
    public void DecodePublicRoundsToTheRequestedPrecision()
    {
        var ctx = CkksTestContext.Get("TestInsecureLogN10Depth4");
        double[] x = [.. Enumerable.Range(0, ctx.Slots).Select(i => (i * 0.123456789) - 7)];
        var pt = ctx.Decryptor.Decrypt(ctx.Encryptor.Encrypt(ctx.Encoder.Encode(x)));
        var y = new double[ctx.Slots];
        ctx.Encoder.DecodePublic(pt, y, 10);
        for (int i = 0; i < y.Length; i++)
        {
            Assert.Equal(0, (y[i] * 1024) - Math.Round(y[i] * 1024));
            Assert.True(Math.Abs(y[i] - x[i]) <= (0.5 / 1024) + 1e-6);
        }
    }

    [Fact]
    public void SeededSecretKeyCiphertextReexpandsToTheSameC1()
    {
        var ctx = CkksTestContext.Get("TestInsecureLogN10Depth4");
        var ct = ctx.SecretEncryptor.Encrypt(ctx.Encoder.Encode([1.0, 2.0]));
        Assert.NotNull(ct.C1Seed);
        var a = new Poly(ctx.Parameters.N, 1);
        Encryptor.ExpandSeededA(ctx.Parameters.Rlwe, ct.C1Seed, ct.Level, a);
        Assert.True(a.ContentEquals(ct[1]));
        // a dropped level keeps a valid seed: the expansion is limb by limb
        var dropped = ctx.Evaluator.DropLevel(ct, 1);
        Assert.NotNull(dropped.C1Seed);
        Encryptor.ExpandSeededA(ctx.Parameters.Rlwe, dropped.C1Seed, 1, a);
        Assert.True(a.ContentEquals(dropped[1]));
        // any arithmetic clears it
        Assert.Null(ctx.Evaluator.Add(ct, ct).C1Seed);
    }
}
