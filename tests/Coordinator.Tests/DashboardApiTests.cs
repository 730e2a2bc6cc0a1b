using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Api;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// The dashboard's endpoints (jobs list, custodians, settlements, earnings) and its embedded page, on a coordinator with
/// three custodians, a cohort and settlement off: who may call what, whose data each caller sees, unknown ids.
/// </summary>
public sealed class DashboardApiTests(JobApiFixture fixture, ITestOutputHelper output) : IClassFixture<JobApiFixture>
{
    private const string Sql = "SELECT COUNT(*), AVG(mean_radius) FROM breast_cancer GROUP BY label";
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static readonly JsonElement TrainingSpec = JsonDocument.Parse("""
        { "model": "logistic", "features": 4, "rounds": 3, "minParticipants": 2, "localEpochs": 1, "batchSize": 16, "learningRate": 0.2, "strategy": "fedavg" }
        """).RootElement.Clone();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheJobListShowsOperatorsEveryJobAndResearchersOnlyTheirOwn()
    {
        using var alice = fixture.Http("dash-alice");
        using var bob = fixture.Http("dash-bob");
        string aliceQuery = await SubmitQueryAsync(alice, "dash-a1");
        string bobQuery = await SubmitQueryAsync(bob, "dash-b1");
        string aliceTraining = await SubmitTrainingAsync(alice, "diabetes-enrollment", "dash-t1");
        string operatorTraining;
        using (var op = fixture.Harness.Operator())
        {
            var spec = FederatedTrainingEndToEndTests.Spec(4, 2, 2);
            spec.CohortId = "dash-operator-cohort";
            operatorTraining = (await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = await KeySetAsync() }, Ct)).JobId;
        }

        var mine = (await alice.GetFromJsonAsync<JobSummary[]>("/api/jobs", Web, Ct))!;
        Assert.Contains(mine, j => j.JobId == aliceQuery && j.Kind == "query" && j.CohortId == "breast_cancer" && j.ResearcherId == "dash-alice" && j.Paid);
        var training = Assert.Single(mine, j => j.JobId == aliceTraining);
        Assert.Equal(("training", "diabetes-enrollment", 3, 0), (training.Kind, training.CohortId, training.Rounds!.Value, training.CurrentRound!.Value));
        Assert.Contains(training.State, new[] { "pending", "running" });
        Assert.All(mine, j => Assert.Equal("dash-alice", j.ResearcherId)); // someone else's jobs are absent
        Assert.DoesNotContain(mine, j => j.JobId == bobQuery || j.JobId == operatorTraining);
        Assert.True(mine.Zip(mine.Skip(1)).All(p => p.First.CreatedAt >= p.Second.CreatedAt), "newest first");

        var bobs = (await bob.GetFromJsonAsync<JobSummary[]>("/api/jobs", Web, Ct))!;
        Assert.Equal([bobQuery], bobs.Select(j => j.JobId));

        using var op2 = fixture.Http("operator-1", Roles.Operator);
        var all = (await op2.GetFromJsonAsync<JobSummary[]>("/api/jobs", Web, Ct))!;
        foreach (var id in new[] { aliceQuery, bobQuery, aliceTraining, operatorTraining })
        {
            Assert.Contains(all, j => j.JobId == id);
        }

        var byOperator = Assert.Single(all, j => j.JobId == operatorTraining);
        Assert.Null(byOperator.ResearcherId);
        Assert.False(byOperator.Paid);
        output.WriteLine(string.Join("\n", all.Select(j => $"{j.JobId} {j.Kind} {j.State} {j.CohortId} {j.ResearcherId}")));

        using var nobody = fixture.Http(null);
        await AssertProblemAsync(await nobody.GetAsync("/api/jobs", Ct), HttpStatusCode.Unauthorized);
        using var participant = fixture.Http("person-001", Roles.Participant);
        await AssertProblemAsync(await participant.GetAsync("/api/jobs", Ct), HttpStatusCode.Forbidden);
        using var custodian = fixture.Http("custodian-1", Roles.Custodian);
        await AssertProblemAsync(await custodian.GetAsync("/api/jobs", Ct), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task AJobShowsItsSettlementToItsResearcherAndNobodyElse()
    {
        using var alice = fixture.Http("dash-carol");
        string query = await SubmitQueryAsync(alice, "dash-c1");
        string training = await SubmitTrainingAsync(alice, "diabetes-enrollment", "dash-c2");

        var job = (await alice.GetFromJsonAsync<JobResponse>($"/api/jobs/{query}", Web, Ct))!;
        var settlement = Assert.IsType<JobSettlement>(job.Settlement);
        Assert.False(settlement.Enabled); // the fixture runs without a chain
        Assert.True(settlement.Paid);
        Assert.Equal("off", settlement.Status);
        Assert.True(settlement.PriceMicros > 0);
        Assert.Empty(settlement.Steps);
        Assert.Null(settlement.Payout);

        var trainingJob = (await alice.GetFromJsonAsync<TrainingJobResponse>($"/api/jobs/{training}", Web, Ct))!;
        Assert.Equal(2_000_000 + (3 * 100_000) + (2 * 250_000), trainingJob.Settlement!.PriceMicros);
        Assert.Equal("off", trainingJob.Settlement.Status);

        // loss and accuracy are reported per round as null until the per-round metrics are filled in
        using (var raw = JsonDocument.Parse(await alice.GetStringAsync($"/api/jobs/{training}", Ct)))
        {
            Assert.True(raw.RootElement.TryGetProperty("settlement", out _));
            Assert.All(raw.RootElement.GetProperty("history").EnumerateArray(), r =>
            {
                Assert.Equal(JsonValueKind.Null, r.GetProperty("loss").ValueKind);
                Assert.Equal(JsonValueKind.Null, r.GetProperty("accuracy").ValueKind);
            });
        }

        using var other = fixture.Http("dash-dave");
        await AssertProblemAsync(await other.GetAsync($"/api/jobs/{query}", Ct), HttpStatusCode.NotFound);
        await AssertProblemAsync(await other.GetAsync($"/api/jobs/{training}", Ct), HttpStatusCode.NotFound);
        await AssertProblemAsync(await alice.GetAsync("/api/jobs/qj-nope", Ct), HttpStatusCode.NotFound);
        await AssertProblemAsync(await alice.GetAsync("/api/jobs/job-nope", Ct), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task CustodiansAreListedWithTheirPresenceForOperatorsOnly()
    {
        using var op = fixture.Http("operator-1", Roles.Operator);
        var custodians = (await op.GetFromJsonAsync<CustodiansResponse>("/api/custodians", Web, Ct))!;
        Assert.Equal(3, custodians.Registered);
        Assert.Equal([1, 2, 3], custodians.Custodians.Select(c => c.Party));
        Assert.Equal(["custodian-1", "custodian-2", "custodian-3"], custodians.Custodians.Select(c => c.CustodianId));
        Assert.Equal(3, custodians.Online);
        Assert.All(custodians.Custodians, c => Assert.True(c.Online));
        Assert.Equal([1, 2, 3], custodians.OnlineParties);

        using var researcher = fixture.Http("researcher-1");
        await AssertProblemAsync(await researcher.GetAsync("/api/custodians", Ct), HttpStatusCode.Forbidden);
        using var custodian = fixture.Http("custodian-1", Roles.Custodian);
        await AssertProblemAsync(await custodian.GetAsync("/api/custodians", Ct), HttpStatusCode.Forbidden);
        using var nobody = fixture.Http(null);
        await AssertProblemAsync(await nobody.GetAsync("/api/custodians", Ct), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task SettlementsListEveryPaidJobForOperatorsOnly()
    {
        using var researcher = fixture.Http("dash-erin");
        string query = await SubmitQueryAsync(researcher, "dash-e1");

        using var op = fixture.Http("operator-1", Roles.Operator);
        var settlements = (await op.GetFromJsonAsync<SettlementsResponse>("/api/settlements", Web, Ct))!;
        Assert.False(settlements.Enabled);
        var row = Assert.Single(settlements.Jobs, j => j.JobId == query);
        Assert.Equal("query", row.Kind);
        Assert.Equal("off", row.Settlement.Status);
        Assert.True(row.Settlement.Paid);
        Assert.True(row.Settlement.PriceMicros > 0);

        await AssertProblemAsync(await researcher.GetAsync("/api/settlements", Ct), HttpStatusCode.Forbidden);
        using var participant = fixture.Http("person-001", Roles.Participant);
        await AssertProblemAsync(await participant.GetAsync("/api/settlements", Ct), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task AParticipantReadsOnlyItsOwnEarningsAndAnOperatorAnyKnownParticipants()
    {
        const string address = "0x00000000000000000000000000000000000000a1";
        using (var grpc = fixture.Harness.Client("dash-person-1", Roles.Participant))
        {
            await grpc.EnrollAsync(new EnrollRequest { ParticipantId = "dash-person-1", CohortId = "breast_cancer", Analytics = true, PayoutAddress = address }, Ct);
        }

        using var self = fixture.Http("dash-person-1", Roles.Participant);
        var mine = (await self.GetFromJsonAsync<EarningsResponse>("/api/participants/dash-person-1/earnings", Web, Ct))!;
        Assert.Equal("dash-person-1", mine.ParticipantId);
        Assert.Equal(address, mine.PayoutAddress, ignoreCase: true);
        Assert.False(mine.SettlementEnabled);
        Assert.Empty(mine.Earnings);
        Assert.Equal("0", mine.Total);

        // a participant without a payout address may still read its own (empty) earnings
        using var other = fixture.Http("dash-person-2", Roles.Participant);
        var theirs = (await other.GetFromJsonAsync<EarningsResponse>("/api/participants/dash-person-2/earnings", Web, Ct))!;
        Assert.Null(theirs.PayoutAddress);

        // someone else's earnings: 403 for a participant
        var problem = await AssertProblemAsync(await other.GetAsync("/api/participants/dash-person-1/earnings", Ct), HttpStatusCode.Forbidden);
        Assert.Contains("only its own", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var op = fixture.Http("operator-1", Roles.Operator);
        var seen = (await op.GetFromJsonAsync<EarningsResponse>("/api/participants/dash-person-1/earnings", Web, Ct))!;
        Assert.Equal(address, seen.PayoutAddress, ignoreCase: true);
        await AssertProblemAsync(await op.GetAsync("/api/participants/nobody-at-all/earnings", Ct), HttpStatusCode.NotFound);

        using var researcher = fixture.Http("researcher-1");
        await AssertProblemAsync(await researcher.GetAsync("/api/participants/dash-person-1/earnings", Ct), HttpStatusCode.Forbidden);
        using var nobody = fixture.Http(null);
        await AssertProblemAsync(await nobody.GetAsync("/api/participants/dash-person-1/earnings", Ct), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task ThePageIsServedFromTheAssemblyWithoutAuthenticationOrOtherOrigins()
    {
        Assert.Equal(["app.js", "index.html", "style.css"], DashboardApi.EmbeddedFiles().Order(StringComparer.Ordinal));
        using var http = fixture.Http(null);
        foreach (var (path, type) in new[] { ("/dashboard", "text/html"), ("/dashboard/", "text/html"), ("/dashboard/app.js", "text/javascript"), ("/dashboard/style.css", "text/css") })
        {
            using var response = await http.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(type, response.Content.Headers.ContentType!.MediaType);
            Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
            string text = await response.Content.ReadAsStringAsync(Ct);
            Assert.DoesNotContain("http://", text.Replace("http://www.w3.org/2000/svg", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.DoesNotContain("https://", text, StringComparison.Ordinal);
        }

        string html = await http.GetStringAsync("/dashboard", Ct);
        Assert.Contains("<label for=\"token-input\">", html, StringComparison.Ordinal);
        Assert.Contains("src=\"/dashboard/app.js\"", html, StringComparison.Ordinal);
        using var missing = await http.GetAsync("/dashboard/other.js", Ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // the new endpoints are in the OpenAPI document, the page is not
        using var doc = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json", Ct));
        var paths = doc.RootElement.GetProperty("paths");
        Assert.True(paths.GetProperty("/api/jobs").TryGetProperty("get", out _));
        Assert.True(paths.GetProperty("/api/custodians").TryGetProperty("get", out _));
        Assert.True(paths.GetProperty("/api/settlements").TryGetProperty("get", out _));
        Assert.True(paths.GetProperty("/api/participants/{id}/earnings").TryGetProperty("get", out var earnings));
        Assert.True(earnings.GetProperty("responses").TryGetProperty("403", out _));
        Assert.False(paths.TryGetProperty("/dashboard", out _));
    }

    private async Task<string> KeySetAsync() =>
        (await fixture.Harness.App.Services.GetRequiredService<ICoordinatorStore>().ListKeySetsAsync(Ct)).First(k => k.State == "ready").KeySetId;

    private async Task<string> SubmitQueryAsync(HttpClient http, string key)
    {
        using var quoted = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("breast_cancer", Sql, 0.5), Web, Ct);
        var quote = (await quoted.Content.ReadFromJsonAsync<QuoteResponse>(Web, Ct))!;
        using var created = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest(quote.QuoteId, "breast_cancer", Sql, fixture.ResearcherKeyBase64, key), Web, Ct);
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync(Ct));
        return (await created.Content.ReadFromJsonAsync<JobResponse>(Web, Ct))!.JobId;
    }

    private async Task<string> SubmitTrainingAsync(HttpClient http, string cohortId, string key)
    {
        using var quoted = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest(cohortId, null, null, "training", TrainingSpec, await KeySetAsync()), Web, Ct);
        var quote = (await quoted.Content.ReadFromJsonAsync<QuoteResponse>(Web, Ct))!;
        using var created = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest(quote.QuoteId, null, null, null, key), Web, Ct);
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync(Ct));
        return (await created.Content.ReadFromJsonAsync<TrainingJobResponse>(Web, Ct))!.JobId;
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        using (response)
        {
            string body = await response.Content.ReadAsStringAsync(Ct);
            Assert.True(expected == response.StatusCode, $"expected {expected}, got {response.StatusCode}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(body).RootElement.Clone();
            Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
            Assert.True(problem.TryGetProperty("title", out _));
            return problem;
        }
    }
}
