using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Ckks;

/// <summary>Thrown when a parameter literal is invalid or insecure.</summary>
public sealed class InvalidParametersException(string message) : ArgumentException(message);

/// <summary>
/// Validated, immutable CKKS parameters (SEALContext-style: owns the modulus chain and every precomputed
/// table). Create with <see cref="FromLiteral"/>. Thread-safe.
/// </summary>
public sealed class CkksParameters
{
    /// <summary>Version of the canonical encoding hashed into <see cref="Id"/> and of the serialization format.</summary>
    public const int FormatVersion = 1;

    /// <summary>Maximum log2(Q·P) for 128-bit classical security (HomomorphicEncryption.org standard, ternary secret).</summary>
    public static IReadOnlyDictionary<int, int> MaxLogQP128 { get; } = new Dictionary<int, int>
    {
        [10] = 27, [11] = 54, [12] = 109, [13] = 218, [14] = 438, [15] = 881,
    };

    private CkksParameters(RlweParameters rlwe, double defaultScale, CkksParametersLiteral literal)
    {
        Rlwe = rlwe;
        DefaultScale = defaultScale;
        Literal = literal;
    }

    /// <summary>The ring-level parameters (bases, NTT tables, key-switching constants).</summary>
    public RlweParameters Rlwe { get; }
    public ParametersId Id => Rlwe.Id;
    public int LogN => Rlwe.LogN;
    public int N => Rlwe.N;
    /// <summary>Number of complex slots, N/2.</summary>
    public int MaxSlots => Rlwe.N / 2;
    public int MaxLevel => Rlwe.MaxLevel;
    public double DefaultScale { get; }
    public IReadOnlyList<ulong> Q => [.. Rlwe.Q.Moduli.Select(m => m.Value)];
    public IReadOnlyList<ulong> P => [.. Rlwe.P.Moduli.Select(m => m.Value)];
    /// <summary>Sum of the bit lengths of every prime of Q and P.</summary>
    public int LogQP => Rlwe.QP.Moduli.Sum(m => m.BitCount);
    private CkksParametersLiteral Literal { get; }

    /// <summary>The resolved literal (explicit primes) that rebuilds these parameters.</summary>
    public CkksParametersLiteral ToLiteral() => Literal;

    public static CkksParameters FromLiteral(CkksParametersLiteral literal)
    {
        ArgumentNullException.ThrowIfNull(literal);
        if (literal.LogN < 3 || literal.LogN > 17)
        {
            throw new InvalidParametersException($"LogN = {literal.LogN} is outside the supported range [3, 17].");
        }

        int n = 1 << literal.LogN;
        var used = new List<ulong>();
        ulong[] q = ResolvePrimes(literal.Q, literal.LogQ, n, used, "Q");
        ulong[] p = ResolvePrimes(literal.P, literal.LogP, n, used, "P");
        if (q.Length == 0)
        {
            throw new InvalidParametersException("Q needs at least one prime.");
        }

        if (p.Length == 0)
        {
            throw new InvalidParametersException("P needs at least one prime (key switching and public-key encryption use it).");
        }

        if (used.Distinct().Count() != used.Count)
        {
            throw new InvalidParametersException("The primes of Q and P must all be distinct.");
        }

        foreach (ulong prime in used)
        {
            if (prime >= 1UL << Modulus.MaxBits || !Primes.IsPrime(prime) || (prime - 1) % (2UL * (ulong)n) != 0)
            {
                throw new InvalidParametersException($"{prime} is not a prime below 2^{Modulus.MaxBits} congruent to 1 mod 2N = {2 * n}.");
            }
        }

        int logQP = used.Sum(v => 64 - System.Numerics.BitOperations.LeadingZeroCount(v));
        if (!literal.InsecureForTestingOnly)
        {
            if (!MaxLogQP128.TryGetValue(literal.LogN, out int bound))
            {
                throw new InvalidParametersException($"N = 2^{literal.LogN} is not covered by the 128-bit security table; only 2^10…2^15 are accepted.");
            }

            if (logQP > bound)
            {
                throw new InvalidParametersException($"log2(QP) = {logQP} exceeds the 128-bit security bound {bound} for N = 2^{literal.LogN}.");
            }
        }

        if (literal.DigitSize < 1 || literal.DigitSize > q.Length)
        {
            throw new InvalidParametersException($"DigitSize = {literal.DigitSize} must be between 1 and the number of Q primes ({q.Length}).");
        }

        if (literal.ErrorDistribution == ErrorDistributionKind.DiscreteGaussian
            && (!(literal.ErrorSigma > 0) || !(literal.ErrorBound >= literal.ErrorSigma) || literal.ErrorBound > 1 << 20))
        {
            throw new InvalidParametersException($"Invalid error distribution σ = {literal.ErrorSigma}, bound = {literal.ErrorBound}.");
        }

        if (!Enum.IsDefined(literal.ErrorDistribution))
        {
            throw new InvalidParametersException($"Unknown error distribution {literal.ErrorDistribution}.");
        }

        double logScale = literal.LogDefaultScale ?? Math.Floor(Math.Log2(q[Math.Min(1, q.Length - 1)]));
        if (!(logScale > 0) || logScale > 120)
        {
            throw new InvalidParametersException($"LogDefaultScale = {logScale} must be in (0, 120].");
        }

        var resolved = literal with { Q = q, LogQ = null, P = p, LogP = null, LogDefaultScale = logScale };
        var id = ComputeId(resolved);
        var rlwe = new RlweParameters(literal.LogN, q, p, literal.DigitSize, literal.ErrorDistribution, literal.ErrorSigma, literal.ErrorBound, id);
        return new CkksParameters(rlwe, Math.Pow(2, logScale), resolved);
    }

    private static ulong[] ResolvePrimes(IReadOnlyList<ulong>? explicitPrimes, IReadOnlyList<int>? bits, int n, List<ulong> used, string name)
    {
        if (explicitPrimes is not null)
        {
            if (bits is not null)
            {
                throw new InvalidParametersException($"Give either {name} or Log{name}, not both.");
            }

            used.AddRange(explicitPrimes);
            return [.. explicitPrimes];
        }

        if (bits is null)
        {
            return [];
        }

        var result = new ulong[bits.Count];
        for (int i = 0; i < bits.Count; i++)
        {
            if (bits[i] < 2 || bits[i] > Modulus.MaxBits)
            {
                throw new InvalidParametersException($"Log{name}[{i}] = {bits[i]} must be in [2, {Modulus.MaxBits}].");
            }

            try
            {
                result[i] = Primes.GenerateNttPrimes(bits[i], 1, n, used)[0];
            }
            catch (ArgumentException e)
            {
                throw new InvalidParametersException(e.Message);
            }

            used.Add(result[i]);
        }

        return result;
    }

    /// <summary>SHA-256 over the canonical encoding of a resolved literal (see docs/decisions).</summary>
    private static ParametersId ComputeId(CkksParametersLiteral r)
    {
        using var ms = new MemoryStream();
        void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            ms.Write(b);
        }

        ms.Write(Encoding.ASCII.GetBytes("PrivateHealth/CKKS/params"));
        U64(FormatVersion);
        U64((ulong)r.LogN);
        U64((ulong)r.Q!.Count);
        foreach (ulong v in r.Q)
        {
            U64(v);
        }

        U64((ulong)r.P!.Count);
        foreach (ulong v in r.P)
        {
            U64(v);
        }

        U64((ulong)r.DigitSize);
        U64((ulong)r.ErrorDistribution);
        U64((ulong)BitConverter.DoubleToInt64Bits(r.ErrorSigma));
        U64((ulong)BitConverter.DoubleToInt64Bits(r.ErrorBound));
        U64((ulong)BitConverter.DoubleToInt64Bits(r.LogDefaultScale!.Value));
        U64(r.InsecureForTestingOnly ? 1UL : 0UL);
        // conventions that change bytes on the wire: secret distribution, NTT root and ordering, slot generator
        ms.Write(Encoding.ASCII.GetBytes("secret=ternary;psi=minimal-primitive-2N-root;ntt=bit-reversed-odd-powers;slots=5^j;prng=aes256-ctr"));
        return new ParametersId(SHA256.HashData(ms.ToArray()));
    }

    public override string ToString() =>
        $"CKKS N=2^{LogN}, Q=[{string.Join(", ", Rlwe.Q.Moduli.Select(m => m.BitCount))}], P=[{string.Join(", ", Rlwe.P.Moduli.Select(m => m.BitCount))}], log2 QP={LogQP}, Δ=2^{Math.Log2(DefaultScale):0.##}, id={Id.ToString()[..12]}";
}
