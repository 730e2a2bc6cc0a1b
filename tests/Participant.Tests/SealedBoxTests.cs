using System.Buffers.Binary;
using System.Security.Cryptography;
using PrivateHealth.Participant.Network;

namespace PrivateHealth.Participant.Tests;

/// <summary>
/// The sealed box carrying threshold re-sharing shares between custodians through the (untrusted) coordinator:
/// u16 spki length ‖ ephemeral SPKI ‖ 12-byte nonce ‖ 16-byte tag ‖ ciphertext.
/// </summary>
public sealed class SealedBoxTests : IDisposable
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const string Context = "session-01/1/2";

    private readonly ECDiffieHellman _recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDiffieHellman _other = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        _recipient.Dispose();
        _other.Dispose();
    }

    private byte[] RecipientSpki => _recipient.ExportSubjectPublicKeyInfo();

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(4096)]
    [InlineData(1024 * 1024)]
    public void SealThenOpenRoundTrips(int length)
    {
        var plaintext = RandomBytes(new Random(length), length);
        var box = SealedBox.Seal(RecipientSpki, plaintext, Context);
        Assert.Equal(plaintext, SealedBox.Open(_recipient, box, Context));
    }

    [Fact]
    public void SealedBoxHasTheDocumentedLayout()
    {
        var plaintext = new byte[] { 1, 2, 3, 4, 5 };
        var box = SealedBox.Seal(RecipientSpki, plaintext, Context);
        int spkiLength = BinaryPrimitives.ReadUInt16LittleEndian(box);
        Assert.Equal(2 + spkiLength + NonceSize + TagSize + plaintext.Length, box.Length);
        using var ephemeral = ECDiffieHellman.Create();
        ephemeral.ImportSubjectPublicKeyInfo(box.AsSpan(2, spkiLength), out int read);
        Assert.Equal(spkiLength, read);
        Assert.Equal(256, ephemeral.KeySize);

        // The ciphertext does not contain the plaintext in clear.
        Assert.NotEqual(plaintext, box[^plaintext.Length..]);
    }

    [Fact]
    public void RandomPayloadsAndContextsRoundTrip()
    {
        // Seeded property test (FsCheck is not referenced by this project): random payloads and contexts, including
        // non-ASCII ones, round-trip and are bound to their context.
        var random = new Random(20240611);
        string[] alphabet = ["a", "Z", "0", "/", " ", "é", "雪", "🙂", "\0", "-"];
        for (int i = 0; i < 60; i++)
        {
            var plaintext = RandomBytes(random, random.Next(0, 3000));
            string context = string.Concat(Enumerable.Range(0, random.Next(0, 40)).Select(_ => alphabet[random.Next(alphabet.Length)]));
            var box = SealedBox.Seal(RecipientSpki, plaintext, context);
            Assert.Equal(plaintext, SealedBox.Open(_recipient, box, context));
            Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(_recipient, box, context + "x"));
        }
    }

    [Fact]
    public void OpeningWithAnotherRecipientsKeyFails()
    {
        var box = SealedBox.Seal(RecipientSpki, "share"u8, Context);
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(_other, box, Context));
    }

    [Theory]
    [InlineData("session-01/1/3")]
    [InlineData("session-01/2/1")]
    [InlineData("session-02/1/2")]
    [InlineData("")]
    [InlineData("session-01/1/2 ")]
    public void OpeningUnderADifferentContextFails(string context)
    {
        var box = SealedBox.Seal(RecipientSpki, "share"u8, Context);
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(_recipient, box, context));
    }

    [Fact]
    public void EmptyContextRoundTrips()
    {
        var box = SealedBox.Seal(RecipientSpki, "share"u8, string.Empty);
        Assert.Equal("share"u8.ToArray(), SealedBox.Open(_recipient, box, string.Empty));
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(_recipient, box, Context));
    }

    // Box offsets of the ephemeral SPKI's namedCurve OID value (2A 86 48 CE 3D 03 01 07 = 1.2.840.10045.3.1.7):
    // u16 header (2) + SEQUENCE (2) + AlgorithmIdentifier SEQUENCE (2) + id-ecPublicKey TLV (9) + OID tag/length (2).
    private const int CurveOidStart = 17;
    private const int CurveOidEnd = 25;

    [Fact]
    public void EverySingleBitFlipIsRejected()
    {
        // Every bit of a small box: length header, ephemeral SPKI (DER structure, OIDs, point), nonce, tag, body.
        var box = SealedBox.Seal(RecipientSpki, RandomBytes(new Random(7), 24), Context);
        Assert.Equal("2A8648CE3D030107", Convert.ToHexString(box, CurveOidStart, CurveOidEnd - CurveOidStart));
        for (int bit = 0; bit < box.Length * 8; bit++)
        {
            var tampered = (byte[])box.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            var ex = Record.Exception(() => SealedBox.Open(_recipient, tampered, Context));
            bool inCurveOid = bit / 8 is >= CurveOidStart and < CurveOidEnd;

            // Inside the curve OID the current code lets PlatformNotSupportedException escape (see the skipped test
            // below); everywhere else the documented CryptographicException is required.
            Assert.True(ex is CryptographicException || (inCurveOid && ex is PlatformNotSupportedException), $"bit {bit} (byte {bit / 8}): {ex?.GetType().FullName ?? "accepted"}");
        }
    }

    [Fact]
    public void ATamperedCurveOidIsRejectedWithCryptographicException()
    {
        var box = SealedBox.Seal(RecipientSpki, RandomBytes(new Random(7), 24), Context);
        for (int bit = CurveOidStart * 8; bit < CurveOidEnd * 8; bit++)
        {
            var tampered = (byte[])box.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            var ex = Record.Exception(() => SealedBox.Open(_recipient, tampered, Context));
            Assert.True(ex is CryptographicException, $"bit {bit} (byte {bit / 8}): {ex?.GetType().FullName ?? "accepted"}");
        }
    }

    [Fact]
    public void BitFlipsInALargeBoxAreRejected()
    {
        var box = SealedBox.Seal(RecipientSpki, RandomBytes(new Random(8), 1024 * 1024), Context);
        int spkiLength = BinaryPrimitives.ReadUInt16LittleEndian(box);
        int body = 2 + spkiLength + NonceSize + TagSize;
        int[] positions = [0, 1, 2, 2 + spkiLength - 1, 2 + spkiLength, 2 + spkiLength + NonceSize, body - 1, body, body + 12345, box.Length / 2, box.Length - 1];
        foreach (int position in positions)
        {
            var tampered = (byte[])box.Clone();
            tampered[position] ^= 0x80;
            Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(_recipient, tampered, Context));
        }
    }

    [Fact]
    public void EveryTruncationFailsWithCryptographicException()
    {
        var box = SealedBox.Seal(RecipientSpki, RandomBytes(new Random(9), 40), Context);
        for (int length = 0; length < box.Length; length++)
        {
            var ex = Record.Exception(() => SealedBox.Open(_recipient, box.AsSpan(0, length), Context));
            Assert.True(ex is CryptographicException, $"length {length}: {ex?.GetType().FullName ?? "accepted"}");
        }

        // Dropping bytes from the front (or a trailing byte appended) is rejected as well.
        for (int skip = 1; skip < box.Length; skip += 7)
        {
            var ex = Record.Exception(() => SealedBox.Open(_recipient, box.AsSpan(skip), Context));
            Assert.True(ex is CryptographicException, $"skip {skip}: {ex?.GetType().FullName ?? "accepted"}");
        }

        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(_recipient, [.. box, 0], Context));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(90)]
    [InlineData(92)]
    [InlineData(ushort.MaxValue)]
    public void ALyingLengthHeaderFailsCleanly(int declared)
    {
        var box = SealedBox.Seal(RecipientSpki, RandomBytes(new Random(10), 200), Context);
        BinaryPrimitives.WriteUInt16LittleEndian(box, (ushort)declared);
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(_recipient, box, Context));
    }

    [Fact]
    public void GarbageFailsCleanly()
    {
        var random = new Random(11);
        for (int i = 0; i < 200; i++)
        {
            var garbage = RandomBytes(random, random.Next(0, 300));
            if (garbage.Length >= 2 && random.Next(2) == 0)
            {
                // Plausible header so the SPKI parser is reached.
                BinaryPrimitives.WriteUInt16LittleEndian(garbage, (ushort)Math.Min(91, garbage.Length - 2));
            }

            var ex = Record.Exception(() => SealedBox.Open(_recipient, garbage, Context));
            Assert.True(ex is CryptographicException, $"case {i}: {ex?.GetType().FullName ?? "accepted"}");
        }
    }

    [Fact]
    public void TwoSealsOfTheSamePlaintextDiffer()
    {
        var plaintext = RandomBytes(new Random(12), 64);
        var a = SealedBox.Seal(RecipientSpki, plaintext, Context);
        var b = SealedBox.Seal(RecipientSpki, plaintext, Context);
        Assert.Equal(a.Length, b.Length);
        int spkiLength = BinaryPrimitives.ReadUInt16LittleEndian(a);
        Assert.False(a.AsSpan(2, spkiLength).SequenceEqual(b.AsSpan(2, spkiLength)), "fresh ephemeral key per seal");
        Assert.False(a.AsSpan(2 + spkiLength, NonceSize).SequenceEqual(b.AsSpan(2 + spkiLength, NonceSize)), "fresh nonce per seal");
        Assert.False(a.AsSpan(2 + spkiLength + NonceSize).SequenceEqual(b.AsSpan(2 + spkiLength + NonceSize)), "different tag and ciphertext");
        Assert.Equal(plaintext, SealedBox.Open(_recipient, a, Context));
        Assert.Equal(plaintext, SealedBox.Open(_recipient, b, Context));
    }

    [Fact]
    public void SealingToAnInvalidSpkiThrowsCryptographicException()
    {
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Seal([], "share"u8, Context));
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Seal(RandomBytes(new Random(13), 91), "share"u8, Context));
        using var rsa = RSA.Create(2048);
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Seal(rsa.ExportSubjectPublicKeyInfo(), "share"u8, Context));
    }

    [Fact]
    public void SealingToAP384KeyIsRefused()
    {
        // The format is P-256 only; a P-384 key registered by a (malicious or misconfigured) custodian must not
        // yield a box. Current behaviour: the key is imported without a curve check and the ECDH step then throws
        // ArgumentException ("keys ... must be the same size"), not CryptographicException.
        using var p384 = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP384);
        var ex = Record.Exception(() => SealedBox.Seal(p384.ExportSubjectPublicKeyInfo(), "share"u8, Context));
        Assert.True(ex is CryptographicException or ArgumentException, ex?.GetType().FullName ?? "a box was produced for a P-384 key");
    }

    [Fact]
    public void SealingToAnotherTwoHundredFiftySixBitCurveIsRefused()
    {
        using var brainpool = ECDiffieHellman.Create(ECCurve.NamedCurves.brainpoolP256r1);
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Seal(brainpool.ExportSubjectPublicKeyInfo(), "share"u8, Context));
    }

    [Fact]
    public void ABoxWithAForeignCurveEphemeralKeyIsRejected()
    {
        // A coordinator substituting a P-384 ephemeral key (with a consistent length header). Documented contract:
        // CryptographicException; current behaviour: ArgumentException from DeriveRawSecretAgreement (the runner
        // also catches ArgumentException, so the task is refused either way).
        using var p384 = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP384);
        var spki = p384.ExportSubjectPublicKeyInfo();
        var forged = new byte[2 + spki.Length + NonceSize + TagSize + 8];
        BinaryPrimitives.WriteUInt16LittleEndian(forged, (ushort)spki.Length);
        spki.CopyTo(forged, 2);
        var ex = Record.Exception(() => SealedBox.Open(_recipient, forged, Context));
        Assert.True(ex is CryptographicException or ArgumentException, ex?.GetType().FullName ?? "accepted");
    }

    [Fact]
    public void NonP256KeysAreRejectedWithCryptographicException()
    {
        using var p384 = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP384);
        var spki = p384.ExportSubjectPublicKeyInfo();
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Seal(spki, "share"u8, Context));
        var forged = new byte[2 + spki.Length + NonceSize + TagSize + 8];
        BinaryPrimitives.WriteUInt16LittleEndian(forged, (ushort)spki.Length);
        spki.CopyTo(forged, 2);
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(_recipient, forged, Context));
    }

    [Fact]
    public void OpenRequiresARecipient() =>
        Assert.Throws<ArgumentNullException>(() => SealedBox.Open(null!, new byte[200], Context));

    [Fact]
    public void ARecipientKeyRestoredFromPkcs8OpensBoxes()
    {
        // The runner persists its agreement key as PKCS#8 in the vault and re-imports it after a restart.
        var box = SealedBox.Seal(RecipientSpki, "share"u8, Context);
        using var restored = ECDiffieHellman.Create();
        restored.ImportPkcs8PrivateKey(_recipient.ExportPkcs8PrivateKey(), out _);
        Assert.Equal("share"u8.ToArray(), SealedBox.Open(restored, box, Context));
    }
}
