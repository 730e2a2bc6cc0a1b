using System.Collections.Concurrent;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;

namespace PrivateHealth.Benchmarks;

/// <summary>The representative queries of <see cref="AnalyticsQueryBenchmarks"/>.</summary>
public enum AnalyticsQuery
{
    /// <summary><c>COUNT(*), AVG(mean_radius), VAR(mean_area) … GROUP BY label</c>: sums over the radius bins.</summary>
    Moments,

    /// <summary>The same with <c>WHERE radius_bin &gt;= 11.2068</c>: fewer bins summed.</summary>
    Filtered,

    /// <summary><c>COUNT(*), HISTOGRAM(mean_radius) … GROUP BY label</c>: the histogram keeps every bin.</summary>
    Histogram,
}

/// <summary>
/// Issue 6 acceptance, server side: "ingest rate of encoded uploads per second per node; end-to-end query latency
/// (excluding custodian network time) for cohorts of 10^3, 10^4 and 10^5 participants: flat in cohort size, under one
/// second of server compute". Both suites share <see cref="AnalyticsWorld"/>: the breast-cancer schema of the
/// acceptance test (2 labels × 10 radius bins × 4 measures), preset AggregationLogN13LogQP216 (N = 8192, Q = 60+56+40
/// bits), and 256 distinct people's contributions (rows of breast_cancer.csv), each encoded, encrypted once (one
/// ciphertext per person at the top level) and serialized as a participant uploads it.
/// <para>
/// Keys come from a single <see cref="KeyGenerator"/> (secret, public and the power-of-two rotation keys of
/// <see cref="SlotLayout.RotationSteps"/>) instead of a threshold committee: the server's work (deserialize, add,
/// rotate, multiply by plaintext masks, rescale) is identical for a collective key of the same parameters, and key
/// generation is not timed.
/// </para>
/// </summary>
internal sealed class AnalyticsWorld
{
    public const int Distinct = 256;

    internal const string SchemaJson = """
        {
          "version": 1,
          "id": "breast_cancer",
          "minGroupSize": 10,
          "dimensions": [
            { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" },
            { "name": "radius_bin", "kind": "numeric", "source": "mean_radius",
              "edges": [6.981, 9.0939, 11.2068, 13.3197, 15.4326, 17.5455, 19.6584, 21.7713, 23.8842, 25.9971, 28.11] }
          ],
          "measures": [
            { "name": "mean_radius", "lo": 6.981, "hi": 28.11 },
            { "name": "mean_texture", "lo": 9.71, "hi": 39.28 },
            { "name": "mean_area", "lo": 143.5, "hi": 2501.0 },
            { "name": "mean_smoothness", "lo": 0.05263, "hi": 0.1634 }
          ]
        }
        """;

    private static readonly Lazy<AnalyticsWorld> Instance = new(() => new AnalyticsWorld(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly ConcurrentDictionary<int, Ciphertext> _aggregates = new();

    private AnalyticsWorld()
    {
        Parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        Schema = CohortSchema.Parse(SchemaJson);
        Layout = new SlotLayout(Schema);
        Codec = new AnalyticsCodec(Parameters, Layout);
        var encoder = new ContributionEncoder(Schema);
        using var keys = new KeyGenerator(Parameters.Rlwe);
        SecretKey = keys.GenerateSecretKey();
        var publicKey = keys.GeneratePublicKey(SecretKey);
        GaloisKeys = keys.GenerateRotationKeys(SecretKey, SlotLayout.RotationSteps(Parameters.MaxSlots));
        Serializer = new CkksSerializer(Parameters);

        var people = LoadPeople();
        var rows = Enumerable.Range(0, Distinct).Select(i => people[(int)((long)i * people.Count / Distinct)]).ToList();
        CellVectors = [.. rows.Select(r => encoder.Encode(r))];
        var uploads = new byte[Distinct][];
        var ciphertexts = new Ciphertext[Distinct];
        // encoders, encryptors and serializers are not thread-safe: one of each per worker
        Parallel.For(0, Distinct, () => (Codec: new AnalyticsCodec(Parameters, Layout), Encryptor: new Encryptor(Parameters.Rlwe, publicKey), Serializer: new CkksSerializer(Parameters)), (i, _, local) =>
        {
            uploads[i] = local.Serializer.Serialize(local.Codec.Encrypt(CellVectors[i], local.Encryptor));
            ciphertexts[i] = local.Serializer.DeserializeCiphertext(uploads[i]);
            return local;
        }, local => local.Encryptor.Dispose());
        Uploads = uploads;
        Ciphertexts = ciphertexts;
        Console.WriteLine($"// Analytics: N = {Parameters.N}, {Parameters.MaxSlots} slots, schema needs {Layout.SlotCount} ({Layout.Cells.CellCount} cells × block {Layout.Cells.BlockSize}); "
            + $"{GaloisKeys.Count} rotation keys; {Distinct} distinct uploads of {Uploads[0].Length:N0} bytes");
    }

    public static AnalyticsWorld Shared => Instance.Value;

    public CkksParameters Parameters { get; }
    public CohortSchema Schema { get; }
    public SlotLayout Layout { get; }
    public AnalyticsCodec Codec { get; }
    public SecretKey SecretKey { get; }
    public IReadOnlyList<GaloisKey> GaloisKeys { get; }
    public CkksSerializer Serializer { get; }
    public double[][] CellVectors { get; }

    /// <summary>The serialized uploads, as they reach the server.</summary>
    public byte[][] Uploads { get; }

    /// <summary>The same, deserialized (the cohort aggregates are built from these).</summary>
    public Ciphertext[] Ciphertexts { get; }

    /// <summary>
    /// The encrypted sum of a cohort of <paramref name="size"/> people: the <see cref="Distinct"/> encrypted
    /// contributions added cyclically (<paramref name="size"/> − 1 homomorphic additions). Its noise is that of a sum of
    /// <paramref name="size"/> fresh encryptions, and its slot values those of a cohort with repeated rows; that is
    /// all a query sees. Encrypting 10^5 distinct people would take minutes and change nothing in the timings.
    /// </summary>
    public Ciphertext Aggregate(int size) => _aggregates.GetOrAdd(size, n =>
    {
        var evaluator = new CkksEvaluator(Parameters);
        var first = Ciphertexts[0];
        var sum = new Ciphertext(Parameters.Rlwe, first.Size, first.Level, first.Scale);
        first.CopyTo(sum);
        for (int i = 1; i < n; i++)
        {
            evaluator.AddInPlace(sum, Ciphertexts[i % Distinct]);
        }

        return sum;
    });

    /// <summary>The plaintext slot vector of <see cref="Aggregate"/> (to check the decrypted answers).</summary>
    public double[] PlainAggregate(int size)
    {
        int blockSize = CellVectors[0].Length;
        var sum = new double[blockSize];
        for (int i = 0; i < Distinct; i++)
        {
            int copies = (size / Distinct) + (i < size % Distinct ? 1 : 0);
            for (int j = 0; j < blockSize; j++)
            {
                sum[j] += copies * CellVectors[i][j];
            }
        }

        return Codec.Slots(sum);
    }

    public static string Sql(AnalyticsQuery query) => query switch
    {
        AnalyticsQuery.Moments => "SELECT COUNT(*), AVG(mean_radius), VAR(mean_area) FROM breast_cancer GROUP BY label",
        AnalyticsQuery.Filtered => "SELECT COUNT(*), AVG(mean_radius), VAR(mean_area) FROM breast_cancer WHERE radius_bin >= 11.2068 GROUP BY label",
        AnalyticsQuery.Histogram => "SELECT COUNT(*), HISTOGRAM(mean_radius) FROM breast_cancer GROUP BY label",
        _ => throw new ArgumentOutOfRangeException(nameof(query)),
    };

    private static List<Dictionary<string, object>> LoadPeople()
    {
        var lines = File.ReadAllLines(DataPath());
        var header = lines[0].Split(',');
        return [.. lines.Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            var cells = l.Split(',');
            var person = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < header.Length; i++)
            {
                person[header[i]] = header[i] == "target"
                    ? ((int)double.Parse(cells[i], CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture)
                    : double.Parse(cells[i], CultureInfo.InvariantCulture);
            }

            return person;
        })];
    }

    private static string DataPath()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("PRIVATEHEALTH_DATA_DIR");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Path.Combine(fromEnvironment, "breast_cancer.csv");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "data", "breast_cancer.csv");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("breast_cancer.csv not found; set PRIVATEHEALTH_DATA_DIR.");
    }
}

/// <summary>
/// Ingest on the server, one thread: per upload, deserialize and validate the ciphertext bytes
/// (<see cref="CkksSerializer.DeserializeCiphertext"/>: header, length, SHA-256 digest, coefficient ranges, not
/// trivial; then level, size and scale against the cohort's parameters) and add it into the cohort aggregate with one
/// <see cref="CkksEvaluator.AddInPlace"/>. Time per operation = per upload (OperationsPerInvoke = 256 distinct
/// uploads); uploads/s = 10^9 / ns. Storage and network are not included (see CoordinatorIngestBenchmarks for those).
/// </summary>
[Config(typeof(AnalyticsConfig))]
public class AnalyticsIngestBenchmarks
{
    private AnalyticsWorld _world = null!;
    private CkksEvaluator _evaluator = null!;
    private Ciphertext _aggregate = null!;

    [GlobalSetup]
    public void Setup()
    {
        _world = AnalyticsWorld.Shared;
        _evaluator = new CkksEvaluator(_world.Parameters);
        var first = _world.Ciphertexts[0];
        _aggregate = new Ciphertext(_world.Parameters.Rlwe, first.Size, first.Level, first.Scale);
        first.CopyTo(_aggregate);
        AnalyticsConfig.Info["ingest"] = $"{_world.Uploads[0].Length}";
    }

    /// <summary>Deserialize + validate only (no addition): the share of <see cref="Ingest"/> spent on the bytes.</summary>
    [Benchmark(OperationsPerInvoke = AnalyticsWorld.Distinct)]
    public int Deserialize()
    {
        int levels = 0;
        foreach (var bytes in _world.Uploads)
        {
            levels += _world.Serializer.DeserializeCiphertext(bytes).Level;
        }

        return levels;
    }

    /// <summary>Deserialize + validate + add into the aggregate: the server's whole per-upload compute.</summary>
    [Benchmark(OperationsPerInvoke = AnalyticsWorld.Distinct)]
    public Ciphertext Ingest()
    {
        var p = _world.Parameters;
        foreach (var bytes in _world.Uploads)
        {
            var ct = _world.Serializer.DeserializeCiphertext(bytes);
            if (ct.Level != p.MaxLevel || ct.Size != 2 || ct.Scale != p.DefaultScale)
            {
                throw new InvalidOperationException("The upload is not a fresh top-level contribution.");
            }

            _evaluator.AddInPlace(_aggregate, ct);
        }

        return _aggregate;
    }
}

/// <summary>
/// Query latency on the server for cohorts of 10^3, 10^4 and 10^5 people (see <see cref="AnalyticsWorld.Aggregate"/>
/// for how the aggregates are built, untimed).
/// <list type="bullet">
/// <item><see cref="Evaluate"/>: the encrypted linear map alone (rotations, plaintext-mask products, one rescale).</item>
/// <item><see cref="ServerQuery"/>: the whole server compute of a query: parse + plan, evaluate, then decrypt with
/// the single secret key as a proxy for combining the custodians' threshold-decryption shares (t share additions + one
/// c_0 + Σ shares, the same order of work as one secret-key decryption), decode to the flooding precision, and read the
/// answer (groups, counts, moments, histogram). The custodians' own share computation and all network time are not
/// server time and are excluded, as the issue asks.</item>
/// </list>
/// The global setup checks the decrypted answer against the plaintext circuit on the same aggregate.
/// </summary>
[Config(typeof(AnalyticsConfig))]
public class AnalyticsQueryBenchmarks
{
    private AnalyticsWorld _world = null!;
    private Ciphertext _aggregate = null!;
    private EncryptedQueryEvaluator _evaluator = null!;
    private Decryptor _decryptor = null!;
    private QueryPlan _plan = null!;
    private string _sql = string.Empty;
    private double _precision;

    [Params(1_000, 10_000, 100_000)]
    public int Cohort { get; set; }

    [Params(AnalyticsQuery.Moments, AnalyticsQuery.Filtered, AnalyticsQuery.Histogram)]
    public AnalyticsQuery Query { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _world = AnalyticsWorld.Shared;
        var p = _world.Parameters;
        _aggregate = _world.Aggregate(Cohort);
        _evaluator = new EncryptedQueryEvaluator(p, new EvaluationKeySet(galoisKeys: _world.GaloisKeys));
        _decryptor = new Decryptor(p.Rlwe, _world.SecretKey);
        _sql = AnalyticsWorld.Sql(Query);
        _plan = QueryPlanner.Plan(QueryParser.Parse(_sql), _world.Schema);
        int diagonals = _plan.Diagonals(p.MaxSlots).Count;

        // check once: the decrypted answer equals the plaintext circuit on the same cohort
        var result = _evaluator.Evaluate(_aggregate, _plan);
        int rotations = _evaluator.LastRotationCount;
        _precision = UpdateRelease.PrecisionBits(p, UpdateRelease.FloodingFor(p, 5, Cohort + rotations), 3);
        var slots = _world.Codec.DecodePublic(_decryptor.Decrypt(result), _precision);
        var expected = _plan.EvaluatePlain(_world.PlainAggregate(Cohort));
        double quantum = Math.Pow(2, -_precision); // DecodePublic rounds to the release precision
        for (int i = 0; i < expected.Length; i++)
        {
            if (Math.Abs(slots[i] - expected[i]) > Math.Max(2 * quantum, 1e-6 * Math.Abs(expected[i])))
            {
                throw new InvalidOperationException($"{Query}, cohort {Cohort}: slot {i} decrypts to {slots[i]:R}, expected {expected[i]:R}");
            }
        }

        var answer = QueryResultReader.Read(_plan, slots);
        double total = answer.Groups.Sum(g => g.Count);
        AnalyticsConfig.Info[Query.ToString()] = $"{diagonals}/{rotations}";
        Console.WriteLine($"// Analytics[{Query}, {Cohort}]: {diagonals} diagonals, {rotations} rotations, {answer.Groups.Count} groups, total count {total:F3}, release precision 2^-{_precision}");
    }

    /// <summary>The encrypted linear map alone.</summary>
    [Benchmark]
    public Ciphertext Evaluate() => _evaluator.Evaluate(_aggregate, _plan);

    /// <summary>Parse + plan + evaluate + decrypt (combine proxy) + decode + read.</summary>
    [Benchmark]
    public QueryResult ServerQuery()
    {
        var plan = QueryPlanner.Plan(QueryParser.Parse(_sql), _world.Schema);
        var result = _evaluator.Evaluate(_aggregate, plan);
        var slots = _world.Codec.DecodePublic(_decryptor.Decrypt(result), _precision);
        return QueryResultReader.Read(plan, slots);
    }
}

/// <summary>
/// A short job for both analytics suites: BenchmarkDotNet's Monitoring strategy (one invocation per iteration, no
/// pilot), 1 warm-up and 10 measured iterations (3 with --quick): the 20 cases take about a minute. Adds a
/// column with the diagonals / rotations of each query (rotations = key switches per evaluation).
/// </summary>
public sealed class AnalyticsConfig : ManualConfig
{
    internal static readonly ConcurrentDictionary<string, string> Info = new(StringComparer.Ordinal);

    public AnalyticsConfig()
    {
        bool quick = Environment.GetCommandLineArgs().Contains("--quick", StringComparer.Ordinal);
        AddJob(Job.Default
            .WithStrategy(RunStrategy.Monitoring)
            .WithLaunchCount(1)
            .WithWarmupCount(1)
            .WithIterationCount(quick ? 3 : 10)
            .WithToolchain(InProcessEmitToolchain.Instance)
            .AsMutator());
        AddColumn(new InfoColumn("Diag/Rot", "Diagonals of the linear map / key switches (power-of-two rotations) per evaluation", c =>
            c.Parameters.Items.FirstOrDefault(p => p.Name == nameof(AnalyticsQueryBenchmarks.Query))?.Value?.ToString() is { } q && Info.TryGetValue(q, out var v) ? v : "-"));
        AddColumn(new InfoColumn("Upload B", "Serialized ciphertext bytes per upload", c =>
            c.Descriptor.Type == typeof(AnalyticsIngestBenchmarks) && Info.TryGetValue("ingest", out var v) ? v : "-"));
    }

    private sealed class InfoColumn(string name, string legend, Func<BenchmarkCase, string> value) : IColumn
    {
        public string Id => "Analytics." + name;
        public string ColumnName => name;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => false;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => legend;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => value(benchmarkCase);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => value(benchmarkCase);

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;
    }
}
