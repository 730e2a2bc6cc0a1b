using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Api;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Networking;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>A coordinator with a ready key set and a 30-person cohort, shared by the REST job API tests.</summary>
public sealed class JobApiFixture : IAsyncLifetime
{
    public const string Schema = """
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

    private KeyGenerator? _keygen;

    internal CoordinatorHarness Harness { get; private set; } = null!;
    public CkksParameters Parameters { get; } = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
    public CkksSerializer Serializer { get; private set; } = null!;
    public AnalyticsCodec Codec { get; private set; } = null!;
    public CohortSchema CohortSchema { get; } = CohortSchema.Parse(Schema);
    public SecretKey Secret { get; private set; } = null!;
    public string ResearcherKeyBase64 { get; private set; } = null!;
    public List<IReadOnlyDictionary<string, object>> People { get; private set; } = [];
    public Uri HttpAddress { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        int port = LoopbackPort.Free();
        Harness = await CoordinatorHarness.StartAsync(settings: new Dictionary<string, string> { ["Coordinator:HttpPort"] = port.ToString(CultureInfo.InvariantCulture) }, ct: ct);
        HttpAddress = new Uri($"http://127.0.0.1:{port}");
        Harness.StartCustodians([1, 2, 3], Parameters);
        string keySet = await Harness.RunCeremonyAsync(3, 2, relinearization: false, [.. SlotLayout.RotationSteps(Parameters.MaxSlots)], ct, "AggregationLogN13LogQP216");
        using (var op = Harness.Operator())
        {
            await op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = Schema }, ct);
        }

        var lines = File.ReadAllLines(TestData.BreastCancerPath());
        var header = lines[0].Split(',');
        People = [.. lines.Skip(1).Take(30).Select(l => l.Split(',')).Select(cells => (IReadOnlyDictionary<string, object>)header.Select((h, i) => (h, v: cells[i]))
            .ToDictionary(x => x.h, x => x.h == "target" ? (object)((int)double.Parse(x.v, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture) : double.Parse(x.v, CultureInfo.InvariantCulture)))];
        var encoder = new ContributionEncoder(CohortSchema);
        Codec = new AnalyticsCodec(Parameters, new SlotLayout(CohortSchema));
        Serializer = new CkksSerializer(Parameters);
        CohortInfo info;
        using (var first = Harness.Client("person-000", Roles.Participant))
        {
            info = await first.GetCohortAsync("breast_cancer", ct);
        }

        using (var encryptor = new Encryptor(Parameters.Rlwe, Serializer.DeserializePublicKey(info.PublicKey.Span)))
        {
            var uploads = People.Select((person, k) => new ContributionRequest
            {
                CohortId = "breast_cancer",
                ParticipantId = $"person-{k:D3}",
                Ciphertext = ByteString.CopyFrom(Serializer.Serialize(Codec.Encrypt(encoder.Encode(person), encryptor))),
            }).ToList();
            await Task.WhenAll(uploads.Select(async u =>
            {
                using var c = Harness.Client(u.ParticipantId, Roles.Participant);
                Assert.True((await c.UploadContributionAsync(u, ct)).Accepted);
            }));
        }

        _keygen = new KeyGenerator(Parameters.Rlwe);
        Secret = _keygen.GenerateSecretKey();
        ResearcherKeyBase64 = Convert.ToBase64String(Serializer.Serialize(_keygen.GeneratePublicKey(Secret)));
    }

    public HttpClient Http(string? subject = "researcher-1", string role = Roles.Researcher)
    {
        var http = new HttpClient { BaseAddress = HttpAddress };
        if (subject is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Harness.Issuer.CreateToken(subject, role));
        }

        return http;
    }

    public async ValueTask DisposeAsync()
    {
        Secret?.Dispose();
        _keygen?.Dispose();
        if (Harness is not null)
        {
            await Harness.DisposeAsync();
        }
    }
}

/// <summary>The REST + JSON job API: cohorts, quotes, jobs, results, cancellation, problem details and the OpenAPI document.</summary>
public sealed class JobApiTests(JobApiFixture fixture, ITestOutputHelper output) : IClassFixture<JobApiFixture>
{
    private const string Sql = "SELECT COUNT(*), AVG(mean_radius), AVG(mean_area) FROM breast_cancer GROUP BY label";
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AQuotedJobRunsToCompletionAndOnlyTheResearchersKeyOpensTheResult()
    {
        using var http = fixture.Http();

        var cohorts = await http.GetFromJsonAsync<CohortSummary[]>("/api/cohorts", Web, Ct);
        var cohort = Assert.Single(cohorts!, c => c.CohortId == "breast_cancer");
        Assert.Equal(30, cohort.NoisySize);
        Assert.Equal("breast_cancer", cohort.Schema.GetProperty("id").GetString());
        Assert.True(cohort.EpsilonRemaining > 0);

        var quote = await QuoteAsync(http, 20);
        Assert.True(quote.Price > 0);
        Assert.True(quote.ExpiresAt > DateTimeOffset.UtcNow);
        Assert.Equal(2, quote.Groups);

        var submit = new SubmitJobRequest(quote.QuoteId, "breast_cancer", Sql, fixture.ResearcherKeyBase64, null);
        using var first = new HttpRequestMessage(HttpMethod.Post, "/api/jobs") { Content = JsonContent.Create(submit, options: Web) };
        first.Headers.Add("Idempotency-Key", "rest-buy-1");
        using var created = await http.SendAsync(first, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var job = (await created.Content.ReadFromJsonAsync<JobResponse>(Web, Ct))!;
        Assert.Equal($"/api/jobs/{job.JobId}", created.Headers.Location!.OriginalString);

        // the same key (in the body this time) returns the same job with 200
        using var replayed = await http.PostAsJsonAsync("/api/jobs", submit with { IdempotencyKey = "rest-buy-1" }, Web, Ct);
        Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
        Assert.Equal(job.JobId, (await replayed.Content.ReadFromJsonAsync<JobResponse>(Web, Ct))!.JobId);

        using (var other = fixture.Http("researcher-2"))
        {
            using var notYours = await other.GetAsync($"/api/jobs/{job.JobId}", Ct);
            await AssertProblemAsync(notYours, HttpStatusCode.NotFound);
            using var notYourResult = await other.GetAsync($"/api/jobs/{job.JobId}/result", Ct);
            await AssertProblemAsync(notYourResult, HttpStatusCode.NotFound);
        }

        var done = await WaitAsync(http, job.JobId);
        output.WriteLine($"{done.State}: {done.Message}; σ counts {done.CountSigma:F3}, σ statistics {done.StatisticsSigma:F3}");
        Assert.Equal("completed", done.State);
        Assert.True(done.CountSigma > 0);

        using var result = await http.GetAsync($"/api/jobs/{job.JobId}/result", Ct);
        Assert.Equal(HttpStatusCode.OK, result.StatusCode);
        Assert.Equal("application/octet-stream", result.Content.Headers.ContentType!.MediaType);
        var bytes = await result.Content.ReadAsByteArrayAsync(Ct);
        var slots = result.Headers.GetValues(JobApiEndpoints.ReleasedSlotsHeader).Single().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(done.ReleasedSlots, slots);

        using var jsonRequest = new HttpRequestMessage(HttpMethod.Get, $"/api/jobs/{job.JobId}/result");
        jsonRequest.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var jsonResult = await http.SendAsync(jsonRequest, Ct);
        var json = (await jsonResult.Content.ReadFromJsonAsync<JobResultResponse>(Web, Ct))!;
        Assert.Equal(bytes, Convert.FromBase64String(json.Ciphertext));
        Assert.Equal(slots, json.ReleasedSlots);

        var plan = QueryPlanner.Plan(QueryParser.Parse(Sql), fixture.CohortSchema);
        var released = plan.Blocks.Where(b => slots.Contains(b.Slot)).ToList();
        Assert.NotEmpty(released);
        var decoded = fixture.Codec.DecodePublic(new Decryptor(fixture.Parameters.Rlwe, fixture.Secret).Decrypt(fixture.Serializer.DeserializeCiphertext(bytes)), 20);
        var answer = QueryResultReader.Read(plan, decoded, released);
        Assert.Equal(released.Count, answer.Groups.Count);
        foreach (var group in answer.Groups)
        {
            double n = fixture.People.Count(x => (string)x["target"] == group.Key["label"]);
            output.WriteLine($"label {group.Key["label"]}: noisy n {group.Count:F2} (true {n})");
            Assert.InRange(group.Count, n - (6 * done.StatisticsSigma), n + (6 * done.StatisticsSigma));
        }
    }

    [Fact]
    public async Task ACancelledJobHasNoResultAndCannotBeCancelledTwice()
    {
        using var http = fixture.Http();
        var quote = await QuoteAsync(http, 0.5);
        using var created = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest(quote.QuoteId, "breast_cancer", Sql, fixture.ResearcherKeyBase64, "rest-cancel-1"), Web, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var job = (await created.Content.ReadFromJsonAsync<JobResponse>(Web, Ct))!;

        using var cancelled = await http.PostAsync($"/api/jobs/{job.JobId}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        Assert.Equal("cancelled", (await cancelled.Content.ReadFromJsonAsync<JobResponse>(Web, Ct))!.State);

        using var again = await http.PostAsync($"/api/jobs/{job.JobId}/cancel", null, Ct);
        await AssertProblemAsync(again, HttpStatusCode.Conflict);
        using var result = await http.GetAsync($"/api/jobs/{job.JobId}/result", Ct);
        var problem = await AssertProblemAsync(result, HttpStatusCode.Conflict);
        Assert.Contains("cancelled", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var status = await http.GetFromJsonAsync<JobResponse>($"/api/jobs/{job.JobId}", Web, Ct);
        Assert.Equal("cancelled", status!.State);

        using var reused = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest(quote.QuoteId, "breast_cancer", Sql, fixture.ResearcherKeyBase64, "rest-cancel-2"), Web, Ct);
        await AssertProblemAsync(reused, HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task ResultBeforeCompletionIsAConflict()
    {
        var store = fixture.Harness.App.Services.GetRequiredService<IQueryJobStore>();
        var now = DateTimeOffset.UtcNow;
        // a job that never advances (its state machine step fails on the missing quote and retries), so it stays pending
        await store.CreateQuoteAsync(new QuoteRecord { QuoteId = "q-rest-pending", CohortId = "breast_cancer", ResearcherId = "researcher-1", Kind = "query", Request = Sql, Epsilon = 0.1, Delta = 1e-7, PriceMicros = 1, CreatedAt = now, ExpiresAt = now.AddMinutes(5) }, Ct);
        var (job, outcome) = await store.CreateQueryJobAsync(new QueryJobRecord { JobId = "qj-rest-pending", QuoteId = "q-rest-pending", CohortId = "breast_cancer", ResearcherId = "researcher-1", QueryText = Sql, ResearcherPublicKey = Convert.FromBase64String(fixture.ResearcherKeyBase64), State = "computing", Data = "{}", CreatedAt = now, UpdatedAt = now }, now, Ct);
        Assert.Equal(CreateQueryJobOutcome.Created, outcome);
        using var http = fixture.Http();
        using var result = await http.GetAsync($"/api/jobs/{job!.JobId}/result", Ct);
        Assert.Contains("available once it is completed", (await AssertProblemAsync(result, HttpStatusCode.Conflict)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // stop the worker from stepping the hand-made job
        using var cancelled = await http.PostAsync($"/api/jobs/{job.JobId}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
    }

    [Fact]
    public async Task BadRequestsAreProblems()
    {
        using var http = fixture.Http();
        using var badJson = await http.PostAsync("/api/quotes", new StringContent("{\"cohortId\": ", Encoding.UTF8, "application/json"), Ct);
        await AssertProblemAsync(badJson, HttpStatusCode.BadRequest);
        using var wrongType = await http.PostAsync("/api/quotes", new StringContent("{\"cohortId\": \"breast_cancer\", \"query\": \"x\", \"epsilon\": \"lots\"}", Encoding.UTF8, "application/json"), Ct);
        await AssertProblemAsync(wrongType, HttpStatusCode.BadRequest);
        using var missing = await http.PostAsJsonAsync("/api/quotes", new { cohortId = "breast_cancer" }, Web, Ct);
        var problem = await AssertProblemAsync(missing, HttpStatusCode.BadRequest);
        Assert.Contains("query", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var missingJob = await http.PostAsJsonAsync("/api/jobs", new { quoteId = "q-x", cohortId = "breast_cancer", query = Sql }, Web, Ct);
        Assert.Contains("researcherPublicKey", (await AssertProblemAsync(missingJob, HttpStatusCode.BadRequest)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var badQuery = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("breast_cancer", "SELECT AVG(bmi) FROM breast_cancer", 1), Web, Ct);
        Assert.Contains("unknown measure 'bmi'", (await AssertProblemAsync(badQuery, HttpStatusCode.BadRequest)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var badKey = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest("q-x", "breast_cancer", Sql, "not base64!", null), Web, Ct);
        await AssertProblemAsync(badKey, HttpStatusCode.BadRequest);
        using var noRoute = await http.GetAsync("/api/nope", Ct);
        await AssertProblemAsync(noRoute, HttpStatusCode.NotFound);
        using var tooMuch = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("breast_cancer", Sql, 1000), Web, Ct);
        await AssertProblemAsync(tooMuch, HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task UnknownIdsAreNotFoundAndAnExpiredQuoteIsGone()
    {
        using var http = fixture.Http();
        using var unknownCohort = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("no_such_cohort", Sql, 1), Web, Ct);
        await AssertProblemAsync(unknownCohort, HttpStatusCode.NotFound);
        using var unknownQuote = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest("q-nope", "breast_cancer", Sql, fixture.ResearcherKeyBase64, null), Web, Ct);
        await AssertProblemAsync(unknownQuote, HttpStatusCode.NotFound);
        using var unknownJob = await http.GetAsync("/api/jobs/qj-nope", Ct);
        await AssertProblemAsync(unknownJob, HttpStatusCode.NotFound);
        using var unknownResult = await http.GetAsync("/api/jobs/qj-nope/result", Ct);
        await AssertProblemAsync(unknownResult, HttpStatusCode.NotFound);
        using var unknownCancel = await http.PostAsync("/api/jobs/qj-nope/cancel", null, Ct);
        await AssertProblemAsync(unknownCancel, HttpStatusCode.NotFound);

        var store = fixture.Harness.App.Services.GetRequiredService<IQueryJobStore>();
        var past = DateTimeOffset.UtcNow.AddHours(-1);
        await store.CreateQuoteAsync(new QuoteRecord { QuoteId = "q-rest-expired", CohortId = "breast_cancer", ResearcherId = "researcher-1", Kind = "query", Request = Sql, Epsilon = 1, Delta = 1e-7, PriceMicros = 1, CreatedAt = past, ExpiresAt = past.AddMinutes(15) }, Ct);
        using var expired = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest("q-rest-expired", "breast_cancer", Sql, fixture.ResearcherKeyBase64, null), Web, Ct);
        Assert.Contains("expired", (await AssertProblemAsync(expired, HttpStatusCode.Gone)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingTokensAndWrongRolesAreProblems()
    {
        using var anonymous = fixture.Http(subject: null);
        foreach (var path in new[] { "/api/cohorts", "/api/jobs/qj-x", "/api/jobs/qj-x/result" })
        {
            using var response = await anonymous.GetAsync(path, Ct);
            await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        }

        using (var post = await anonymous.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("breast_cancer", Sql, 1), Web, Ct))
        {
            await AssertProblemAsync(post, HttpStatusCode.Unauthorized);
        }

        using var garbage = new HttpClient { BaseAddress = fixture.HttpAddress };
        garbage.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-jwt");
        using (var response = await garbage.GetAsync("/api/cohorts", Ct))
        {
            await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        }

        using var participant = fixture.Http("person-001", Roles.Participant);
        using (var response = await participant.GetAsync("/api/cohorts", Ct))
        {
            await AssertProblemAsync(response, HttpStatusCode.Forbidden);
        }

        using (var response = await participant.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("breast_cancer", Sql, 1), Web, Ct))
        {
            await AssertProblemAsync(response, HttpStatusCode.Forbidden);
        }

        using var op = fixture.Http("operator-1", Roles.Operator);
        using (var response = await op.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("breast_cancer", Sql, 1), Web, Ct))
        {
            await AssertProblemAsync(response, HttpStatusCode.Forbidden);
        }

        using (var response = await op.GetAsync("/api/cohorts", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task TheOpenApiDocumentListsTheSixEndpoints()
    {
        using var anonymous = fixture.Http(subject: null);
        using var doc = JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json", Ct));
        var paths = doc.RootElement.GetProperty("paths");
        Assert.True(paths.GetProperty("/api/cohorts").TryGetProperty("get", out var list));
        Assert.Equal("ListCohorts", list.GetProperty("operationId").GetString());
        Assert.Contains("multiple of 10", list.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.True(paths.GetProperty("/api/quotes").TryGetProperty("post", out var quote));
        Assert.Contains("minParticipants", quote.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.True(paths.GetProperty("/api/jobs").TryGetProperty("post", out var submit));
        Assert.True(submit.GetProperty("responses").TryGetProperty("201", out _));
        Assert.True(submit.GetProperty("responses").TryGetProperty("410", out _));
        Assert.True(paths.GetProperty("/api/jobs/{id}").TryGetProperty("get", out var get));
        Assert.Contains("TrainingJobResponse", get.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.True(paths.GetProperty("/api/jobs/{id}/result").TryGetProperty("get", out _));
        Assert.True(paths.GetProperty("/api/jobs/{id}/cancel").TryGetProperty("post", out _));
        Assert.Equal(9, paths.EnumerateObject().Count(p => p.Name.StartsWith("/api/", StringComparison.Ordinal))); // the job API and the dashboard's custodians, settlements and earnings
    }

    private static async Task<QuoteResponse> QuoteAsync(HttpClient http, double epsilon)
    {
        using var response = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("breast_cancer", Sql, epsilon), Web, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<QuoteResponse>(Web, Ct))!;
    }

    private static readonly JsonElement TrainingSpec = JsonDocument.Parse("""
        { "model": "logistic", "features": 4, "rounds": 3, "minParticipants": 2, "localEpochs": 1, "batchSize": 16, "learningRate": 0.2, "strategy": "fedavg" }
        """).RootElement.Clone();

    private async Task<string> KeySetAsync() =>
        (await fixture.Harness.App.Services.GetRequiredService<ICoordinatorStore>().ListKeySetsAsync(Ct)).First(k => k.State == "ready").KeySetId;

    private async Task<QuoteResponse> TrainingQuoteAsync(HttpClient http, string cohortId)
    {
        using var response = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest(cohortId, null, null, "training", TrainingSpec, await KeySetAsync()), Web, Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonSerializer.Deserialize<QuoteResponse>(body, Web)!;
    }

    [Theory]
    [InlineData("diabetes-enrollment")] // an enrollment cohort only (not an analytics cohort)
    [InlineData("breast_cancer")] // also an analytics cohort: the quote goes to the quotes table
    public async Task ATrainingQuoteCreatesATrainingJobThatIsVisibleToItsResearcherOnly(string cohortId)
    {
        using var http = fixture.Http("trainer-1");
        var quote = await TrainingQuoteAsync(http, cohortId);
        Assert.Equal("training", quote.Kind);
        Assert.Equal(cohortId, quote.CohortId);
        Assert.Equal(2_000_000 + (3 * 100_000) + (2 * 250_000), quote.Price);
        Assert.Equal(0, quote.Epsilon);
        Assert.Equal(3, quote.Training!.Value.GetProperty("rounds").GetInt32());
        Assert.Equal("fedavg", quote.Training.Value.GetProperty("strategy").GetString());

        var submit = new SubmitJobRequest(quote.QuoteId, null, null, null, "train-key-1");
        using var created = await http.PostAsJsonAsync("/api/jobs", submit, Web, Ct);
        string createdBody = await created.Content.ReadAsStringAsync(Ct);
        Assert.True(created.StatusCode == HttpStatusCode.Created, createdBody);
        var job = JsonSerializer.Deserialize<TrainingJobResponse>(createdBody, Web)!;
        Assert.StartsWith("job-", job.JobId, StringComparison.Ordinal);
        Assert.Equal($"/api/jobs/{job.JobId}", created.Headers.Location!.OriginalString);

        // replaying the key answers the same job; another job for the quote is a conflict
        using (var replay = await http.PostAsJsonAsync("/api/jobs", submit, Web, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
            Assert.Equal(job.JobId, (await replay.Content.ReadFromJsonAsync<TrainingJobResponse>(Web, Ct))!.JobId);
        }

        using (var reuse = await http.PostAsJsonAsync("/api/jobs", submit with { IdempotencyKey = null }, Web, Ct))
        {
            await AssertProblemAsync(reuse, HttpStatusCode.Conflict);
        }

        var status = (await http.GetFromJsonAsync<TrainingJobResponse>($"/api/jobs/{job.JobId}", Web, Ct))!;
        output.WriteLine($"{status.State}: {status.Message}");
        Assert.Equal("training", status.Kind);
        Assert.Contains(status.State, new[] { "pending", "running" });
        Assert.Equal(cohortId, status.CohortId);
        Assert.Equal(3, status.Rounds);
        Assert.Equal(0, status.CurrentRound);
        Assert.Equal(4, status.Spec.GetProperty("features").GetInt32());
        Assert.Equal(0.2, status.Spec.GetProperty("learningRate").GetDouble());
        Assert.Equal(job.JobId, status.Spec.GetProperty("jobId").GetString());

        using (var result = await http.GetAsync($"/api/jobs/{job.JobId}/result", Ct))
        {
            await AssertProblemAsync(result, HttpStatusCode.Conflict);
        }

        using (var other = fixture.Http("researcher-2"))
        {
            using var notYours = await other.GetAsync($"/api/jobs/{job.JobId}", Ct);
            await AssertProblemAsync(notYours, HttpStatusCode.NotFound);
            using var notYourCancel = await other.PostAsync($"/api/jobs/{job.JobId}/cancel", null, Ct);
            await AssertProblemAsync(notYourCancel, HttpStatusCode.NotFound);
            using var notYourQuote = await other.PostAsJsonAsync("/api/jobs", new SubmitJobRequest(quote.QuoteId, null, null, null, null), Web, Ct);
            await AssertProblemAsync(notYourQuote, HttpStatusCode.NotFound);
        }

        using (var op = fixture.Http("operator-1", Roles.Operator))
        {
            Assert.Equal(job.JobId, (await op.GetFromJsonAsync<TrainingJobResponse>($"/api/jobs/{job.JobId}", Web, Ct))!.JobId);
        }

        using var cancel = await http.PostAsync($"/api/jobs/{job.JobId}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("cancelled", (await cancel.Content.ReadFromJsonAsync<TrainingJobResponse>(Web, Ct))!.State);
        Assert.Equal("cancelled", (await http.GetFromJsonAsync<TrainingJobResponse>($"/api/jobs/{job.JobId}", Web, Ct))!.State);
        using var again = await http.PostAsync($"/api/jobs/{job.JobId}/cancel", null, Ct);
        await AssertProblemAsync(again, HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task ABadTrainingSpecIsABadRequestListingItsProblems()
    {
        using var http = fixture.Http("trainer-1");
        var bad = JsonDocument.Parse("""{ "model": "tree", "features": 0, "rounds": -1, "strategy": "krum" }""").RootElement.Clone();
        using var response = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("diabetes-enrollment", null, null, "training", bad, await KeySetAsync()), Web, Ct);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        string[] problems = [.. problem.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!)];
        output.WriteLine(string.Join(Environment.NewLine, problems));
        Assert.Contains(problems, p => p.StartsWith("model 'tree'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("features", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("rounds", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("strategy 'krum'", StringComparison.Ordinal));
        Assert.Contains("features", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var unknownField = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("diabetes-enrollment", null, null, "training",
            JsonDocument.Parse("""{ "features": 4, "noSuchField": 1 }""").RootElement.Clone(), await KeySetAsync()), Web, Ct);
        await AssertProblemAsync(unknownField, HttpStatusCode.BadRequest);
        using var noKeySet = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("diabetes-enrollment", null, null, "training", TrainingSpec, "ks-nope"), Web, Ct);
        await AssertProblemAsync(noKeySet, HttpStatusCode.NotFound);
        using var badKind = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("diabetes-enrollment", null, null, "mining"), Web, Ct);
        await AssertProblemAsync(badKind, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task AnExpiredTrainingQuoteIsGone()
    {
        using var http = fixture.Http("trainer-1");
        var store = fixture.Harness.App.Services.GetRequiredService<IQueryJobStore>();
        var past = DateTimeOffset.UtcNow.AddHours(-1);
        await store.CreateQuoteAsync(new QuoteRecord
        {
            QuoteId = "q-train-expired", CohortId = "breast_cancer", ResearcherId = "trainer-1", Kind = "training",
            Request = TrainingSpec.GetRawText(), PriceMicros = 1, CreatedAt = past, ExpiresAt = past.AddMinutes(15),
        }, Ct);
        using var expired = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest("q-train-expired", null, null, null, null), Web, Ct);
        Assert.Contains("expired", (await AssertProblemAsync(expired, HttpStatusCode.Gone)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        string body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(expected == response.StatusCode, $"expected {expected}, got {response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("title", out _));
        return problem;
    }

    private static async Task<JobResponse> WaitAsync(HttpClient http, string jobId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var status = (await http.GetFromJsonAsync<JobResponse>($"/api/jobs/{jobId}", Web, Ct))!;
            if (status.State is "completed" or "failed" or "cancelled" || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(50, Ct);
        }
    }
}
