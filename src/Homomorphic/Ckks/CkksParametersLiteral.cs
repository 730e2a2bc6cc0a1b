using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Homomorphic.Ckks;

/// <summary>
/// Unchecked description of a CKKS parameter set; <see cref="CkksParameters.FromLiteral"/> validates it.
/// Give either explicit primes (<see cref="Q"/>, <see cref="P"/>) or their bit sizes (<see cref="LogQ"/>,
/// <see cref="LogP"/>); bit sizes are resolved to the largest unused primes q &lt; 2^b with q ≡ 1 (mod 2N),
/// Q's first, then P's. Serializes to JSON.
/// </summary>
public sealed record CkksParametersLiteral
{
    /// <summary>log2 of the ring degree N. Required.</summary>
    public int LogN { get; init; }

    /// <summary>Explicit ciphertext primes q_0…q_L (level L is fresh; rescaling drops the last).</summary>
    public IReadOnlyList<ulong>? Q { get; init; }

    /// <summary>Bit sizes of the ciphertext primes, used when <see cref="Q"/> is null.</summary>
    public IReadOnlyList<int>? LogQ { get; init; }

    /// <summary>Explicit special (key-switching) primes.</summary>
    public IReadOnlyList<ulong>? P { get; init; }

    /// <summary>Bit sizes of the special primes, used when <see cref="P"/> is null.</summary>
    public IReadOnlyList<int>? LogP { get; init; }

    /// <summary>log2 of the default scale Δ. Default: the bit size of q_1 (or q_0 when L = 0).</summary>
    public double? LogDefaultScale { get; init; }

    /// <summary>Number of consecutive Q primes per key-switching digit (α). Default 1.</summary>
    public int DigitSize { get; init; } = 1;

    /// <summary>Error distribution χ. Default: rounded Gaussian σ = 3.2 truncated at 6σ.</summary>
    public ErrorDistributionKind ErrorDistribution { get; init; } = ErrorDistributionKind.DiscreteGaussian;

    /// <summary>Standard deviation of χ (Gaussian only). Default 3.2.</summary>
    public double ErrorSigma { get; init; } = 3.2;

    /// <summary>Truncation bound of χ (Gaussian only). Default 19.2 (6σ).</summary>
    public double ErrorBound { get; init; } = 19.2;

    /// <summary>
    /// Accept a set whose log2(Q·P) exceeds the 128-bit HomomorphicEncryption.org bound for its N. For tests only:
    /// such parameters are not secure.
    /// </summary>
    public bool InsecureForTestingOnly { get; init; }

    // ---- presets (128-bit classical security, ternary secret, σ = 3.2) ----

    /// <summary>N = 4096, Q = [38, 33], P = [38] (log2 QP = 109), Δ = 2^33: one multiplication.</summary>
    public static CkksParametersLiteral LogN12LogQP109 { get; } = new() { LogN = 12, LogQ = [38, 33], LogP = [38], LogDefaultScale = 33 };

    /// <summary>N = 8192, Q = [60, 40, 40], P = [60] (log2 QP = 200), Δ = 2^40: two multiplications (SEAL's teaching set).</summary>
    public static CkksParametersLiteral LogN13LogQP200 { get; } = new() { LogN = 13, LogQ = [60, 40, 40], LogP = [60], LogDefaultScale = 40 };

    /// <summary>
    /// Set A, aggregation: N = 8192, Q = [60, 56, 40], P = [60] (log2 QP = 216), Δ = 2^70. For additions and
    /// plaintext multiplications with at most one rescale; Δ is as large as the output modulus allows, to pay
    /// for threshold-decryption flooding. Plaintext multiplicands are encoded at scale q_2.
    /// </summary>
    public static CkksParametersLiteral AggregationLogN13LogQP216 { get; } = new() { LogN = 13, LogQ = [60, 56, 40], LogP = [60], LogDefaultScale = 70 };

    /// <summary>
    /// Set B, queries: N = 16384, Q = [60, 40, 57, 57, 57, 57], P = [60, 46] (log2 QP = 434), Δ = 2^57, digits of
    /// one prime: depth 4 with room for a collective relinearization key.
    /// </summary>
    public static CkksParametersLiteral QueryLogN14LogQP434 { get; } = new() { LogN = 14, LogQ = [60, 40, 57, 57, 57, 57], LogP = [60, 46], LogDefaultScale = 57 };

    /// <summary>
    /// Federated-learning uploads: N = 4096, Q = [61], P = [48] (log2 QP = 109), Δ = 2^50. Updates are only added and
    /// threshold-decrypted, so one 61-bit prime holds the sum (|Σ| &lt; 2^10) with the flooding noise, and a
    /// bit-packed upload costs 2·61/8 ≈ 15.3 bytes per model parameter (real and imaginary parts of 2048 slots).
    /// </summary>
    public static CkksParametersLiteral TrainingLogN12LogQP109 { get; } = new() { LogN = 12, LogQ = [61], LogP = [48], LogDefaultScale = 50 };

    /// <summary>N = 32768, Q = [60, 50×14], P = [60, 60] (log2 QP = 880), Δ = 2^50, digits of two primes: deep circuits.</summary>
    public static CkksParametersLiteral LogN15LogQP880 { get; } = new()
    {
        LogN = 15,
        LogQ = [60, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50],
        LogP = [60, 60],
        LogDefaultScale = 50,
        DigitSize = 2,
    };

    /// <summary>All presets by name.</summary>
    public static IReadOnlyDictionary<string, CkksParametersLiteral> Presets { get; } = new Dictionary<string, CkksParametersLiteral>
    {
        [nameof(LogN12LogQP109)] = LogN12LogQP109,
        [nameof(LogN13LogQP200)] = LogN13LogQP200,
        [nameof(AggregationLogN13LogQP216)] = AggregationLogN13LogQP216,
        [nameof(QueryLogN14LogQP434)] = QueryLogN14LogQP434,
        [nameof(LogN15LogQP880)] = LogN15LogQP880,
        [nameof(TrainingLogN12LogQP109)] = TrainingLogN12LogQP109,
    };
}
