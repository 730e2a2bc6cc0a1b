using System.Globalization;
using Google.Protobuf;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// A researcher buys a query: quote, job, the custodians add encrypted noise and decrypt the noisy counts over the
/// network, small groups are suppressed, the statistics are re-encrypted to the researcher who alone decrypts them;
/// the privacy budget refuses what would exceed it and spends nothing.
/// </summary>
public sealed class QueryJobTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Schema = """
        {
          "version": 1, "id": "breast_cancer", "minGroupSize": 10, "epsilon": 50, "delta": 1e-5,
          "dimensions": [
            { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" },
            { "name": "radius_bin", "kind": "numeric", "source": "mean_radius", "edges": [6.981, 9.0939, 11.2068, 13.3197, 15.4326, 17.5455, 19.6584, 21.7713, 23.8842, 25.9971, 28.11] }
          ],
          "measures": [
            { "name": "mean_radius", "lo": 6.981, "hi": 28.11 },
            { "name": "mean_area", "lo": 143.5, "hi": 2501.0 }
          ]
        }
        """;

    [Fact]
    public async Task AQuotedQueryIsReleasedWithNoiseToItsResearcherOnlyAndTheBudgetHolds()
    {
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        harness.StartCustodians([1, 2, 3], parameters);
        string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, [.. SlotLayout.RotationSteps(parameters.MaxSlots)], Ct, "AggregationLogN13LogQP216");
        using var op = harness.Operator();
        await op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = Schema }, Ct);

        // 120 people contribute
        var lines = File.ReadAllLines(TestData.BreastCancerPath());
        var header = lines[0].Split(',');
        var people = lines.Skip(1).Take(120).Select(l => l.Split(',')).Select(cells => (IReadOnlyDictionary<string, object>)header.Select((h, i) => (h, v: cells[i]))
            .ToDictionary(x => x.h, x => x.h == "target" ? (object)((int)double.Parse(x.v, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture) : double.Parse(x.v, CultureInfo.InvariantCulture))).ToList();
        var schema = CohortSchema.Parse(Schema);
        var encoder = new ContributionEncoder(schema);
        var codec = new AnalyticsCodec(parameters, new SlotLayout(schema));
        var serializer = new CkksSerializer(parameters);
        CohortInfo info;
        using (var first = harness.Client("person-000", Roles.Participant))
        {
            info = await first.GetCohortAsync("breast_cancer", Ct);
        }

        using (var encryptor = new Encryptor(parameters.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span)))
        {
            var uploads = people.Select((person, k) => new ContributionRequest
            {
                CohortId = "breast_cancer",
                ParticipantId = $"person-{k:D3}",
                Ciphertext = ByteString.CopyFrom(serializer.Serialize(codec.Encrypt(encoder.Encode(person), encryptor))),
            }).ToList();
            await Task.WhenAll(uploads.Select(async u =>
            {
                using var c = harness.Client(u.ParticipantId, Roles.Participant);
                Assert.True((await c.UploadContributionAsync(u, Ct)).Accepted);
            }));
        }

        // the researcher's own key pair; the coordinator and the custodians never see the secret key
        using var keygen = new KeyGenerator(parameters.Rlwe);
        using var secret = keygen.GenerateSecretKey();
        var researcherKey = serializer.Serialize(keygen.GeneratePublicKey(secret));
        using var researcher = harness.Client("researcher-1", Roles.Researcher);
        const string sql = "SELECT COUNT(*), AVG(mean_radius), AVG(mean_area) FROM breast_cancer GROUP BY label";
        var quote = await researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "breast_cancer", Query = sql, Epsilon = 20 }, Ct);
        var second = await researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "breast_cancer", Query = sql, Epsilon = 20 }, Ct);
        var third = await researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "breast_cancer", Query = sql, Epsilon = 20 }, Ct);
        Assert.True(quote.PriceMicros > 0);
        var badQuery = await Assert.ThrowsAsync<GrpcStatusException>(() => researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "breast_cancer", Query = "SELECT AVG(bmi) FROM breast_cancer" }, Ct));
        Assert.Equal(StatusCode.InvalidArgument, badQuery.StatusCode);
        Assert.Contains("unknown measure 'bmi'", badQuery.Detail, StringComparison.Ordinal);

        var submit = new SubmitQueryRequest { QuoteId = quote.QuoteId, CohortId = "breast_cancer", Query = sql, ResearcherPublicKey = ByteString.CopyFrom(researcherKey), IdempotencyKey = "buy-1" };
        var job = await researcher.SubmitQueryAsync(submit, Ct);
        Assert.Equal(job.JobId, (await researcher.SubmitQueryAsync(submit, Ct)).JobId); // replayed idempotency key: the same job
        using (var other = harness.Client("researcher-2", Roles.Researcher))
        {
            var notYours = await Assert.ThrowsAsync<GrpcStatusException>(() => other.GetQueryJobAsync(job.JobId, Ct));
            Assert.Equal(StatusCode.NotFound, notYours.StatusCode);
        }

        var done = await WaitAsync(researcher, job.JobId);
        output.WriteLine($"{done.State}: {done.Message}; σ counts {done.CountSigma:F3}, σ statistics {done.StatisticsSigma:F3}");
        Assert.Equal("completed", done.State);

        // only the researcher's key opens the result
        var plan = QueryPlanner.Plan(QueryParser.Parse(sql), schema);
        var released = plan.Blocks.Where(b => done.ReleasedSlots.Contains(b.Slot)).ToList();
        var result = serializer.DeserializeCiphertext(done.Result.Span);
        var slots = codec.DecodePublic(new Decryptor(parameters.Rlwe, secret).Decrypt(result), 20);
        var answer = QueryResultReader.Read(plan, slots, released);
        Assert.Equal(2, answer.Groups.Count);
        foreach (var group in answer.Groups)
        {
            var rows = people.Where(x => (string)x["target"] == group.Key["label"]).ToList();
            double n = rows.Count;
            output.WriteLine($"label {group.Key["label"]}: noisy n {group.Count:F2} (true {n}), avg radius {group.Items[1].Value:F3} (true {rows.Average(r => (double)r["mean_radius"]):F3})");
            Assert.InRange(group.Count, n - (6 * done.StatisticsSigma), n + (6 * done.StatisticsSigma));
            Assert.InRange(group.Items[1].Value!.Value, rows.Average(r => (double)r["mean_radius"]) - 2, rows.Average(r => (double)r["mean_radius"]) + 2);
        }

        // ε 50: the second query (20) fits; the third would exceed the 10 left and fails without spending anything
        var job2 = await researcher.SubmitQueryAsync(submit.Clone().Let(s => { s.QuoteId = second.QuoteId; s.IdempotencyKey = "buy-2"; }), Ct);
        Assert.Equal("completed", (await WaitAsync(researcher, job2.JobId)).State);
        var before = await op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = "breast_cancer" }, Ct);
        var job3 = await researcher.SubmitQueryAsync(submit.Clone().Let(s => { s.QuoteId = third.QuoteId; s.IdempotencyKey = "buy-3"; }), Ct);
        var refused = await WaitAsync(researcher, job3.JobId);
        var after = await op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = "breast_cancer" }, Ct);
        Assert.Equal("failed", refused.State);
        Assert.Contains("privacy budget", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before.EpsilonRemaining, after.EpsilonRemaining);
        Assert.Equal(10, after.EpsilonRemaining, 9);
        var reused = await Assert.ThrowsAsync<GrpcStatusException>(() => researcher.SubmitQueryAsync(submit.Clone().Let(s => s.IdempotencyKey = "buy-4"), Ct));
        Assert.Equal(StatusCode.AlreadyExists, reused.StatusCode);
    }

    private static async Task<QueryJobStatus> WaitAsync(PrivateHealth.Participant.Network.CoordinatorClient researcher, string jobId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var status = await researcher.GetQueryJobAsync(jobId, Ct);
            if (status.State is "completed" or "failed" || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(50, Ct);
        }
    }
}

internal static class ProtoExtensions
{
    public static T Let<T>(this T value, Action<T> change)
    {
        change(value);
        return value;
    }
}
