using System.Diagnostics;
using Google.Protobuf;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Testing;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// Scale-out (decision 0018): three coordinator processes over one PostgreSQL schema, custodians and 100 agents spread
/// over them through failover fronts; the node holding the training job's lease is SIGKILLed mid-round and the node
/// holding the query job's lease mid-query. Every job completes on the survivors, every round counts each of the 100
/// uploads exactly once, and the released results equal the plaintext reference to the decryption precision.
/// </summary>
public sealed class MultiNodeFailoverTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Schema = """
        {
          "version": 1, "id": "breast_cancer", "minGroupSize": 10, "epsilon": 50, "delta": 1e-5,
          "dimensions": [
            { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" }
          ],
          "measures": [
            { "name": "mean_radius", "lo": 6.981, "hi": 28.11 }
          ]
        }
        """;

    [Fact]
    public async Task ThreeNodes_KilledMidRoundAndMidQuery_EveryJobCompletesExactlyOnce()
    {
        const int agents = 100;
        const int rounds = 3;
        var clock = Stopwatch.StartNew();
        var pg = await PostgresServer.SharedAsync();
        string schema = PostgresServer.NewSchemaName("ph_failover");
        string dir = Path.Combine(Path.GetTempPath(), "ph-failover-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        using var issuer = new DevelopmentTokenIssuer();
        string keyPath = Path.Combine(dir, "shared-issuer.pem");
        await File.WriteAllTextAsync(keyPath, issuer.ExportPrivateKeyPem(), Ct);

        var nodes = ClusterNodes.Create(dir, pg, schema, keyPath, 3);
        var fronts = new List<FailoverProxy>();
        try
        {
            await Task.WhenAll(nodes.Select(n => n.StartAsync(Ct)));
            // front i prefers node i, then the next ones: a client of a dead node reconnects to a live one
            fronts.AddRange(Enumerable.Range(0, 3).Select(i => new FailoverProxy([nodes[i].Port, nodes[(i + 1) % 3].Port, nodes[(i + 2) % 3].Port])));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: three nodes up on schema {schema}");
            await RunAsync(pg, schema, nodes, fronts, issuer, agents, rounds, clock);
        }
        catch (Exception)
        {
            output.WriteLine(CoordinatorProcess.LogTails(nodes, 60));

            throw;
        }
        finally
        {
            foreach (var f in fronts)
            {
                await f.DisposeAsync();
            }

            foreach (var n in nodes)
            {
                await n.DisposeAsync();
            }

            await pg.DropSchemaAsync(schema, CancellationToken.None);
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task RunAsync(
        PostgresServer pg, string schema, List<CoordinatorProcess> nodes, List<FailoverProxy> fronts, DevelopmentTokenIssuer issuer, int agents, int rounds, Stopwatch clock)
    {
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        var retry = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(400), MaxServerErrors = 50 };
        CoordinatorClient Client(int front, string subject, string role) => new(fronts[front % 3].Url, issuer.CreateToken(subject, role));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        // three custodians (2-of-3), one per front; a runner serves one parameter set, so the training key set and the
        // analytics key set each get their own runners (the same custodian ids and parties, one set after the other)
        async Task<(List<CustodianRunner> Runners, CancellationTokenSource Stop, string KeySet)> CustodiansAsync(int front, CkksParameters p, string preset, int[] rotations)
        {
            var cts = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            var runners = new List<CustodianRunner>();
            for (int party = 1; party <= 3; party++)
            {
                var runner = new CustodianRunner(Client(party, $"custodian-{party}", Roles.Custodian), $"custodian-{party}", party, p, new InMemoryCustodianVault(), retry);
                runners.Add(runner);
                _ = Task.Run(() => runner.RunAsync(cts.Token), cts.Token);
            }

            using var o = Client(front, "operator-1", Roles.Operator);
            var ceremony = await retry.RunAsync(c => o.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Preset = preset, Members = 3, Threshold = 2, Rotations = { rotations } }, c), Ct);
            await CoordinatorHarness.WaitForCeremonyAsync(o, ceremony.KeySetId, Ct);
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: key ceremony {preset} done ({await ClusterNodes.LeaseOwnerAsync(pg, schema, "keyset:" + ceremony.KeySetId)} held it)");
            return (runners, cts, ceremony.KeySetId);
        }

        using var op = Client(0, "operator-1", Roles.Operator);
        var trainingCustodians = await CustodiansAsync(0, CoordinatorHarness.TrainingParameters, "TrainingLogN12LogQP109", []);
        var ceremony = new { KeySetId = trainingCustodians.KeySet };

        // ---- training: 100 agents over the three fronts; the node stepping the job dies mid-round 1
        var (data, test, features) = TestData.BreastCancer(agents);
        var spec = FederatedTrainingEndToEndTests.Spec(features, rounds, agents);
        var job = await retry.RunAsync(c => op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = ceremony.KeySetId }, c), Ct);
        var homes = Path.Combine(Path.GetTempPath(), "ph-failover-agents-" + job.JobId);
        var running = Enumerable.Range(0, agents).Select(k => Task.Run(async () =>
        {
            string id = $"participant-{k:D3}";
            using var agent = ParticipantAgent.Open(Path.Combine(homes, id));
            agent.Consent.Grant(ConsentPurpose.Training, "breast-cancer");
            using var client = Client(k, id, Roles.Participant);
            return await new ParticipantRunner(client, agent, data[k], new ParticipantRunnerOptions { JobId = job.JobId, ParticipantId = id, ClientIndex = k, Retry = retry }).RunAsync(stop.Token);
        }, stop.Token)).ToList();

        var progress = Stopwatch.StartNew();
        await ClusterNodes.WaitUntilAsync(async () =>
        {
            if (running.FirstOrDefault(t => t.IsFaulted) is { } faulted)
            {
                await faulted; // an agent failed: surface why
            }

            var s = await retry.RunAsync(c => op.GetJobAsync(job.JobId, c), Ct);
            if (progress.Elapsed > TimeSpan.FromSeconds(5))
            {
                output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {s.State} {s.Message}; rounds {string.Join(" ", s.History.Select(h => $"{h.Round}:{h.State}/{h.Received}"))}");
                progress.Restart();
            }

            return s.History is { Count: > 1 } h && h[1].Received >= agents / 3;
        }, TimeSpan.FromMinutes(2));
        int victim = CoordinatorProcess.NodeIndex(await ClusterNodes.WaitForLeaseOwnerAsync(pg, schema, "job:" + job.JobId, TimeSpan.FromSeconds(30)));
        var before = await retry.RunAsync(c => op.GetJobAsync(job.JobId, c), Ct);
        await nodes[victim].KillAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: SIGKILLed node-{victim} (the job's lease holder) in round {before.CurrentRound} with {before.History[^1].Received}/{agents} uploads");

        var results = await Task.WhenAll(running).WaitAsync(TimeSpan.FromMinutes(3), Ct);
        var final = await retry.RunAsync(c => op.GetJobAsync(job.JobId, c), Ct);
        string newOwner = ClusterNodes.TakenOverBy(nodes, victim, "job:" + job.JobId);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: training {final.State}, taken over by {newOwner}; rounds {string.Join(" ", final.History.Select(h => $"{h.Round}:{h.State}/{h.Received}"))}");
        Assert.Equal("completed", final.State);
        Assert.All(results, r => Assert.Equal("job-completed", r.State));
        long samples = data.Sum(c => (long)c.Count);
        Assert.Equal(rounds, final.History.Count);
        Assert.All(final.History, h => Assert.Equal((agents, agents, "completed", (double)samples), (h.Selected, h.Received, h.State, h.TotalWeight)));

        // the ledger itself: one row per participant per round, and the frozen count equals it
        var ledger = await pg.ColumnAsync<string>(
            $"SELECT r.round || ':' || r.included_uploads || ':' || COUNT(u.participant_id) || ':' || COUNT(DISTINCT u.participant_id) FROM rounds r LEFT JOIN uploads u ON u.job_id = r.job_id AND u.round = r.round WHERE r.job_id = '{job.JobId}' GROUP BY r.round, r.included_uploads ORDER BY r.round;",
            schema);
        Assert.Equal(Enumerable.Range(0, rounds).Select(r => $"{r}:{agents}:{agents}:{agents}"), ledger);

        // the released model: plaintext FedAvg of the same inputs (what a single-node run is also held to)
        var plain = new PlainFederatedSimulation(new LogisticRegression(features), data, spec.WithDefaults().ToFederatedConfig(), test).Run();
        double[] wPlain = [.. plain.Rounds[^1].GlobalParameters];
        double[] wEnc = [.. final.GlobalModel];
        double diff = Math.Sqrt(wPlain.Zip(wEnc, (a, b) => (a - b) * (a - b)).Sum()) / Math.Sqrt(wPlain.Sum(a => a * a));
        output.WriteLine($"relative difference to plaintext FedAvg: {diff:E2}");
        Assert.True(diff <= 1e-4, $"relative difference {diff:E2}");
        Assert.All(results, r => Assert.Equal(wEnc, r.GlobalModel));

        // ---- analytics: a cohort of 120 contributions over the two live fronts; the node stepping the query dies mid-query
        var live = Enumerable.Range(0, 3).Where(i => i != victim).ToList();
        using var op2 = Client(live[0], "operator-1", Roles.Operator);
        await trainingCustodians.Stop.CancelAsync();
        var analyticsCustodians = await CustodiansAsync(live[1], parameters, "AggregationLogN13LogQP216", [.. SlotLayout.RotationSteps(parameters.MaxSlots)]);
        await retry.RunAsync(c => op2.CreateCohortAsync(new CreateCohortRequest { KeySetId = analyticsCustodians.KeySet, SchemaJson = Schema }, c), Ct);
        var people = TestData.BreastCancerPeople(120);
        var cohortSchema = CohortSchema.Parse(Schema);
        var encoder = new ContributionEncoder(cohortSchema);
        var codec = new AnalyticsCodec(parameters, new SlotLayout(cohortSchema));
        var serializer = new CkksSerializer(parameters);
        var info = await retry.RunAsync(c => op2.GetCohortAsync("breast_cancer", c), Ct);
        using (var encryptor = new Encryptor(parameters.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span)))
        {
            var uploads = people.Select((person, k) => new ContributionRequest
            {
                CohortId = "breast_cancer",
                ParticipantId = $"person-{k:D3}",
                Ciphertext = ByteString.CopyFrom(serializer.Serialize(codec.Encrypt(encoder.Encode(person), encryptor))),
            }).ToList();
            await Task.WhenAll(uploads.Select(async (u, k) =>
            {
                using var c = Client(live[k % 2], u.ParticipantId, Roles.Participant);
                Assert.True((await retry.RunAsync(x => c.UploadContributionAsync(u, x), Ct)).Accepted);
            }));
        }

        using var keygen = new KeyGenerator(parameters.Rlwe);
        using var secret = keygen.GenerateSecretKey();
        using var researcher = Client(live[1], "researcher-1", Roles.Researcher);
        const string sql = "SELECT COUNT(*), AVG(mean_radius) FROM breast_cancer GROUP BY label";
        var quote = await retry.RunAsync(c => researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "breast_cancer", Query = sql, Epsilon = 20 }, c), Ct);
        var submit = new SubmitQueryRequest
        {
            QuoteId = quote.QuoteId, CohortId = "breast_cancer", Query = sql, IdempotencyKey = "buy-1",
            ResearcherPublicKey = ByteString.CopyFrom(serializer.Serialize(keygen.GeneratePublicKey(secret))),
        };
        var qjob = await retry.RunAsync(c => researcher.SubmitQueryAsync(submit, c), Ct);
        await ClusterNodes.WaitUntilAsync(async () => (await retry.RunAsync(c => researcher.GetQueryJobAsync(qjob.JobId, c), Ct)).State is not ("pending" or "ready"), TimeSpan.FromMinutes(1), "the query under way");
        int victim2 = CoordinatorProcess.NodeIndex(await ClusterNodes.WaitForLeaseOwnerAsync(pg, schema, "query:" + qjob.JobId, TimeSpan.FromSeconds(30)));
        string stateAtKill = (await retry.RunAsync(c => researcher.GetQueryJobAsync(qjob.JobId, c), Ct)).State;
        await nodes[victim2].KillAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: SIGKILLed node-{victim2} (the query's lease holder) in state {stateAtKill}");

        QueryJobStatus done = null!;
        await ClusterNodes.WaitUntilAsync(async () => (done = await retry.RunAsync(c => researcher.GetQueryJobAsync(qjob.JobId, c), Ct)).State is "completed" or "failed", TimeSpan.FromMinutes(2));
        string survivor = ClusterNodes.TakenOverBy(nodes, victim2, "query:" + qjob.JobId);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: query {done.State}, taken over by {survivor}: {done.Message}");
        Assert.Equal("completed", done.State);
        Assert.Equal(qjob.JobId, (await retry.RunAsync(c => researcher.SubmitQueryAsync(submit, c), Ct)).JobId);

        // exactly once: 120 contributions folded once, ε spent once for the one query
        var status = await retry.RunAsync(c => op2.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = "breast_cancer" }, c), Ct);
        Assert.Equal((120, 120), (status.ActiveContributions, status.FoldedContributions));
        Assert.Equal(30, status.EpsilonRemaining, 9);

        // the researcher alone decrypts; counts within 6σ of the plaintext counts, averages within the noise
        var plan = QueryPlanner.Plan(QueryParser.Parse(sql), cohortSchema);
        var released = plan.Blocks.Where(b => done.ReleasedSlots.Contains(b.Slot)).ToList();
        var slots = codec.DecodePublic(new Decryptor(parameters.Rlwe, secret).Decrypt(serializer.DeserializeCiphertext(done.Result.Span)), 20);
        var answer = QueryResultReader.Read(plan, slots, released);
        Assert.Equal(2, answer.Groups.Count);
        foreach (var group in answer.Groups)
        {
            var rows = people.Where(x => (string)x["target"] == group.Key["label"]).ToList();
            output.WriteLine($"label {group.Key["label"]}: noisy n {group.Count:F2} (true {rows.Count}), avg radius {group.Items[1].Value:F3} (true {rows.Average(r => (double)r["mean_radius"]):F3})");
            Assert.InRange(group.Count, rows.Count - (6 * done.StatisticsSigma), rows.Count + (6 * done.StatisticsSigma));
            Assert.InRange(group.Items[1].Value!.Value, rows.Average(r => (double)r["mean_radius"]) - 2, rows.Average(r => (double)r["mean_radius"]) + 2);
        }

        await stop.CancelAsync();
        foreach (var runner in trainingCustodians.Runners.Concat(analyticsCustodians.Runners))
        {
            runner.Dispose();
        }

        // ---- the single-node reference: the same inputs on one in-process coordinator (SQLite), nobody killed
        await using (var single = await CoordinatorHarness.StartAsync(ct: Ct))
        {
            single.StartCustodians([1, 2, 3]);
            string singleKeys = await single.RunCeremonyAsync(3, 2, relinearization: false, rotations: [], Ct);
            using var singleOp = single.Operator();
            var singleJob = await singleOp.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = singleKeys }, Ct);
            await FederatedTrainingEndToEndTests.RunAgentsAsync(single, singleJob.JobId, data, Ct);
            var reference = await singleOp.GetJobAsync(singleJob.JobId, Ct);
            Assert.Equal("completed", reference.State);

            // exact: what was counted (per round: sampled, received = ledger rows, released total weight, an integer)
            Assert.Equal(
                reference.History.Select(h => (h.Round, h.Selected, h.Received, h.TotalWeight, h.State)),
                final.History.Select(h => (h.Round, h.Selected, h.Received, h.TotalWeight, h.State)));

            // to the decryption precision: the models (each run has its own keys, encryption randomness and flooding
            // noise, so the released sums differ in their low bits, never in what was summed)
            double[] wSingle = [.. reference.GlobalModel];
            double between = Math.Sqrt(wSingle.Zip(wEnc, (a, b) => (a - b) * (a - b)).Sum()) / Math.Sqrt(wSingle.Sum(a => a * a));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: single-node reference run: same ledger per round; model relative difference {between:E2}");
            Assert.True(between <= 1e-4, $"multi-node vs single-node model: relative difference {between:E2}");
        }

        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s in all; connections per node: {string.Join(", ", fronts.SelectMany(f => f.Routed).GroupBy(kv => kv.Key).Select(g => $"{nodes.FindIndex(n => n.Port == g.Key)}:{g.Sum(kv => kv.Value)}"))}");
    }
}
