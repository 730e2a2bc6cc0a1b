using System.Security.Cryptography;
using System.Text;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Multiparty;

/// <summary>Identity of one run of a protocol (a key ceremony step, one decryption). 32 bytes.</summary>
public readonly struct SessionId : IEquatable<SessionId>
{
    public const int Size = 32;
    private readonly byte[]? _bytes;

    public SessionId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"A session id is {Size} bytes.", nameof(bytes));
        }

        _bytes = bytes.ToArray();
    }

    /// <summary>A session id derived from a name (SHA-256 of its UTF-8 bytes), e.g. "job-42/round-7/decrypt".</summary>
    public static SessionId FromName(string name) => new(SHA256.HashData(Encoding.UTF8.GetBytes(name)));

    public static SessionId NewRandom() => new(RandomNumberGenerator.GetBytes(Size));

    public ReadOnlySpan<byte> Bytes => _bytes ?? new byte[Size];

    public bool Equals(SessionId other) => Bytes.SequenceEqual(other.Bytes);
    public override bool Equals(object? obj) => obj is SessionId other && Equals(other);
    public override int GetHashCode() => BitConverter.ToInt32(Bytes);
    public override string ToString() => Convert.ToHexStringLower(Bytes);
    public static bool operator ==(SessionId left, SessionId right) => left.Equals(right);
    public static bool operator !=(SessionId left, SessionId right) => !left.Equals(right);
}

/// <summary>What a share is a share of; also its serialized kind.</summary>
public enum ShareKind : byte
{
    PublicKey = 16,
    RelinearizationRound1 = 17,
    RelinearizationRound2 = 18,
    GaloisKey = 19,
    KeySwitch = 20,
    PublicKeySwitch = 21,
    Threshold = 22,
}

/// <summary>
/// A protocol share: polynomials in NTT form plus the metadata every receiver checks before aggregating —
/// parameters id, kind, session, party, level (key-level shares use the top level and span Q·P) and, for Galois
/// shares, the Galois element. An aggregated share has <see cref="Party"/> = 0.
/// </summary>
public sealed class Share
{
    internal Share(RlweParameters parameters, ShareKind kind, SessionId session, int party, int level, bool keyLevel, int polys, ulong galoisElement = 0)
    {
        ParametersId = parameters.Id;
        Kind = kind;
        Session = session;
        Party = party;
        Level = level;
        KeyLevel = keyLevel;
        GaloisElement = galoisElement;
        int limbs = keyLevel ? parameters.QP.Count : level + 1;
        Polys = new Poly[polys];
        for (int i = 0; i < polys; i++)
        {
            Polys[i] = new Poly(parameters.N, limbs);
        }
    }

    public ParametersId ParametersId { get; }
    public ShareKind Kind { get; }
    public SessionId Session { get; }
    /// <summary>The party that produced the share (≥ 1), or 0 for an aggregate.</summary>
    public int Party { get; internal set; }
    public int Level { get; }
    /// <summary>True when the polynomials span every prime of Q and P (key generation); false for Q_ℓ shares.</summary>
    public bool KeyLevel { get; }
    public ulong GaloisElement { get; }
    public Poly[] Polys { get; }

    /// <summary>True when <paramref name="other"/> has the same kind, session, parameters and shape.</summary>
    public bool IsCompatibleWith(Share other) =>
        other.Kind == Kind && other.Session == Session && other.ParametersId == ParametersId && other.Level == Level
        && other.KeyLevel == KeyLevel && other.GaloisElement == GaloisElement && other.Polys.Length == Polys.Length
        && other.Polys.Zip(Polys).All(pair => pair.First.LimbCount == pair.Second.LimbCount);
}

/// <summary>Thrown when a share does not belong where it was sent (wrong session, kind, shape) or repeats one already accepted.</summary>
public sealed class ShareRejectedException(string message) : InvalidOperationException(message);

/// <summary>
/// The common reference string: a public 32-byte seed agreed by all parties. Common reference polynomials
/// (CRPs) are expanded from SHA-256(seed ‖ session ‖ label ‖ index) with the AES-CTR PRNG, so every party
/// derives byte-identical polynomials.
/// </summary>
public sealed class CommonReferenceString
{
    private readonly byte[] _seed;

    public CommonReferenceString(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != Prng.SeedSize)
        {
            throw new ArgumentException($"A CRS seed is {Prng.SeedSize} bytes.", nameof(seed));
        }

        _seed = seed.ToArray();
    }

    public ReadOnlySpan<byte> Seed => _seed;

    /// <summary>Uniform polynomial over every prime of Q·P (NTT form: uniform either way) for (session, label, index).</summary>
    public void ExpandPolynomial(RlweParameters parameters, SessionId session, string label, int index, Poly destination)
    {
        using var prng = new Prng(DeriveKey(session, label, index));
        Samplers.UniformPoly(prng, parameters.QP, destination);
    }

    private byte[] DeriveKey(SessionId session, string label, int index)
    {
        var labelBytes = Encoding.UTF8.GetBytes(label);
        var input = new byte[_seed.Length + SessionId.Size + labelBytes.Length + 4];
        _seed.CopyTo(input, 0);
        session.Bytes.CopyTo(input.AsSpan(_seed.Length));
        labelBytes.CopyTo(input, _seed.Length + SessionId.Size);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(input.AsSpan(input.Length - 4), index);
        return SHA256.HashData(input);
    }
}

/// <summary>
/// Noise-flooding (smudging) distribution added by every party to decryption and key-switching shares:
/// rounded Gaussian of standard deviation <see cref="Sigma"/>, truncated at <see cref="Bound"/>.
/// </summary>
public sealed record NoiseFlooding
{
    /// <summary>Largest σ the sampler supports exactly (53-bit uniforms).</summary>
    public const double MaxSigma = 1L << 50;

    public NoiseFlooding(double sigma, double bound)
    {
        if (!(sigma >= 1) || sigma > MaxSigma || !(bound >= sigma))
        {
            throw new ArgumentOutOfRangeException(nameof(sigma), $"Flooding σ must be in [1, 2^50] and the bound ≥ σ (got σ = {sigma}, bound = {bound}).");
        }

        Sigma = sigma;
        Bound = bound;
    }

    private NoiseFlooding()
    {
    }

    public double Sigma { get; }
    public double Bound { get; }

    /// <summary>True for the test-only distribution that adds nothing.</summary>
    public bool IsDisabled => Sigma == 0;

    /// <summary>
    /// σ = √(12·τ)·2^(s/2)·B for statistical security s against τ decryption queries, B a bound on the ciphertext
    /// error in the coefficient embedding (Li–Micciancio–Schultz–Sorrell, ePrint 2022/816; OpenFHE's rule);
    /// bound 6σ. Each participating party adds the full σ.
    /// </summary>
    public static NoiseFlooding ForCiphertextError(double ciphertextErrorBound, int statisticalSecurity = 30, int queries = 1)
    {
        double sigma = Math.Sqrt(12.0 * queries) * Math.Pow(2, statisticalSecurity / 2.0) * Math.Max(ciphertextErrorBound, 1);
        return new NoiseFlooding(Math.Min(sigma, MaxSigma), 6 * Math.Min(sigma, MaxSigma));
    }

    /// <summary>Lattigo's example default: σ = 2^30, bound 6σ.</summary>
    public static NoiseFlooding Default { get; } = new(1 << 30, 6.0 * (1 << 30));

    /// <summary>No flooding at all. Insecure: for tests that compare with single-party decryption bit for bit.</summary>
    internal static NoiseFlooding DisabledForTesting { get; } = new();
}
