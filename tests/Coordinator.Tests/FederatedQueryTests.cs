using System.Globalization;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Federated;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Network;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// Federated mode: a query whose WHERE clause names a field outside the cohort schema is answered by the online agents
/// with analytics consent, each evaluating the filter on its own data in a collection round; the answer (released with
/// noise to the researcher only) matches the plaintext statistics of the matching people among those who answered.
/// </summary>
public sealed class FederatedQueryTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Schema = """
        {
          "version": 1, "id": "bc_federated", "minGroupSize": 10, "epsilon": 100, "delta": 1e-5,
          "dimensions": [
            { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" }
          ],
          "measures": [
            { "name": "mean_radius", "lo": 6.981, "hi": 28.11 },
            { "name": "mean_area", "lo": 143.5, "hi": 2501.0 }
          ]
        }
        """;

    [Fact]
    public async Task AQueryOnAFieldOutsideTheSchemaIsAnsweredByTheOnlineAgentsAndMatchesThePlaintext()
    {
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        await using var harness = await CoordinatorHarness.StartAsync(settings: new Dictionary<string, string>
        {
            ["Coordinator:FederatedQueryDeadline"] = "00:00:30",
            ["Coordinator:FederatedQueryWaitAfterMinimum"] = "00:00:30",
        }, ct: Ct);
        harness.StartCustodians([1, 2, 3], parameters);
        string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, [.. SlotLayout.RotationSteps(parameters.MaxSlots)], Ct, "AggregationLogN13LogQP216");
        using var op = harness.Operator();
        await op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = Schema }, Ct);

        // 100 agents online, each holding one person's record; the last 10 have not consented to analytics
        var lines = File.ReadAllLines(TestData.BreastCancerPath());
        var header = lines[0].Split(',');
        var people = lines.Skip(1).Take(100).Select(l => l.Split(',')).Select(cells => (IReadOnlyDictionary<string, object>)header.Select((h, i) => (h, v: cells[i]))
            .ToDictionary(x => x.h, x => x.h == "target" ? (object)((int)double.Parse(x.v, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture) : double.Parse(x.v, CultureInfo.InvariantCulture))).ToList();
        using var agentsStop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var homes = Path.Combine(harness.Directory, "agents");
        var responders = new FederatedQueryResponder[people.Count];
        var agents = new List<IDisposable>();
        var running = new List<Task>();
        for (int k = 0; k < people.Count; k++)
        {
            string id = $"person-{k:D3}";
            var agent = ParticipantAgent.Open(Path.Combine(homes, id));
            agents.Add(agent);
            if (k < 90)
            {
                agent.Consent.Grant(ConsentPurpose.Analytics, "bc_federated");
            }

            var client = harness.Client(id, Roles.Participant);
            agents.Add(client);
            var person = people[k];
            responders[k] = new FederatedQueryResponder(client, agent, () => person, new FederatedQueryResponderOptions
            {
                ParticipantId = id,
                CohortId = "bc_federated",
                Retry = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(500) },
            });
            var responder = responders[k];
            running.Add(Task.Run(() => responder.RunAsync(agentsStop.Token), Ct));
        }

        try
        {
            // the collection samples the agents online when it opens: wait until all 100 are connected
            var presence = harness.App.Services.GetRequiredService<PrivateHealth.Coordinator.Hosting.PresenceTracker>();
            var online = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (presence.OnlineParticipantCount < people.Count && DateTime.UtcNow < online)
            {
                await Task.Delay(50, Ct);
            }

            Assert.Equal(people.Count, presence.OnlineParticipantCount);
            using var keygen = new KeyGenerator(parameters.Rlwe);
            using var secret = keygen.GenerateSecretKey();
            var serializer = new CkksSerializer(parameters);
            var researcherKey = serializer.Serialize(keygen.GeneratePublicKey(secret));
            using var researcher = harness.Client("researcher-1", Roles.Researcher);
            // mean_texture is not in the schema: federated mode
            const string sql = "SELECT COUNT(*), AVG(mean_radius), AVG(mean_area) FROM bc_federated WHERE mean_texture > 16 GROUP BY label";
            var quote = await researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "bc_federated", Query = sql, Epsilon = 40 }, Ct);
            Assert.Equal("federated", quote.Mode);
            var schemaQuote = await researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "bc_federated", Query = "SELECT COUNT(*) FROM bc_federated GROUP BY label", Epsilon = 40 }, Ct);
            Assert.Equal("schema", schemaQuote.Mode);
            Assert.True(quote.PriceMicros > schemaQuote.PriceMicros, "a federated query costs more");
            var badField = await Assert.ThrowsAsync<GrpcStatusException>(() => researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "bc_federated", Query = "SELECT AVG(mean_texture) FROM bc_federated WHERE mean_texture > 18" }, Ct));
            Assert.Equal(StatusCode.InvalidArgument, badField.StatusCode); // SELECT still needs schema measures

            var before = await op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = "bc_federated" }, Ct);
            var job = await researcher.SubmitQueryAsync(new SubmitQueryRequest { QuoteId = quote.QuoteId, CohortId = "bc_federated", Query = sql, ResearcherPublicKey = ByteString.CopyFrom(researcherKey), IdempotencyKey = "fq-1" }, Ct);
            Assert.Equal("federated", job.Mode);
            var done = await WaitAsync(researcher, job.JobId);
            output.WriteLine($"{done.State}: {done.Message}; {done.Contributors} contributors via {done.CollectionJobId}; σ counts {done.CountSigma:F3}, σ statistics {done.StatisticsSigma:F3}");
            Assert.Equal("completed", done.State);
            var after = await op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = "bc_federated" }, Ct);
            Assert.Equal(before.EpsilonRemaining - 40, after.EpsilonRemaining, 9);

            // who answered: consenting agents only, and exactly as many as the aggregate sums
            var answered = Enumerable.Range(0, people.Count).Where(k => responders[k].Answered.Contains(done.CollectionJobId)).ToList();
            Assert.Equal(done.Contributors, answered.Count);
            Assert.All(answered, k => Assert.True(k < 90, $"person-{k:D3} answered without consent"));
            Assert.All(Enumerable.Range(90, 10), k => Assert.DoesNotContain(done.CollectionJobId, responders[k].Answered));
            Assert.Equal(90, answered.Count); // every consenting online agent answered

            var schema = CohortSchema.Parse(Schema);
            var moded = QueryModes.Plan(sql, schema);
            var released = moded.Plan.Blocks.Where(b => done.ReleasedSlots.Contains(b.Slot)).ToList();
            var codec = new AnalyticsCodec(parameters, moded.Plan.Layout);
            var slots = codec.DecodePublic(new Decryptor(parameters.Rlwe, secret).Decrypt(serializer.DeserializeCiphertext(done.Result.Span)), 20);
            var answer = QueryResultReader.Read(moded.Plan, slots, released);
            Assert.Equal(2, answer.Groups.Count);
            foreach (var group in answer.Groups)
            {
                var rows = answered.Select(k => people[k]).Where(p => (double)p["mean_texture"] > 16 && (string)p["target"] == group.Key["label"]).ToList();
                double n = rows.Count;
                double radius = rows.Average(r => (double)r["mean_radius"]);
                output.WriteLine($"label {group.Key["label"]}: noisy n {group.Count:F2} (true {n}), avg radius {group.Items[1].Value:F3} (true {radius:F3})");
                Assert.InRange(group.Count, n - (6 * done.StatisticsSigma), n + (6 * done.StatisticsSigma));
                Assert.InRange(group.Items[1].Value!.Value, radius - 1.5, radius + 1.5);
            }

            // the unfiltered count differs: the filter was applied on the devices
            Assert.True(answered.Count(k => (double)people[k]["mean_texture"] > 16) < answered.Count - 10);
        }
        finally
        {
            await agentsStop.CancelAsync();
            await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            agents.ForEach(a => a.Dispose());
        }
    }

    private static async Task<QueryJobStatus> WaitAsync(CoordinatorClient researcher, string jobId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var status = await researcher.GetQueryJobAsync(jobId, Ct);
            if (status.State is "completed" or "failed" || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(100, Ct);
        }
    }
}
