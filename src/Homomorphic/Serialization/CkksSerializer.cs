using System.Buffers.Binary;
using System.Security.Cryptography;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Serialization;

/// <summary>Kind of a serialized object (byte 6 of the header).</summary>
public enum ObjectKind : byte
{
    Parameters = 1,
    Plaintext = 2,
    Ciphertext = 3,
    SecretKey = 4,
    PublicKey = 5,
    RelinearizationKey = 6,
    GaloisKey = 7,
    PublicKeyShare = 16,
    RelinearizationRound1Share = 17,
    RelinearizationRound2Share = 18,
    GaloisKeyShare = 19,
    KeySwitchShare = 20,
    PublicKeySwitchShare = 21,
    ThresholdShare = 22,
}

/// <summary>Header flags (byte 7).</summary>
[Flags]
public enum FormatFlags : byte
{
    None = 0,
    /// <summary>Each limb is packed at ⌈log2 q_i⌉ bits per coefficient instead of 64.</summary>
    BitPacked = 1,
    /// <summary>The ciphertext's c_1 is replaced by the 32-byte seed it expands from.</summary>
    SeededC1 = 2,
}

/// <summary>The fixed-size header of every serialized object.</summary>
public readonly record struct ObjectHeader(ObjectKind Kind, FormatFlags Flags, long TotalLength, ParametersId ParametersId, int Level, int Components, double Scale, ulong Extra);

/// <summary>
/// Versioned binary format for parameters, plaintexts, ciphertexts (full and seeded) and keys.
/// <code>
/// offset size
///  0      4   magic "PHHE"
///  4      2   format version (1)
///  6      1   kind (ObjectKind)
///  7      1   flags (FormatFlags)
///  8      8   total length in bytes, header and digest included
/// 16     32   parameters id
/// 48      4   level (ciphertexts, plaintexts) or the top level (keys)
/// 52      4   component count (polynomials; 2·digits for switching keys)
/// 56      8   scale (IEEE 754 double; 0 for keys)
/// 64      8   extra (Galois element for Galois keys, else 0)
/// 72      …   body: polynomials, limb by limb, coefficients little-endian (64-bit or bit-packed)
/// end−32 32   SHA-256 of every preceding byte
/// </code>
/// Deserialization checks, before allocating, that the declared length equals the length computed from the
/// metadata and the parameters, and equals the input length; then the digest, then every coefficient &lt; q_i.
/// The trailing digest doubles as a verified content id (<see cref="ContentId"/>). Thread-safe.
/// </summary>
public sealed class CkksSerializer
{
    public const int HeaderSize = 72;
    public const int DigestSize = 32;
    public const ushort Version = 1;
    private static ReadOnlySpan<byte> Magic => "PHHE"u8;

    private readonly CkksParameters _p;
    private readonly RlweParameters _r;

    /// <param name="parameters">The parameters every object must belong to.</param>
    /// <param name="bitPack">Write limbs at their bit width (default); reading accepts both.</param>
    public CkksSerializer(CkksParameters parameters, bool bitPack = true)
    {
        _p = parameters;
        _r = parameters.Rlwe;
        BitPack = bitPack;
    }

    public bool BitPack { get; }

    // ------------------------------------------------------------------ sizes

    private int LimbBytes(int keyIndex, bool packed) => packed ? checked(_r.N * _r.QP[keyIndex].BitCount / 8) : _r.N * 8;

    private long PolyBytes(int limbs, bool packed)
    {
        long total = 0;
        for (int i = 0; i < limbs; i++)
        {
            total += LimbBytes(i, packed);
        }

        return total;
    }

    private long KeyPolyBytes(bool packed) => PolyBytes(_r.QP.Count, packed);

    /// <summary>Serialized size of a ciphertext of the given shape.</summary>
    public long CiphertextSize(int size, int level, bool seeded) =>
        HeaderSize + DigestSize + (seeded ? PolyBytes(level + 1, BitPack) + Prng.SeedSize : size * PolyBytes(level + 1, BitPack));

    // ------------------------------------------------------------------ writing

    public byte[] Serialize(Ciphertext ciphertext)
    {
        CheckId(ciphertext.ParametersId);
        bool seeded = ciphertext.C1Seed is not null && ciphertext.Size == 2;
        int level = ciphertext.Level;
        var flags = (BitPack ? FormatFlags.BitPacked : 0) | (seeded ? FormatFlags.SeededC1 : 0);
        long length = CiphertextSize(ciphertext.Size, level, seeded);
        var buffer = new byte[length];
        WriteHeader(buffer, ObjectKind.Ciphertext, flags, level, ciphertext.Size, ciphertext.Scale, 0);
        int offset = HeaderSize;
        offset = WritePoly(buffer, offset, ciphertext[0], level + 1);
        if (seeded)
        {
            ciphertext.C1Seed.CopyTo(buffer.AsSpan(offset));
            offset += Prng.SeedSize;
        }
        else
        {
            for (int c = 1; c < ciphertext.Size; c++)
            {
                offset = WritePoly(buffer, offset, ciphertext[c], level + 1);
            }
        }

        Seal(buffer, offset);
        return buffer;
    }

    public byte[] Serialize(Plaintext plaintext)
    {
        CheckId(plaintext.ParametersId);
        int level = plaintext.Level;
        var buffer = new byte[HeaderSize + DigestSize + PolyBytes(level + 1, BitPack)];
        WriteHeader(buffer, ObjectKind.Plaintext, BitPack ? FormatFlags.BitPacked : 0, level, 1, plaintext.Scale, 0);
        Seal(buffer, WritePoly(buffer, HeaderSize, plaintext.Value, level + 1));
        return buffer;
    }

    /// <summary>Serializes a secret key. Its bytes are the secret: encrypt them at rest and wipe buffers after use.</summary>
    public byte[] Serialize(SecretKey secretKey)
    {
        CheckId(secretKey.ParametersId);
        return SerializeKeyPolys(ObjectKind.SecretKey, [secretKey.Value], 0);
    }

    public byte[] Serialize(PublicKey publicKey)
    {
        CheckId(publicKey.ParametersId);
        return SerializeKeyPolys(ObjectKind.PublicKey, [publicKey.B, publicKey.A], 0);
    }

    public byte[] Serialize(RelinearizationKey key)
    {
        CheckId(key.ParametersId);
        return SerializeKeyPolys(ObjectKind.RelinearizationKey, Interleave(key), 0);
    }

    public byte[] Serialize(GaloisKey key)
    {
        CheckId(key.ParametersId);
        return SerializeKeyPolys(ObjectKind.GaloisKey, Interleave(key), key.GaloisElement);
    }

    private static Poly[] Interleave(SwitchingKey key)
    {
        var polys = new Poly[2 * key.DigitCount];
        for (int j = 0; j < key.DigitCount; j++)
        {
            polys[2 * j] = key.B[j];
            polys[(2 * j) + 1] = key.A[j];
        }

        return polys;
    }

    private byte[] SerializeKeyPolys(ObjectKind kind, Poly[] polys, ulong extra)
    {
        var buffer = new byte[HeaderSize + DigestSize + (polys.Length * KeyPolyBytes(BitPack))];
        WriteHeader(buffer, kind, BitPack ? FormatFlags.BitPacked : 0, _r.MaxLevel, polys.Length, 0, extra);
        int offset = HeaderSize;
        foreach (var poly in polys)
        {
            offset = WritePoly(buffer, offset, poly, _r.QP.Count);
        }

        Seal(buffer, offset);
        return buffer;
    }

    private void WriteHeader(Span<byte> b, ObjectKind kind, FormatFlags flags, int level, int components, double scale, ulong extra)
    {
        Magic.CopyTo(b);
        BinaryPrimitives.WriteUInt16LittleEndian(b[4..], Version);
        b[6] = (byte)kind;
        b[7] = (byte)flags;
        BinaryPrimitives.WriteInt64LittleEndian(b[8..], b.Length);
        _p.Id.Bytes.CopyTo(b[16..]);
        BinaryPrimitives.WriteInt32LittleEndian(b[48..], level);
        BinaryPrimitives.WriteInt32LittleEndian(b[52..], components);
        BinaryPrimitives.WriteDoubleLittleEndian(b[56..], scale);
        BinaryPrimitives.WriteUInt64LittleEndian(b[64..], extra);
    }

    private static void Seal(byte[] buffer, int bodyEnd)
    {
        if (bodyEnd != buffer.Length - DigestSize)
        {
            throw new InvalidOperationException("Serializer size computation is inconsistent.");
        }

        SHA256.HashData(buffer.AsSpan(0, bodyEnd), buffer.AsSpan(bodyEnd));
    }

    /// <summary>Writes limbs [0, limbs) of a polynomial; key polynomials index moduli over Q·P, others over Q.</summary>
    private int WritePoly(byte[] buffer, int offset, Poly poly, int limbs)
    {
        for (int i = 0; i < limbs; i++)
        {
            // Q limbs come first in the key basis Q·P, so limb i has modulus QP[i] in both cases
            var limb = poly.Limb(i);
            if (BitPack)
            {
                offset = BitPacking.Pack(limb, _r.QP[i].BitCount, buffer, offset);
            }
            else
            {
                foreach (ulong v in limb)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(offset), v);
                    offset += 8;
                }
            }
        }

        return offset;
    }

    // ------------------------------------------------------------------ reading

    /// <summary>Reads and validates the header (not the body) of any serialized object.</summary>
    public static ObjectHeader ReadHeader(ReadOnlySpan<byte> data)
    {
        if (data.Length < HeaderSize + DigestSize)
        {
            throw new HomomorphicFormatException(FormatError.Truncated, $"Input of {data.Length} bytes is shorter than a header and digest ({HeaderSize + DigestSize}).");
        }

        if (!data[..4].SequenceEqual(Magic))
        {
            throw new HomomorphicFormatException(FormatError.BadMagic, "Not a PrivateHealth homomorphic object (bad magic).");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
        if (version != Version)
        {
            throw new HomomorphicFormatException(FormatError.UnsupportedVersion, $"Format version {version} is not supported (expected {Version}).");
        }

        var kind = (ObjectKind)data[6];
        if (!Enum.IsDefined(kind))
        {
            throw new HomomorphicFormatException(FormatError.WrongKind, $"Unknown object kind {data[6]}.");
        }

        var flags = (FormatFlags)data[7];
        if ((flags & ~(FormatFlags.BitPacked | FormatFlags.SeededC1)) != 0 || (flags.HasFlag(FormatFlags.SeededC1) && kind != ObjectKind.Ciphertext))
        {
            throw new HomomorphicFormatException(FormatError.UnknownFlags, $"Invalid flags 0x{data[7]:x2} for a {kind}.");
        }

        long total = BinaryPrimitives.ReadInt64LittleEndian(data[8..]);
        if (total != data.Length)
        {
            throw new HomomorphicFormatException(total > data.Length ? FormatError.Truncated : FormatError.LengthMismatch,
                $"Declared length {total} does not match the {data.Length} bytes given.");
        }

        return new ObjectHeader(kind, flags, total, new ParametersId(data.Slice(16, ParametersId.Size)),
            BinaryPrimitives.ReadInt32LittleEndian(data[48..]), BinaryPrimitives.ReadInt32LittleEndian(data[52..]),
            BinaryPrimitives.ReadDoubleLittleEndian(data[56..]), BinaryPrimitives.ReadUInt64LittleEndian(data[64..]));
    }

    /// <summary>The verified SHA-256 digest that closes an object: a content id for de-duplication and storage.</summary>
    public static byte[] ContentId(ReadOnlySpan<byte> data)
    {
        ReadHeader(data);
        VerifyDigest(data);
        return data[^DigestSize..].ToArray();
    }

    private static void VerifyDigest(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[DigestSize];
        SHA256.HashData(data[..^DigestSize], digest);
        if (!CryptographicOperations.FixedTimeEquals(digest, data[^DigestSize..]))
        {
            throw new HomomorphicFormatException(FormatError.DigestMismatch, "The object's digest does not match its contents (corrupted or tampered).");
        }
    }

    private ObjectHeader ReadChecked(ReadOnlySpan<byte> data, ObjectKind expected)
    {
        var h = ReadHeader(data);
        if (h.Kind != expected)
        {
            throw new HomomorphicFormatException(FormatError.WrongKind, $"Expected a {expected}, got a {h.Kind}.");
        }

        if (h.ParametersId != _p.Id)
        {
            throw new HomomorphicFormatException(FormatError.ParametersMismatch,
                $"The {h.Kind} was made under parameters {h.ParametersId.ToString()[..12]}…, not {_p.Id.ToString()[..12]}… ({_p}).");
        }

        return h;
    }

    private static void ExpectLength(ObjectHeader h, long expected)
    {
        if (h.TotalLength != expected)
        {
            throw new HomomorphicFormatException(FormatError.LengthMismatch, $"A {h.Kind} with this metadata is {expected} bytes long, not {h.TotalLength}.");
        }
    }

    /// <summary>Reads a ciphertext. Trivial ciphertexts (c_1 = 0, not encrypted at all) are rejected unless allowed.</summary>
    public Ciphertext DeserializeCiphertext(ReadOnlySpan<byte> data, bool allowTrivial = false)
    {
        var h = ReadChecked(data, ObjectKind.Ciphertext);
        if (h.Level < 0 || h.Level > _r.MaxLevel)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"Level {h.Level} is outside [0, {_r.MaxLevel}].");
        }

        if (h.Components < 2 || h.Components > Ciphertext.MaxSize)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"A ciphertext has 2 or 3 components, not {h.Components}.");
        }

        CheckScale(h.Scale);
        if (h.Extra != 0)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, "Reserved header field is not zero.");
        }

        bool seeded = h.Flags.HasFlag(FormatFlags.SeededC1);
        bool packed = h.Flags.HasFlag(FormatFlags.BitPacked);
        if (seeded && h.Components != 2)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, "Only size-2 ciphertexts can be seeded.");
        }

        long poly = PolyBytes(h.Level + 1, packed);
        ExpectLength(h, HeaderSize + DigestSize + (seeded ? poly + Prng.SeedSize : h.Components * poly));
        VerifyDigest(data);

        var ct = new Ciphertext(_r, h.Components, h.Level, h.Scale);
        int offset = ReadPoly(data, HeaderSize, ct[0], h.Level + 1, packed);
        if (seeded)
        {
            var seed = data.Slice(offset, Prng.SeedSize).ToArray();
            Encryptor.ExpandSeededA(_r, seed, h.Level, ct[1]);
            ct.C1Seed = seed;
        }
        else
        {
            for (int c = 1; c < h.Components; c++)
            {
                offset = ReadPoly(data, offset, ct[c], h.Level + 1, packed);
            }
        }

        if (!allowTrivial && ct[1].AsSpan().IndexOfAnyExcept(0UL) < 0)
        {
            throw new HomomorphicFormatException(FormatError.TrivialCiphertext, "The ciphertext's c1 is zero: it is not encrypted.");
        }

        return ct;
    }

    public Plaintext DeserializePlaintext(ReadOnlySpan<byte> data)
    {
        var h = ReadChecked(data, ObjectKind.Plaintext);
        if (h.Level < 0 || h.Level > _r.MaxLevel || h.Components != 1 || h.Extra != 0)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"Invalid plaintext metadata (level {h.Level}, components {h.Components}).");
        }

        CheckScale(h.Scale);
        bool packed = h.Flags.HasFlag(FormatFlags.BitPacked);
        ExpectLength(h, HeaderSize + DigestSize + PolyBytes(h.Level + 1, packed));
        VerifyDigest(data);
        var pt = new Plaintext(_r, h.Level, h.Scale);
        ReadPoly(data, HeaderSize, pt.Value, h.Level + 1, packed);
        return pt;
    }

    public SecretKey DeserializeSecretKey(ReadOnlySpan<byte> data)
    {
        var polys = ReadKeyPolys(data, ObjectKind.SecretKey, 1, out _);
        var sk = new SecretKey(_r);
        polys[0].CopyTo(sk.Value);
        polys[0].Clear();
        return sk;
    }

    public PublicKey DeserializePublicKey(ReadOnlySpan<byte> data)
    {
        var polys = ReadKeyPolys(data, ObjectKind.PublicKey, 2, out _);
        var pk = new PublicKey(_r);
        polys[0].CopyTo(pk.B);
        polys[1].CopyTo(pk.A);
        return pk;
    }

    public RelinearizationKey DeserializeRelinearizationKey(ReadOnlySpan<byte> data)
    {
        var polys = ReadKeyPolys(data, ObjectKind.RelinearizationKey, 2 * _r.DigitCountMax, out _);
        var key = new RelinearizationKey(_r);
        FillSwitchingKey(key, polys);
        return key;
    }

    public GaloisKey DeserializeGaloisKey(ReadOnlySpan<byte> data)
    {
        var polys = ReadKeyPolys(data, ObjectKind.GaloisKey, 2 * _r.DigitCountMax, out ulong element);
        if ((element & 1) == 0 || element >= 2UL * (ulong)_r.N)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"Galois element {element} must be odd and below 2N.");
        }

        var key = new GaloisKey(_r, element);
        FillSwitchingKey(key, polys);
        return key;
    }

    private static void FillSwitchingKey(SwitchingKey key, Poly[] polys)
    {
        for (int j = 0; j < key.DigitCount; j++)
        {
            polys[2 * j].CopyTo(key.B[j]);
            polys[(2 * j) + 1].CopyTo(key.A[j]);
        }
    }

    private Poly[] ReadKeyPolys(ReadOnlySpan<byte> data, ObjectKind kind, int components, out ulong extra)
    {
        var h = ReadChecked(data, kind);
        if (h.Level != _r.MaxLevel || h.Components != components || h.Scale != 0 || (kind != ObjectKind.GaloisKey && h.Extra != 0))
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata,
                $"Invalid {kind} metadata: level {h.Level} (expected {_r.MaxLevel}), {h.Components} components (expected {components}).");
        }

        bool packed = h.Flags.HasFlag(FormatFlags.BitPacked);
        ExpectLength(h, HeaderSize + DigestSize + (components * KeyPolyBytes(packed)));
        VerifyDigest(data);
        var polys = new Poly[components];
        int offset = HeaderSize;
        for (int c = 0; c < components; c++)
        {
            polys[c] = new Poly(_r.N, _r.QP.Count);
            offset = ReadPoly(data, offset, polys[c], _r.QP.Count, packed);
        }

        extra = h.Extra;
        return polys;
    }

    private int ReadPoly(ReadOnlySpan<byte> data, int offset, Poly poly, int limbs, bool packed)
    {
        for (int i = 0; i < limbs; i++)
        {
            var mod = _r.QP[i];
            var limb = poly.Limb(i);
            if (packed)
            {
                offset = BitPacking.Unpack(data, offset, mod.BitCount, limb);
            }
            else
            {
                for (int j = 0; j < limb.Length; j++)
                {
                    limb[j] = BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]);
                    offset += 8;
                }
            }

            for (int j = 0; j < limb.Length; j++)
            {
                if (limb[j] >= mod.Value)
                {
                    throw new HomomorphicFormatException(FormatError.CoefficientOutOfRange, $"Coefficient {j} of limb {i} is not below its modulus {mod.Value}.");
                }
            }
        }

        return offset;
    }

    private static void CheckScale(double scale)
    {
        if (!double.IsNormal(scale) || scale <= 0 || scale > 1e300)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"Scale {scale} must be a positive, normal, finite number.");
        }
    }

    private void CheckId(ParametersId id)
    {
        if (id != _p.Id)
        {
            throw new ArgumentException("The object belongs to other parameters than this serializer's.");
        }
    }

    // ------------------------------------------------------------------ shares

    /// <summary>Size of the share sub-header after the common header: session id (32), party (4), key-level flag (1), reserved (3).</summary>
    public const int ShareHeaderSize = 40;

    /// <summary>
    /// Serializes a protocol share: the common header (level, polynomial count, Galois element in "extra"), then
    /// session id, party and the key-level flag, then the polynomials (Q_ℓ limbs, or every Q·P limb for key-level
    /// shares), then the digest.
    /// </summary>
    public byte[] Serialize(Share share)
    {
        CheckId(share.ParametersId);
        int limbs = share.KeyLevel ? _r.QP.Count : share.Level + 1;
        long length = HeaderSize + ShareHeaderSize + DigestSize + (share.Polys.Length * PolyBytes(limbs, BitPack));
        var buffer = new byte[length];
        WriteHeader(buffer, (ObjectKind)share.Kind, BitPack ? FormatFlags.BitPacked : 0, share.Level, share.Polys.Length, 0, share.GaloisElement);
        share.Session.Bytes.CopyTo(buffer.AsSpan(HeaderSize));
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(HeaderSize + SessionId.Size), share.Party);
        buffer[HeaderSize + SessionId.Size + 4] = share.KeyLevel ? (byte)1 : (byte)0;
        int offset = HeaderSize + ShareHeaderSize;
        foreach (var poly in share.Polys)
        {
            offset = WritePoly(buffer, offset, poly, limbs);
        }

        Seal(buffer, offset);
        return buffer;
    }

    /// <summary>
    /// Reads a share of the expected kind and validates its shape against these parameters (polynomial count for
    /// the kind, level, key level, party ≥ 0, Galois element). Session and duplicate checks are the collector's.
    /// </summary>
    public Share DeserializeShare(ReadOnlySpan<byte> data, ShareKind expected)
    {
        var h = ReadChecked(data, (ObjectKind)expected);
        if (data.Length < HeaderSize + ShareHeaderSize + DigestSize)
        {
            throw new HomomorphicFormatException(FormatError.Truncated, "The share is shorter than its headers.");
        }

        var session = new SessionId(data.Slice(HeaderSize, SessionId.Size));
        int party = BinaryPrimitives.ReadInt32LittleEndian(data[(HeaderSize + SessionId.Size)..]);
        byte keyLevelByte = data[HeaderSize + SessionId.Size + 4];
        bool keyLevel = expected is ShareKind.PublicKey or ShareKind.RelinearizationRound1 or ShareKind.RelinearizationRound2 or ShareKind.GaloisKey or ShareKind.Threshold;
        int digits = _r.DigitCountMax;
        int polys = expected switch
        {
            ShareKind.PublicKey or ShareKind.KeySwitch or ShareKind.Threshold => 1,
            ShareKind.PublicKeySwitch => 2,
            ShareKind.GaloisKey => digits,
            _ => 2 * digits,
        };
        if (party < 0 || keyLevelByte != (keyLevel ? 1 : 0) || data.Slice(HeaderSize + SessionId.Size + 5, 3).IndexOfAnyExcept((byte)0) >= 0
            || h.Components != polys || h.Scale != 0 || h.Level < 0 || h.Level > _r.MaxLevel || (keyLevel && h.Level != _r.MaxLevel)
            || (expected == ShareKind.GaloisKey ? (h.Extra & 1) == 0 || h.Extra >= 2UL * (ulong)_r.N : h.Extra != 0))
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"Invalid {expected} share metadata (party {party}, level {h.Level}, {h.Components} polynomials).");
        }

        bool packed = h.Flags.HasFlag(FormatFlags.BitPacked);
        int limbs = keyLevel ? _r.QP.Count : h.Level + 1;
        ExpectLength(h, HeaderSize + ShareHeaderSize + DigestSize + (polys * PolyBytes(limbs, packed)));
        VerifyDigest(data);
        var share = new Share(_r, expected, session, party, h.Level, keyLevel, polys, h.Extra);
        int offset = HeaderSize + ShareHeaderSize;
        foreach (var poly in share.Polys)
        {
            offset = ReadPoly(data, offset, poly, limbs, packed);
        }

        return share;
    }

    // ------------------------------------------------------------------ parameters

    /// <summary>Serializes the resolved literal (explicit primes), so the receiver rebuilds the exact same set.</summary>
    public static byte[] SerializeParameters(CkksParameters parameters)
    {
        var lit = parameters.ToLiteral();
        int bodyLength = 4 + 4 + (8 * lit.Q!.Count) + 4 + (8 * lit.P!.Count) + 4 + 4 + 8 + 8 + 8 + 1;
        var buffer = new byte[HeaderSize + bodyLength + DigestSize];
        var s = new CkksSerializer(parameters, bitPack: false);
        s.WriteHeader(buffer, ObjectKind.Parameters, FormatFlags.None, 0, 0, 0, 0);
        var b = buffer.AsSpan(HeaderSize);
        int o = 0;
        BinaryPrimitives.WriteInt32LittleEndian(b[o..], lit.LogN); o += 4;
        BinaryPrimitives.WriteInt32LittleEndian(b[o..], lit.Q.Count); o += 4;
        foreach (ulong q in lit.Q)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b[o..], q); o += 8;
        }

        BinaryPrimitives.WriteInt32LittleEndian(b[o..], lit.P.Count); o += 4;
        foreach (ulong p in lit.P)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b[o..], p); o += 8;
        }

        BinaryPrimitives.WriteInt32LittleEndian(b[o..], lit.DigitSize); o += 4;
        BinaryPrimitives.WriteInt32LittleEndian(b[o..], (int)lit.ErrorDistribution); o += 4;
        BinaryPrimitives.WriteDoubleLittleEndian(b[o..], lit.ErrorSigma); o += 8;
        BinaryPrimitives.WriteDoubleLittleEndian(b[o..], lit.ErrorBound); o += 8;
        BinaryPrimitives.WriteDoubleLittleEndian(b[o..], lit.LogDefaultScale!.Value); o += 8;
        b[o++] = lit.InsecureForTestingOnly ? (byte)1 : (byte)0;
        Seal(buffer, HeaderSize + o);
        return buffer;
    }

    private static ReadOnlySpan<byte> Take(ReadOnlySpan<byte> body, ref int offset, int bytes)
    {
        if (offset + bytes > body.Length)
        {
            throw new HomomorphicFormatException(FormatError.Truncated, "The parameters body is truncated.");
        }

        var r = body.Slice(offset, bytes);
        offset += bytes;
        return r;
    }

    /// <summary>Largest number of primes accepted in serialized parameters.</summary>
    public const int MaxPrimes = 64;

    /// <summary>Rebuilds parameters and checks that they hash to the id in the header.</summary>
    public static CkksParameters DeserializeParameters(ReadOnlySpan<byte> data)
    {
        var h = ReadHeader(data);
        if (h.Kind != ObjectKind.Parameters)
        {
            throw new HomomorphicFormatException(FormatError.WrongKind, $"Expected Parameters, got a {h.Kind}.");
        }

        if (h.Flags != FormatFlags.None || h.Level != 0 || h.Components != 0 || h.Scale != 0 || h.Extra != 0)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, "Invalid metadata for a parameters object.");
        }

        VerifyDigest(data);
        var b = data[HeaderSize..^DigestSize];
        int o = 0;
        int logN = BinaryPrimitives.ReadInt32LittleEndian(Take(b, ref o, 4));
        int qCount = BinaryPrimitives.ReadInt32LittleEndian(Take(b, ref o, 4));
        if (qCount < 1 || qCount > MaxPrimes)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"Q prime count {qCount} is outside [1, {MaxPrimes}].");
        }

        var q = new ulong[qCount];
        for (int i = 0; i < qCount; i++)
        {
            q[i] = BinaryPrimitives.ReadUInt64LittleEndian(Take(b, ref o, 8));
        }

        int pCount = BinaryPrimitives.ReadInt32LittleEndian(Take(b, ref o, 4));
        if (pCount < 1 || pCount > MaxPrimes)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"P prime count {pCount} is outside [1, {MaxPrimes}].");
        }

        var p = new ulong[pCount];
        for (int i = 0; i < pCount; i++)
        {
            p[i] = BinaryPrimitives.ReadUInt64LittleEndian(Take(b, ref o, 8));
        }

        int digitSize = BinaryPrimitives.ReadInt32LittleEndian(Take(b, ref o, 4));
        var errorKind = (ErrorDistributionKind)BinaryPrimitives.ReadInt32LittleEndian(Take(b, ref o, 4));
        double sigma = BinaryPrimitives.ReadDoubleLittleEndian(Take(b, ref o, 8));
        double bound = BinaryPrimitives.ReadDoubleLittleEndian(Take(b, ref o, 8));
        double logScale = BinaryPrimitives.ReadDoubleLittleEndian(Take(b, ref o, 8));
        byte insecure = Take(b, ref o, 1)[0];
        if (insecure > 1)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, "Invalid insecure flag.");
        }

        var literal = new CkksParametersLiteral
        {
            LogN = logN,
            Q = q,
            P = p,
            DigitSize = digitSize,
            ErrorDistribution = errorKind,
            ErrorSigma = sigma,
            ErrorBound = bound,
            LogDefaultScale = logScale,
            InsecureForTestingOnly = insecure == 1,
        };
        if (o != b.Length)
        {
            throw new HomomorphicFormatException(FormatError.LengthMismatch, "Trailing bytes after the parameters body.");
        }

        CkksParameters parameters;
        try
        {
            parameters = CkksParameters.FromLiteral(literal);
        }
        catch (InvalidParametersException e)
        {
            throw new HomomorphicFormatException(FormatError.InvalidMetadata, $"Invalid parameters: {e.Message}");
        }

        if (parameters.Id != h.ParametersId)
        {
            throw new HomomorphicFormatException(FormatError.ParametersMismatch, "The parameters do not hash to the id in their header.");
        }

        return parameters;
    }
}
