using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Researcher.Cli;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>The researcher CLI: keys, quote, submit, result (decrypted locally) against a running coordinator.</summary>
public sealed class ResearcherCliTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheCliBuysAQueryAndDecryptsTheStatisticsLocally()
    {
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        harness.StartCustodians([1, 2], parameters);
        string keySet = await harness.RunCeremonyAsync(2, 2, relinearization: false, [.. SlotLayout.RotationSteps(parameters.MaxSlots)], Ct, "AggregationLogN13LogQP216");
        string schemaJson = """
            { "version": 1, "id": "demo", "minGroupSize": 10, "epsilon": 100, "delta": 1e-5,
              "dimensions": [ { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" } ],
              "measures": [ { "name": "mean_radius", "lo": 6.981, "hi": 28.11 } ] }
            """;
        using var op = harness.Operator();
        await op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = schemaJson }, Ct);
        var schema = CohortSchema.Parse(schemaJson);
        var codec = new AnalyticsCodec(parameters, new SlotLayout(schema));
        var serializer = new CkksSerializer(parameters);
        using var first = harness.Client("p-00", Roles.Participant);
        var info = await first.GetCohortAsync("demo", Ct);
        using var encryptor = new Encryptor(parameters.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span));
        var rows = File.ReadAllLines(TestData.BreastCancerPath()).Skip(1).Take(40).Select(l => l.Split(',')).ToList();
        for (int k = 0; k < rows.Count; k++)
        {
            var person = new Dictionary<string, object> { ["target"] = rows[k][^1].Split('.')[0], ["mean_radius"] = double.Parse(rows[k][0], CultureInfo.InvariantCulture) };
            using var c = harness.Client($"p-{k:D2}", Roles.Participant);
            await c.UploadContributionAsync(new ContributionRequest { CohortId = "demo", ParticipantId = $"p-{k:D2}", Ciphertext = ByteString.CopyFrom(serializer.Serialize(codec.Encrypt(new ContributionEncoder(schema).Encode(person), encryptor))) }, Ct);
        }

        string home = Path.Combine(harness.Directory, "researcher");
        string token = harness.Issuer.CreateToken("researcher-7", Roles.Researcher);
        async Task<string> Cli(params string[] args)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = await ResearcherCli.RunAsync([.. args, "--home", home, "--address", harness.Address.ToString(), "--token", token], stdout, stderr);
            Assert.True(code == 0, $"{string.Join(' ', args)} → {code}: {stderr}");
            return stdout.ToString();
        }

        const string sql = "SELECT COUNT(*), AVG(mean_radius) FROM demo GROUP BY label";
        await Cli("keys", "--cohort", "demo");
        Assert.True(File.Exists(Path.Combine(home, "demo.secret")));
        string quote = Regex.Match(await Cli("quote", "--cohort", "demo", "--query", sql, "--epsilon", "40"), "quote (q-[0-9a-f]+)").Groups[1].Value;
        string job = Regex.Match(await Cli("submit", "--cohort", "demo", "--query", sql, "--quote", quote), "job (qj-[0-9a-f]+)").Groups[1].Value;
        string result = await Cli("result", job, "--cohort", "demo");
        output.WriteLine(result);

        var bad = new StringWriter();
        Assert.Equal(1, await ResearcherCli.RunAsync(["quote", "--cohort", "demo", "--query", "SELECT AVG(bmi) FROM demo", "--home", home, "--address", harness.Address.ToString(), "--token", token], new StringWriter(), bad));
        Assert.Contains("unknown measure 'bmi'", bad.ToString(), StringComparison.Ordinal);

        // the first 40 rows hold 36 of label 0 and 4 of label 1: the small group (4 people, minimum 10) is suppressed, the other released
        var members = rows.Count(r => r[^1].Split('.')[0] == "0");
        Assert.True(rows.Count - members <= 5 && members >= 20, "the fixture's split changed");
        var n = double.Parse(Regex.Match(result, @"\[label=0\] n ≈ (-?[0-9.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(n, members - 4, members + 4);
        Assert.DoesNotContain("[label=1]", result, StringComparison.Ordinal);
        Assert.Contains("suppressed 1", result, StringComparison.Ordinal);
    }
}
