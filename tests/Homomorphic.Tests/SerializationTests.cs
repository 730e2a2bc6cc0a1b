using System.Buffers.Binary;
using System.Security.Cryptography;
using PrivateHealth.Homomorphic.Serialization;

namespace PrivateHealth.Homomorphic.Tests;

public sealed class SerializationTests(ITestOutputHelper output)
{
    private static CkksTestContext Ctx => CkksTestContext.Get("TestInsecureLogN10Depth4");

    private static void AssertSameCiphertext(Ciphertext a, Ciphertext b)
    {
        Assert.Equal(a.ParametersId, b.ParametersId);
        Assert.Equal(a.Size, b.Size);
        Assert.Equal(a.Level, b.Level);
        Assert.Equal(a.Scale, b.Scale);
        for (int c = 0; c < a.Size; c++)
        {
            Assert.True(a[c].ContentEquals(b[c]), $"component {c} differs");
        }
    }

    /// <summary>Recomputes the trailing digest so that structural validation (not the digest) is what a mutation meets.</summary>
    private static void Reseal(byte[] buffer) =>
        SHA256.HashData(buffer.AsSpan(0, buffer.Length - CkksSerializer.DigestSize), buffer.AsSpan(buffer.Length - CkksSerializer.DigestSize));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EveryObjectRoundTrips(bool bitPack)
    {
        var ctx = Ctx;
        var s = new CkksSerializer(ctx.Parameters, bitPack);
        var ct = ctx.Encrypt(ctx.RandomComplex(1));
        AssertSameCiphertext(ct, s.DeserializeCiphertext(s.Serialize(ct)));
        var ct3 = ctx.Evaluator.Multiply(ct, ct);
        AssertSameCiphertext(ct3, s.DeserializeCiphertext(s.Serialize(ct3)));
        var low = ctx.Evaluator.DropLevel(ct, 1);
        AssertSameCiphertext(low, s.DeserializeCiphertext(s.Serialize(low)));

        var pt = ctx.Encoder.Encode([1.0, 2.0], 2, 12345.5);
        var pt2 = s.DeserializePlaintext(s.Serialize(pt));
        Assert.True(pt.Value.ContentEquals(pt2.Value) && pt.Scale == pt2.Scale && pt.Level == pt2.Level);

        var pk2 = s.DeserializePublicKey(s.Serialize(ctx.PublicKey));
        Assert.True(pk2.A.ContentEquals(ctx.PublicKey.A) && pk2.B.ContentEquals(ctx.PublicKey.B));
        var sk2 = s.DeserializeSecretKey(s.Serialize(ctx.SecretKey));
        Assert.True(sk2.Value.ContentEquals(ctx.SecretKey.Value));

        var rlk = ctx.Evaluator.Keys.RelinearizationKey!;
        var rlk2 = s.DeserializeRelinearizationKey(s.Serialize(rlk));
        Assert.All(Enumerable.Range(0, rlk.DigitCount), j => Assert.True(rlk.B[j].ContentEquals(rlk2.B[j]) && rlk.A[j].ContentEquals(rlk2.A[j])));
        var gk = ctx.Evaluator.Keys.GaloisKeys.Values.First();
        var gk2 = s.DeserializeGaloisKey(s.Serialize(gk));
        Assert.Equal(gk.GaloisElement, gk2.GaloisElement);
        Assert.All(Enumerable.Range(0, gk.DigitCount), j => Assert.True(gk.B[j].ContentEquals(gk2.B[j]) && gk.A[j].ContentEquals(gk2.A[j])));

        // deserialized keys work: an evaluator built from them relinearizes and rotates correctly
        var ev = new CkksEvaluator(ctx.Parameters, new EvaluationKeySet(rlk2, [gk2]));
        var z = ctx.RandomComplex(2);
        var cz = ctx.Encrypt(z);
        var sq = ctx.Decrypt(ev.Rescale(ev.MultiplyRelinearize(cz, cz)));
        Assert.True(CkksTestContext.PrecisionBits([.. z.Select(x => x * x)], sq) > 20);
    }

    [Fact]
    public void ParametersRoundTripToTheSameId()
    {
        foreach (var name in CkksParametersLiteral.Presets.Keys.Concat(CkksTestContext.TestSets.Keys))
        {
            var literal = CkksParametersLiteral.Presets.TryGetValue(name, out var l) ? l : CkksTestContext.TestSets[name];
            var p = CkksParameters.FromLiteral(literal);
            var p2 = CkksSerializer.DeserializeParameters(CkksSerializer.SerializeParameters(p));
            Assert.Equal(p.Id, p2.Id);
            Assert.Equal(p.Q, p2.Q);
            Assert.Equal(p.P, p2.P);
            Assert.Equal(p.DefaultScale, p2.DefaultScale);
        }
    }

    [Fact]
    public void SeededCiphertextsAreHalfSizeAndReexpand()
    {
        var ctx = Ctx;
        var s = new CkksSerializer(ctx.Parameters);
        var z = ctx.RandomComplex(3);
        var seeded = ctx.SecretEncryptor.Encrypt(ctx.Encoder.Encode(z));
        var full = ctx.Encrypt(z);
        byte[] seededBytes = s.Serialize(seeded);
        byte[] fullBytes = s.Serialize(full);
        output.WriteLine($"seeded {seededBytes.Length} B, full {fullBytes.Length} B");
        Assert.True(seededBytes.Length < (fullBytes.Length / 2) + 200);
        var back = s.DeserializeCiphertext(seededBytes);
        AssertSameCiphertext(seeded, back);
        Assert.True(CkksTestContext.PrecisionBits(z, ctx.Decrypt(back)) > 25);
    }

    [Fact]
    public void BitPackingShrinksLimbsToTheirWidth()
    {
        var ctx = Ctx; // primes of 55 and 45 bits
        var ct = ctx.Encrypt(ctx.RandomComplex(4));
        long packed = new CkksSerializer(ctx.Parameters, true).Serialize(ct).Length;
        long wide = new CkksSerializer(ctx.Parameters, false).Serialize(ct).Length;
        long bits = ctx.Parameters.Rlwe.Q.Moduli.Sum(m => m.BitCount);
        Assert.Equal(CkksSerializer.HeaderSize + CkksSerializer.DigestSize + (2 * ctx.Parameters.N * bits / 8), packed);
        Assert.Equal(CkksSerializer.HeaderSize + CkksSerializer.DigestSize + (2 * ctx.Parameters.N * 8 * ctx.Parameters.Q.Count), wide);
    }

    [Fact]
    public void MalformedInputIsRejectedWithASpecificError()
    {
        var ctx = Ctx;
        var s = new CkksSerializer(ctx.Parameters);
        byte[] good = s.Serialize(ctx.Encrypt(ctx.RandomComplex(5)));
        FormatError Fail(byte[] b, bool reseal = true)
        {
            if (reseal && b.Length >= CkksSerializer.HeaderSize + CkksSerializer.DigestSize)
            {
                Reseal(b);
            }

            return Assert.Throws<HomomorphicFormatException>(() => s.DeserializeCiphertext(b)).Error;
        }

        byte[] Copy() => (byte[])good.Clone();

        Assert.Equal(FormatError.Truncated, Fail(good[..50], reseal: false));
        Assert.Equal(FormatError.Truncated, Fail(good[..^1], reseal: false));
        var longer = new byte[good.Length + 8];
        good.CopyTo(longer, 0);
        Assert.Equal(FormatError.LengthMismatch, Fail(longer, reseal: false));
        var b = Copy(); b[0] = (byte)'X';
        Assert.Equal(FormatError.BadMagic, Fail(b));
        b = Copy(); b[4] = 9;
        Assert.Equal(FormatError.UnsupportedVersion, Fail(b));
        b = Copy(); b[6] = (byte)ObjectKind.PublicKey;
        Assert.Equal(FormatError.WrongKind, Fail(b));
        b = Copy(); b[6] = 200;
        Assert.Equal(FormatError.WrongKind, Fail(b));
        b = Copy(); b[7] = 0x80;
        Assert.Equal(FormatError.UnknownFlags, Fail(b));
        b = Copy(); b[20] ^= 1;
        Assert.Equal(FormatError.ParametersMismatch, Fail(b));
        b = Copy(); BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(48), 9);
        Assert.Equal(FormatError.InvalidMetadata, Fail(b));
        b = Copy(); BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(48), 1); // consistent level, wrong length
        Assert.Equal(FormatError.LengthMismatch, Fail(b));
        b = Copy(); BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(52), 1000);
        Assert.Equal(FormatError.InvalidMetadata, Fail(b));
        b = Copy(); BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(56), double.NaN);
        Assert.Equal(FormatError.InvalidMetadata, Fail(b));
        b = Copy(); BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(56), -1);
        Assert.Equal(FormatError.InvalidMetadata, Fail(b));
        // an oversized declared length must not allocate: rejected before anything is read
        b = Copy(); BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), long.MaxValue);
        Assert.Equal(FormatError.Truncated, Fail(b, reseal: false));
        // a coefficient ≥ q: first coefficient of limb 0 set to all ones (55-bit packed)
        b = Copy();
        for (int i = 0; i < 7; i++)
        {
            b[CkksSerializer.HeaderSize + i] = 0xFF;
        }

        Assert.Equal(FormatError.CoefficientOutOfRange, Fail(b));
        // a bit flip without resealing breaks the digest
        b = Copy(); b[CkksSerializer.HeaderSize + 100] ^= 4;
        Assert.Equal(FormatError.DigestMismatch, Fail(b, reseal: false));
        // a trivial ciphertext (c1 = 0) is not an encryption
        var trivial = ctx.Encrypt(ctx.RandomComplex(6));
        trivial[1].Clear();
        Assert.Equal(FormatError.TrivialCiphertext, Fail(s.Serialize(trivial)));
        // parameters of another set
        var other = CkksTestContext.Get("TestInsecureLogN11Digits2");
        Assert.Equal(FormatError.ParametersMismatch, Fail(new CkksSerializer(other.Parameters).Serialize(other.Encrypt(other.RandomComplex(1)))));
        // a key where a ciphertext is expected
        Assert.Equal(FormatError.WrongKind, Fail(s.Serialize(ctx.PublicKey)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ThousandsOfCorruptedBuffersAreRejectedOrDecodeToTheirOwnBytes(bool reseal)
    {
        // Each mutation either raises HomomorphicFormatException, or decodes to an object whose serialization is
        // byte-identical to the mutated input (no silent misreading), or — without resealing — must hit the digest.
        var ctx = Ctx;
        var s = new CkksSerializer(ctx.Parameters);
        byte[][] goods = [s.Serialize(ctx.Encrypt(ctx.RandomComplex(7))), s.Serialize(ctx.SecretEncryptor.Encrypt(ctx.Encoder.Encode([3.0]))), s.Serialize(ctx.Evaluator.DropLevel(ctx.Encrypt(ctx.RandomComplex(8)), 0))];
        var rng = new Random(reseal ? 99 : 98);
        int rejected = 0, accepted = 0;
        for (int iter = 0; iter < 3000; iter++)
        {
            byte[] good = goods[iter % goods.Length];
            byte[] b;
            switch (rng.Next(4))
            {
                case 0: // flip bits, biased towards the header
                    b = (byte[])good.Clone();
                    for (int k = rng.Next(1, 4); k > 0; k--)
                    {
                        int pos = rng.Next(2) == 0 ? rng.Next(CkksSerializer.HeaderSize) : rng.Next(b.Length);
                        b[pos] ^= (byte)(1 << rng.Next(8));
                    }

                    break;
                case 1: // truncate
                    b = good[..rng.Next(good.Length)];
                    break;
                case 2: // random header field values
                    b = (byte[])good.Clone();
                    int field = new[] { 4, 6, 7, 8, 48, 52, 56, 64 }[rng.Next(8)];
                    BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(field), (ulong)rng.NextInt64() >> rng.Next(64));
                    break;
                default: // splice: extend with random bytes
                    b = new byte[good.Length + rng.Next(1, 64)];
                    good.CopyTo(b, 0);
                    rng.NextBytes(b.AsSpan(good.Length));
                    break;
            }

            if (reseal && b.Length >= CkksSerializer.HeaderSize + CkksSerializer.DigestSize)
            {
                Reseal(b);
            }

            try
            {
                var ct = s.DeserializeCiphertext(b);
                Assert.True(reseal || b.AsSpan().SequenceEqual(good), "an unsealed mutation passed the digest");
                Assert.Equal(b, s.Serialize(ct));
                accepted++;
            }
            catch (HomomorphicFormatException)
            {
                rejected++;
            }
        }

        output.WriteLine($"reseal={reseal}: {rejected} rejected, {accepted} decoded to their own bytes");
        Assert.True(rejected > 1000);
    }
}
