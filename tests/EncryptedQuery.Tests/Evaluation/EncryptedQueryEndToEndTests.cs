using System.Globalization;
using MathNet.Numerics.LinearAlgebra;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Participant.Simulation;

namespace PrivateHealth.EncryptedQuery.Tests.Evaluation;

/// <summary>
/// Issue 6 acceptance (DP disabled): the breast-cancer data encoded by 569 simulated people, encrypted under a 3-of-5
/// committee's collective key, summed, queried under encryption and decrypted by three custodians with flooding.
/// </summary>
public sealed class EncryptedCohortFixture : IDisposable
{
    public EncryptedCohortFixture()
    {
        (Schema, People) = EncryptedQueryEndToEndTests.Load();
        Parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        Committee = new SimulatedCommittee(Parameters, members: 5, threshold: 3, rotations: SlotLayout.RotationSteps(Parameters.MaxSlots));
        Committee.SetOffline([2, 5]);
        Layout = new SlotLayout(Schema);
        Codec = new AnalyticsCodec(Parameters, Layout);
        var encoder = new ContributionEncoder(Schema);
        var evaluator = new CkksEvaluator(Parameters);
        using var encryptor = new Encryptor(Parameters.Rlwe, Committee.PublicKey);
        foreach (var person in People)
        {
            // ingest: one ciphertext per person, one addition each
            var ct = Codec.Encrypt(encoder.Encode(person), encryptor);
            if (Aggregate is null)
            {
                Aggregate = ct;
            }
            else
            {
                evaluator.AddInPlace(Aggregate, ct);
            }
        }

        PlainAggregate = Codec.Slots(PlainAggregator.Sum(People.Select(p => encoder.Encode(p))));
        Evaluator = new EncryptedQueryEvaluator(Parameters, new EvaluationKeySet(galoisKeys: Committee.GaloisKeys));
    }

    public CohortSchema Schema { get; }
    public List<Dictionary<string, object>> People { get; }
    public CkksParameters Parameters { get; }
    public SimulatedCommittee Committee { get; }
    public SlotLayout Layout { get; }
    public AnalyticsCodec Codec { get; }
    public Ciphertext Aggregate { get; } = null!;
    public double[] PlainAggregate { get; }
    public EncryptedQueryEvaluator Evaluator { get; }

    public void Dispose() => Committee.Dispose();
}

public sealed class EncryptedQueryEndToEndTests(ITestOutputHelper output, EncryptedCohortFixture cohort) : IClassFixture<EncryptedCohortFixture>
{
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

    internal static (CohortSchema Schema, List<Dictionary<string, object>> People) Load()
    {
        var lines = File.ReadAllLines(BreastCancer.Path());
        var header = lines[0].Split(',');
        var people = lines.Skip(1).Where(l => l.Length > 0).Select(l =>
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
        }).ToList();
        return (CohortSchema.Parse(SchemaJson), people);
    }

    [Fact]
    public void ThePlanEqualsDirectComputationOnPlaintext()
    {
        var (schema, people) = (cohort.Schema, cohort.People);
        var aggregate = cohort.PlainAggregate;
        var plan = QueryPlanner.Plan(QueryParser.Parse("SELECT COUNT(*), AVG(mean_radius) FROM breast_cancer WHERE radius_bin >= 9.0939 GROUP BY label"), schema);
        var result = QueryResultReader.Read(plan, plan.EvaluatePlain(aggregate));
        foreach (var group in result.Groups)
        {
            var members = people.Where(p => (string)p["target"] == group.Key["label"] && (double)p["mean_radius"] >= 9.0939).ToList();
            Assert.Equal(members.Count, group.Count);
            Assert.Equal(members.Average(p => (double)p["mean_radius"]), group.Items[1].Value!.Value, 9);
        }
    }

    [Fact]
    public void EncryptedQueryWithThresholdDecryptionMatchesPlaintextStatistics()
    {
        var (schema, people, p, committee, codec) = (cohort.Schema, cohort.People, cohort.Parameters, cohort.Committee, cohort.Codec);
        var aggregate = cohort.Aggregate;
        string sql = "SELECT COUNT(*), AVG(mean_radius), VAR(mean_radius), AVG(mean_area), VAR(mean_area), HISTOGRAM(mean_radius), "
            + "LINREG(mean_area ~ mean_radius + mean_texture + mean_smoothness) FROM breast_cancer GROUP BY label";
        var plan = QueryPlanner.Plan(QueryParser.Parse(sql), schema);
        var queryEvaluator = cohort.Evaluator;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = queryEvaluator.Evaluate(aggregate!, plan);
        double queryMs = started.Elapsed.TotalMilliseconds;
        var flooding = UpdateRelease.FloodingFor(p, committee.Members, people.Count + queryEvaluator.LastRotationCount);
        double precision = UpdateRelease.PrecisionBits(p, flooding, committee.Threshold);
        var plaintext = committee.Decrypt([result], flooding)[0];
        var slots = codec.DecodePublic(plaintext, precision);
        var answer = QueryResultReader.Read(plan, slots);
        output.WriteLine($"query: {plan.Diagonals(p.MaxSlots).Count} diagonals, {queryEvaluator.LastRotationCount} rotations, {queryMs:F0} ms; released to 2^-{precision}");

        // ground truth straight from the rows
        var edges = schema.Dimensions[1].Edges!;
        Assert.Equal(2, answer.Groups.Count);
        foreach (var group in answer.Groups)
        {
            var rows = people.Where(x => (string)x["target"] == group.Key["label"]).ToList();
            double[] radius = [.. rows.Select(x => (double)x["mean_radius"])];
            double[] area = [.. rows.Select(x => (double)x["mean_area"])];
            AssertExactCount(rows.Count, group.Count);
            var items = group.Items;
            AssertRelative(radius.Average(), items[1].Value!.Value, 1e-6);
            AssertRelative(SampleVariance(radius), items[2].Value!.Value, 1e-6);
            AssertRelative(area.Average(), items[3].Value!.Value, 1e-6);
            AssertRelative(SampleVariance(area), items[4].Value!.Value, 1e-6);
            var histogram = items[5].Histogram!;
            for (int bin = 0; bin < edges.Count - 1; bin++)
            {
                int expected = radius.Count(r => schema.Dimensions[1].BinOf(r) == bin);
                AssertExactCount(expected, histogram[schema.Dimensions[1].Labels[bin]]);
            }

            // LINREG against ordinary least squares on the same rows, compared in standardized units
            var fit = items[6].Regression!;
            string[] xs = ["mean_radius", "mean_texture", "mean_smoothness"];
            var x = Matrix<double>.Build.Dense(rows.Count, xs.Length + 1, (i, j) => j == 0 ? 1 : (double)rows[i][xs[j - 1]]);
            var y = Vector<double>.Build.Dense(area);
            var beta = x.QR().Solve(y);
            double sy = Math.Sqrt(SampleVariance(area));
            for (int j = 0; j < xs.Length; j++)
            {
                double sx = Math.Sqrt(SampleVariance([.. rows.Select(r => (double)r[xs[j]])]));
                AssertRelative(beta[j + 1] * sx / sy, fit.Coefficients[j] * sx / sy, 1e-4);
            }

            output.WriteLine($"label {group.Key["label"]}: n = {group.Count}, mean radius {items[1].Value:F6}, var area {items[4].Value:F3}, linreg {string.Join(", ", fit.Coefficients.Select(c => c.ToString("F5", CultureInfo.InvariantCulture)))}");
        }

        Assert.Equal(new[] { 212.0, 357.0 }, answer.Groups.Select(g => Math.Round(g.Count)).Order());
    }

    [Theory]
    [InlineData("SELECT COUNT(*), AVG(mean_radius), VAR(mean_area), CORR(mean_radius, mean_area) FROM breast_cancer WHERE radius_bin >= 11.2068 GROUP BY label")]
    [InlineData("SELECT COUNT(*), STDDEV(mean_texture), COVAR(mean_texture, mean_smoothness) FROM breast_cancer WHERE label = '1' AND NOT radius_bin IN ('[6.981, 9.0939)')")]
    [InlineData("SELECT COUNT(*), SUM(mean_area) FROM breast_cancer")]
    public void QueriesThatSumCellsUnderEncryptionMatchThePlaintextCircuitAndTheRows(string sql)
    {
        var plan = QueryPlanner.Plan(QueryParser.Parse(sql), cohort.Schema);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = cohort.Evaluator.Evaluate(cohort.Aggregate, plan);
        double ms = started.Elapsed.TotalMilliseconds;
        var flooding = UpdateRelease.FloodingFor(cohort.Parameters, 5, cohort.People.Count + cohort.Evaluator.LastRotationCount);
        double precision = UpdateRelease.PrecisionBits(cohort.Parameters, flooding, 3);
        var slots = cohort.Codec.DecodePublic(cohort.Committee.Decrypt([result], flooding)[0], precision);
        var expected = plan.EvaluatePlain(cohort.PlainAggregate);
        output.WriteLine($"{plan.Diagonals(cohort.Parameters.MaxSlots).Count} diagonals, {cohort.Evaluator.LastRotationCount} rotations, {ms:F0} ms");
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(slots[i] - expected[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"slot {i}: {slots[i]} vs {expected[i]}");
        }

        // and the circuit means what it says: counts straight from the rows
        var answer = QueryResultReader.Read(plan, slots);
        foreach (var group in answer.Groups)
        {
            var rows = cohort.People.Where(p => group.Key.All(k => (string)p["target"] == k.Value));
            rows = sql.Contains("radius_bin >= 11.2068", StringComparison.Ordinal) ? rows.Where(p => (double)p["mean_radius"] >= 11.2068) : rows;
            rows = sql.Contains("label = '1'", StringComparison.Ordinal) ? rows.Where(p => (string)p["target"] == "1" && (double)p["mean_radius"] >= 9.0939) : rows;
            AssertExactCount(rows.Count(), group.Count);
        }
    }

    /// <summary>A decrypted count is exact: within 1e-3 of the integer (CKKS is approximate; the rounding is exact).</summary>
    private static void AssertExactCount(int expected, double actual)
    {
        Assert.True(Math.Abs(actual - expected) < 1e-3, $"count {actual:R}, expected {expected}");
        Assert.Equal(expected, (int)Math.Round(actual));
    }

    private static double SampleVariance(double[] v)
    {
        double mean = v.Average();
        return v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1);
    }

    private static void AssertRelative(double expected, double actual, double tolerance) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Abs(expected), $"expected {expected:R}, got {actual:R} (relative {Math.Abs(actual - expected) / Math.Abs(expected):E2})");
}

internal static class BreastCancer
{
    public static string Path()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("PRIVATEHEALTH_DATA_DIR");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return System.IO.Path.Combine(fromEnvironment, "breast_cancer.csv");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "shared", "data", "breast_cancer.csv");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("breast_cancer.csv not found; set PRIVATEHEALTH_DATA_DIR.");
    }
}
