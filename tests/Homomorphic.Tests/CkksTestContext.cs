namespace PrivateHealth.Homomorphic.Tests;

/// <summary>Parameters, keys and tools for one parameter set, built once and shared by the tests using it.</summary>
public sealed class CkksTestContext : IDisposable
{
    private static readonly Dictionary<string, CkksTestContext> Cache = [];
    private static readonly Lock CacheLock = new();

    private CkksTestContext(string name, CkksParametersLiteral literal, IEnumerable<int> rotations, bool conjugation)
    {
        Name = name;
        Parameters = CkksParameters.FromLiteral(literal);
        KeyGenerator = new KeyGenerator(Parameters.Rlwe);
        SecretKey = KeyGenerator.GenerateSecretKey();
        PublicKey = KeyGenerator.GeneratePublicKey(SecretKey);
        var rot = rotations.ToArray();
        var keys = new EvaluationKeySet(KeyGenerator.GenerateRelinearizationKey(SecretKey),
            rot.Length > 0 || conjugation ? KeyGenerator.GenerateRotationKeys(SecretKey, rot, conjugation) : null);
        // the encoder, encryptors, decryptor and evaluator own scratch buffers and are not thread-safe, while test
        // classes sharing this context run in parallel: one instance of each per thread
        _encoder = new(() => new CkksEncoder(Parameters));
        _encryptor = new(() => new Encryptor(Parameters.Rlwe, PublicKey), trackAllValues: true);
        _secretEncryptor = new(() => new Encryptor(Parameters.Rlwe, SecretKey), trackAllValues: true);
        _decryptor = new(() => new Decryptor(Parameters.Rlwe, SecretKey));
        _evaluator = new(() => new CkksEvaluator(Parameters, keys));
    }

    private readonly ThreadLocal<CkksEncoder> _encoder;
    private readonly ThreadLocal<Encryptor> _encryptor;
    private readonly ThreadLocal<Encryptor> _secretEncryptor;
    private readonly ThreadLocal<Decryptor> _decryptor;
    private readonly ThreadLocal<CkksEvaluator> _evaluator;

    public string Name { get; }
    public CkksParameters Parameters { get; }
    public KeyGenerator KeyGenerator { get; }
    public SecretKey SecretKey { get; }
    public PublicKey PublicKey { get; }
    public CkksEncoder Encoder => _encoder.Value!;
    public Encryptor Encryptor => _encryptor.Value!;
    public Encryptor SecretEncryptor => _secretEncryptor.Value!;
    public Decryptor Decryptor => _decryptor.Value!;
    public CkksEvaluator Evaluator => _evaluator.Value!;
    public int Slots => Parameters.MaxSlots;

    /// <summary>Small insecure sets for fast evaluator tests (never use outside tests).</summary>
    public static IReadOnlyDictionary<string, CkksParametersLiteral> TestSets { get; } = new Dictionary<string, CkksParametersLiteral>
    {
        // 4 levels, one special prime, digits of one prime (SEAL's shape)
        ["TestInsecureLogN10Depth4"] = new() { LogN = 10, LogQ = [55, 45, 45, 45, 45], LogP = [55], LogDefaultScale = 45, InsecureForTestingOnly = true },
        // two special primes, digits of two primes (the fast basis conversion paths of ModUp and ModDown)
        ["TestInsecureLogN11Digits2"] = new() { LogN = 11, LogQ = [60, 45, 45, 45], LogP = [61, 61], LogDefaultScale = 45, DigitSize = 2, InsecureForTestingOnly = true },
        // Set B's shape (K = 2, α = 1) at a small N
        ["TestInsecureLogN10SetBShape"] = new() { LogN = 10, LogQ = [60, 40, 57, 57, 57, 57], LogP = [60, 46], LogDefaultScale = 57, InsecureForTestingOnly = true },
    };

    public static TheoryData<string> TestSetNames => [.. TestSets.Keys];

    public static TheoryData<string> PresetNames => [.. CkksParametersLiteral.Presets.Keys];

    /// <summary>Context for a test set (with rotation keys) or a preset (relinearization key only).</summary>
    public static CkksTestContext Get(string name)
    {
        lock (CacheLock)
        {
            if (!Cache.TryGetValue(name, out var ctx))
            {
                if (TestSets.TryGetValue(name, out var literal))
                {
                    var p = CkksParameters.FromLiteral(literal);
                    int n = p.MaxSlots;
                    int[] rotations = [.. new[] { 1, 2, 5, n / 2, -1, 3 }.Concat(CkksEvaluator.InnerSumRotations(n))];
                    ctx = new CkksTestContext(name, literal, rotations, conjugation: true);
                }
                else
                {
                    ctx = new CkksTestContext(name, CkksParametersLiteral.Presets[name], [], conjugation: false);
                }

                Cache[name] = ctx;
            }

            return ctx;
        }
    }

    public Complex[] RandomComplex(int seed, double bound = 1.0) => RandomComplexFor(Slots, seed, bound);

    public static Complex[] RandomComplexFor(int slots, int seed, double bound = 1.0)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, slots).Select(_ => new Complex((rng.NextDouble() * 2 - 1) * bound, (rng.NextDouble() * 2 - 1) * bound))];
    }

    public Ciphertext Encrypt(Complex[] values, int? level = null, double? scale = null) =>
        Encryptor.Encrypt(Encoder.Encode(values, level ?? Parameters.MaxLevel, scale ?? Parameters.DefaultScale));

    public Complex[] Decrypt(Ciphertext ct) => Encoder.DecodeComplex(Decryptor.Decrypt(ct));

    /// <summary>−log2 of the largest absolute error over all slots (real and imaginary parts).</summary>
    public static double PrecisionBits(IReadOnlyList<Complex> expected, IReadOnlyList<Complex> actual)
    {
        double max = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            max = Math.Max(max, Math.Max(Math.Abs(expected[i].Real - actual[i].Real), Math.Abs(expected[i].Imaginary - actual[i].Imaginary)));
        }

        return max == 0 ? 64 : -Math.Log2(max);
    }

    public void Dispose()
    {
        KeyGenerator.Dispose();
        foreach (var e in _encryptor.Values.Concat(_secretEncryptor.Values))
        {
            e.Dispose();
        }

        SecretKey.Dispose();
    }
}
