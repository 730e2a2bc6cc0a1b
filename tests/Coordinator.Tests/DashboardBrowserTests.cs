using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using PrivateHealth.Coordinator.Api;
using PrivateHealth.Coordinator.Settlement;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Ethereum;
using PrivateHealth.Ethereum.Testing;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Settlement;
using PrivateHealth.Networking;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// The dashboard as a person sees it, in Debian's Chromium driven by Playwright: a coordinator with a key ceremony of
/// three custodians, a cohort of 30 contributions, a paid query job settled on a local hardhat chain and a training
/// job with completed rounds. An operator sees the jobs, the rounds chart, the cohort's noisy size and remaining ε, the
/// custodians and the settlement; a participant sees its own earnings and nobody else's. Screenshots go to
/// artifacts/screenshots/dashboard-*.png.
/// </summary>
[Collection(DashboardBrowserCollection.Name)]
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";
    private const int Rounds = 3;
    private const int Agents = 3;
    private const int People = 30;

    private const string Schema = """
        {
          "version": 1, "id": "bc_dash", "minGroupSize": 10, "epsilon": 50, "delta": 1e-5,
          "dimensions": [ { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" } ],
          "measures": [ { "name": "mean_radius", "lo": 6.981, "hi": 28.11 } ]
        }
        """;

    private const string Sql = "SELECT COUNT(*), AVG(mean_radius) FROM bc_dash GROUP BY label";

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OperatorsSeeJobsRoundsCohortsCustodiansAndSettlementsAndAParticipantOnlyItsOwnEarnings()
    {
        Assert.True(File.Exists(Chromium),
            $"{Chromium} is missing: the dashboard browser test drives Debian's Chromium. Run `apt-get install chromium` " +
            "(or `scripts/services/chromium.sh ensure`).");
        var started = DateTime.UtcNow;

        // ---------------------------------------------------------------- a local chain with the settlement contracts
        await using var node = HardhatNode.CreateLocal();
        await node.InitializeAsync();
        using var rpc = new JsonRpcClient(node.RpcUrl);
        var admin = new EthereumAccount(EthKey.FromHex(HardhatNode.DefaultPrivateKeys[0]), rpc);
        var operatorKey = EthKey.FromHex(HardhatNode.DefaultPrivateKeys[1]);
        string build = Path.Combine(HardhatNode.RepoRoot, "contracts", "build");
        var deployment = await SettlementDeployer.DeployAsync(admin, operatorKey.Address, operatorKey.Address, EthKey.Generate().Address, build, Ct);
        string directory = Path.Combine(Path.GetTempPath(), "ph-dash-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        string deploymentPath = Path.Combine(directory, "deployment.json");
        deployment.Save(deploymentPath);

        int httpPort = LoopbackPort.Free();
        var settings = new Dictionary<string, string>
        {
            ["Coordinator:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["Coordinator:Chain:Enabled"] = "true",
            ["Coordinator:Chain:RpcUrl"] = node.RpcUrl.ToString(),
            ["Coordinator:Chain:DeploymentPath"] = deploymentPath,
            ["Coordinator:Chain:BuildDirectory"] = build,
            ["Coordinator:Chain:OperatorKey"] = HardhatNode.DefaultPrivateKeys[1],
            ["Coordinator:Chain:PayerKey"] = HardhatNode.DefaultPrivateKeys[2],
        };

        await using var harness = await CoordinatorHarness.StartAsync(directory, settings, Ct);
        var baseAddress = new Uri($"http://127.0.0.1:{httpPort}");
        try
        {
            // ------------------------------------------------------------ a training job: 3 agents, 3 rounds under a training key set
            harness.StartCustodians([1, 2, 3]);
            string trainingKeySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, rotations: [], Ct);
            using var op = harness.Operator();
            var (clients, _, features) = TestData.BreastCancer(Agents);
            var training = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = FederatedTrainingEndToEndTests.Spec(features, Rounds, Agents), KeySetId = trainingKeySet }, Ct);
            Assert.All(await FederatedTrainingEndToEndTests.RunAgentsAsync(harness, training.JobId, clients, Ct), r => Assert.Equal("job-completed", r.State));
            output.WriteLine($"training: {(DateTime.UtcNow - started).TotalSeconds:F1} s");

            // ------------------------------------------------------------ the custodians move to an aggregation key set: cohort, contributions, a paid query
            await harness.StopCustodiansAsync([1, 2, 3]);
            var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
            harness.StartCustodians([1, 2, 3], parameters);
            string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, [.. SlotLayout.RotationSteps(parameters.MaxSlots)], Ct, "AggregationLogN13LogQP216");
            await op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = Schema }, Ct);
            var addresses = await ContributeAsync(harness, parameters);
            output.WriteLine($"ceremony, cohort and {People} contributions: {(DateTime.UtcNow - started).TotalSeconds:F1} s");
            using var researcher = Http(baseAddress, harness.Issuer.CreateToken("researcher-1", Roles.Researcher));
            string queryJob = await SubmitQueryAsync(researcher, parameters);

            var settlement = harness.App.Services.GetRequiredService<SettlementService>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (!(await settlement.StepsAsync(queryJob, Ct)).Any(s => s.Name == "closed") && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, Ct);
            }

            var trainingStatus = await op.GetJobAsync(training.JobId, Ct);
            Assert.Equal("completed", trainingStatus.State);
            int completedRounds = trainingStatus.History.Count(h => h.State == "completed");
            Assert.Equal(Rounds, completedRounds);
            var steps = await settlement.StepsAsync(queryJob, Ct);
            Assert.Equal(["escrow", "commit", "finalize", "claims", "closed"], steps.Select(s => s.Name));
            output.WriteLine($"state ready (query settled, {completedRounds} rounds trained): {(DateTime.UtcNow - started).TotalSeconds:F1} s");

            // the API behind the page agrees with the state
            using (var opHttp = Http(baseAddress, harness.Issuer.CreateToken("operator-1", Roles.Operator)))
            {
                var settled = (await opHttp.GetFromJsonAsync<SettlementsResponse>("/api/settlements", Web, Ct))!;
                var row = Assert.Single(settled.Jobs, j => j.JobId == queryJob);
                Assert.Equal("closed", row.Settlement.Status);
                Assert.Equal(People - 2, row.Settlement.Payout!.Contributors);
                Assert.Equal(2, row.Settlement.Payout.Unpaid);
                Assert.Equal(People - 2, row.Settlement.Payout.Shares!.Length);
                var own = (await researcher.GetFromJsonAsync<JobResponse>($"/api/jobs/{queryJob}", Web, Ct))!;
                Assert.Equal("closed", own.Settlement!.Status);
                Assert.Null(own.Settlement.Payout!.Shares); // a researcher does not learn who was paid
            }

            // ------------------------------------------------------------ the browser
            string shots = Path.Combine(HardhatNode.RepoRoot, "artifacts", "screenshots");
            Directory.CreateDirectory(shots);
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { Headless = true, ExecutablePath = Chromium });

            // operator
            var (operatorPage, operatorErrors) = await OpenAsync(browser, baseAddress, harness.Issuer.CreateToken("operator-1", Roles.Operator));
            Assert.Equal("Signed in as operator-1 (operator)", await operatorPage.Locator("#who").InnerTextAsync());
            Assert.DoesNotContain("#token", operatorPage.Url, StringComparison.Ordinal); // the fragment is read once and dropped
            var queryRow = operatorPage.Locator($"#jobs-table tbody tr[data-job-id='{queryJob}']");
            Assert.Equal("completed", await queryRow.GetAttributeAsync("data-state"));
            Assert.Contains("researcher-1", await queryRow.InnerTextAsync(), StringComparison.Ordinal);
            var trainingRow = operatorPage.Locator($"#jobs-table tbody tr[data-job-id='{training.JobId}']");
            Assert.Equal("completed", await trainingRow.GetAttributeAsync("data-state"));
            Assert.Contains($"{Rounds} / {Rounds}", await trainingRow.InnerTextAsync(), StringComparison.Ordinal);

            var trainingBlock = operatorPage.Locator($"#training article[data-job-id='{training.JobId}']");
            Assert.Equal(completedRounds, await trainingBlock.Locator("figure[data-metric='received'] svg circle.point").CountAsync());
            Assert.Equal(completedRounds, await trainingBlock.Locator("figure[data-metric='bytes'] svg circle.point").CountAsync());
            // loss and accuracy per round come from the encrypted per-round metrics
            Assert.Equal(completedRounds, await trainingBlock.Locator("figure[data-metric='loss'] svg circle.point").CountAsync());
            Assert.Equal(completedRounds, await trainingBlock.Locator("figure[data-metric='accuracy'] svg circle.point").CountAsync());
            Assert.Contains($"{Rounds} of {Rounds} rounds completed", await trainingBlock.InnerTextAsync(), StringComparison.Ordinal);

            var cohortRow = operatorPage.Locator("#cohorts-table tbody tr[data-cohort-id='bc_dash']");
            Assert.Equal("30", await cohortRow.Locator(".noisy-size").InnerTextAsync());
            Assert.Equal("45.00 of 50.00", await cohortRow.Locator(".epsilon-remaining").InnerTextAsync());
            Assert.Equal("3 of 3 custodians online", await operatorPage.Locator("#custodians-summary").InnerTextAsync());
            Assert.Equal(3, await operatorPage.Locator("#custodians-table tbody tr[data-online='true']").CountAsync());

            var settlementRow = operatorPage.Locator($"#settlements-table tbody tr[data-job-id='{queryJob}']");
            Assert.Equal("closed", await settlementRow.GetAttributeAsync("data-status"));
            string settlementText = await settlementRow.InnerTextAsync();
            Assert.Contains("escrow", settlementText, StringComparison.Ordinal);
            Assert.Contains("finalize", settlementText, StringComparison.Ordinal);
            Assert.Equal(steps.First(s => s.Name == "escrow").Transaction, await settlementRow.Locator("ol.steps code").First.GetAttributeAsync("title"));
            Assert.Equal(People - 2, await operatorPage.Locator("#earnings-table tbody tr").CountAsync());
            await operatorPage.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "dashboard-operator.png"), FullPage = true });
            Assert.Empty(operatorErrors);

            // participant: only its own earnings
            var (participantPage, participantErrors) = await OpenAsync(browser, baseAddress, harness.Issuer.CreateToken("person-003", Roles.Participant));
            var mine = participantPage.Locator("#own-earnings");
            Assert.Equal("person-003", await mine.GetAttributeAsync("data-participant-id"));
            Assert.Contains(addresses["person-003"].ToString(), await mine.InnerTextAsync(), StringComparison.OrdinalIgnoreCase);
            Assert.Equal(1, await participantPage.Locator($"#own-earnings-table tbody tr[data-job-id='{queryJob}']").CountAsync());
            foreach (string hidden in new[] { "#jobs", "#training", "#cohorts", "#custodians", "#settlements" })
            {
                Assert.False(await participantPage.Locator(hidden).IsVisibleAsync(), hidden + " is shown to a participant");
            }

            string pageText = await participantPage.Locator("body").InnerTextAsync();
            string html = await participantPage.ContentAsync();
            foreach (var (id, address) in addresses.Where(a => a.Key != "person-003"))
            {
                Assert.DoesNotContain(id, pageText, StringComparison.Ordinal);
                Assert.DoesNotContain(address.ToString(), html, StringComparison.OrdinalIgnoreCase);
            }

            Assert.DoesNotContain(training.JobId, html, StringComparison.Ordinal);
            await participantPage.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "dashboard-participant.png"), FullPage = true });
            Assert.Empty(participantErrors);

            // researcher: its own job, not the operator's training job, nor the custodians
            var (researcherPage, _) = await OpenAsync(browser, baseAddress, harness.Issuer.CreateToken("researcher-1", Roles.Researcher));
            Assert.Equal(1, await researcherPage.Locator($"#jobs-table tbody tr[data-job-id='{queryJob}']").CountAsync());
            Assert.Equal(0, await researcherPage.Locator($"#jobs-table tbody tr[data-job-id='{training.JobId}']").CountAsync());
            Assert.False(await researcherPage.Locator("#custodians").IsVisibleAsync());
            Assert.Equal("closed", await researcherPage.Locator($"#settlements-table tbody tr[data-job-id='{queryJob}']").GetAttributeAsync("data-status"));
            await researcherPage.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "dashboard-researcher.png"), FullPage = true });

            // a token the coordinator did not issue: the problem's title and detail, readable
            using var stranger = new DevelopmentTokenIssuer();
            var (refusedPage, _) = await OpenAsync(browser, baseAddress, stranger.CreateToken("operator-1", Roles.Operator), waitForData: false);
            var problem = refusedPage.Locator("#errors li").First;
            await problem.WaitForAsync(new LocatorWaitForOptions { Timeout = 15_000 });
            string message = await problem.InnerTextAsync();
            Assert.Contains("(401)", message, StringComparison.Ordinal);
            Assert.Contains("A valid bearer token is required.", message, StringComparison.Ordinal);
            await refusedPage.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "dashboard-error.png"), FullPage = true });
            output.WriteLine($"done in {(DateTime.UtcNow - started).TotalSeconds:F1} s; screenshots in {shots}");
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A new browser context (its own session storage) opening the dashboard with the token in the fragment.</summary>
    private static async Task<(IPage Page, List<string> Errors)> OpenAsync(IBrowser browser, Uri baseAddress, string token, bool waitForData = true)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1360, Height = 900 } });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                errors.Add(m.Text);
            }
        };
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(new Uri(baseAddress, "/dashboard#token=" + Uri.EscapeDataString(token)).ToString());
        if (waitForData)
        {
            await page.Locator("body[data-loaded='true']").WaitForAsync(new LocatorWaitForOptions { Timeout = 20_000 });
        }

        return (page, errors);
    }

    private static HttpClient Http(Uri baseAddress, string token)
    {
        var http = new HttpClient { BaseAddress = baseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>30 people enroll (28 with a payout address) and contribute to the cohort.</summary>
    private static async Task<Dictionary<string, Address>> ContributeAsync(CoordinatorHarness harness, CkksParameters parameters)
    {
        var lines = File.ReadAllLines(TestData.BreastCancerPath());
        var header = lines[0].Split(',');
        var schema = CohortSchema.Parse(Schema);
        var encoder = new ContributionEncoder(schema);
        var codec = new AnalyticsCodec(parameters, new SlotLayout(schema));
        var serializer = new CkksSerializer(parameters);
        var addresses = new Dictionary<string, Address>();
        using var first = harness.Client("person-000", Roles.Participant);
        var info = await first.GetCohortAsync("bc_dash", Ct);
        using var encryptor = new Encryptor(parameters.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span));
        var uploads = new List<(string Id, EnrollRequest Enroll, ContributionRequest Upload)>();
        for (int k = 0; k < People; k++)
        {
            var cells = lines[k + 1].Split(',');
            var person = header.Select((h, i) => (h, v: cells[i])).ToDictionary(x => x.h, x => x.h == "target"
                ? (object)((int)double.Parse(x.v, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture)
                : double.Parse(x.v, CultureInfo.InvariantCulture));
            string id = $"person-{k:D3}";
            var enroll = new EnrollRequest { ParticipantId = id, CohortId = "bc_dash", Analytics = true };
            if (k < People - 2)
            {
                addresses[id] = EthKey.Generate().Address;
                enroll.PayoutAddress = addresses[id].ToString();
            }

            uploads.Add((id, enroll, new ContributionRequest { CohortId = "bc_dash", ParticipantId = id, Ciphertext = ByteString.CopyFrom(serializer.Serialize(codec.Encrypt(encoder.Encode(person), encryptor))) }));
        }

        await Task.WhenAll(uploads.Select(async u =>
        {
            using var c = harness.Client(u.Id, Roles.Participant);
            await c.EnrollAsync(u.Enroll, Ct);
            Assert.True((await c.UploadContributionAsync(u.Upload, Ct)).Accepted);
        }));
        return addresses;
    }

    private static async Task<string> SubmitQueryAsync(HttpClient researcher, CkksParameters parameters)
    {
        using var quoted = await researcher.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest("bc_dash", Sql, 5), Web, Ct);
        var quote = (await quoted.Content.ReadFromJsonAsync<QuoteResponse>(Web, Ct))!;
        using var keygen = new KeyGenerator(parameters.Rlwe);
        using var secret = keygen.GenerateSecretKey();
        string publicKey = Convert.ToBase64String(new CkksSerializer(parameters).Serialize(keygen.GeneratePublicKey(secret)));
        using var created = await researcher.PostAsJsonAsync("/api/jobs", new SubmitJobRequest(quote.QuoteId, "bc_dash", Sql, publicKey, "dash-1"), Web, Ct);
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync(Ct));
        return (await created.Content.ReadFromJsonAsync<JobResponse>(Web, Ct))!.JobId;
    }
}

/// <summary>
/// The browser test runs alone, after the parallel tests: Chromium, a hardhat node and two key ceremonies on two cores
/// would otherwise slow the timing-sensitive tests beside it (deadlines of rounds and collections).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DashboardBrowserCollection
{
    public const string Name = "Dashboard browser";
}
