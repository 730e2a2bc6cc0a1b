using System.Globalization;
using Google.Protobuf;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Coordinator.Storage.Postgres;
using PrivateHealth.Coordinator.Tests;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Data;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Testing;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Issue 8/9 failover run (<c>--failover [--lease-ttl 3,8] [--agents 30] [--rounds 4] [--repeats 3]</c>). Per lease TTL
/// and repeat, a fresh cluster as in <c>MultiNodeFailoverTests</c>: three coordinator processes over one PostgreSQL
/// schema behind failover fronts, with the default tick, presence and wake intervals (only the lease TTL varies).
/// <list type="number">
/// <item>Training: 3 custodian runners (2-of-3, <c>TrainingLogN12LogQP109</c>) and the agents (logistic regression on
/// the breast-cancer data, every agent in every round); the training job's lease holder is SIGKILLed in round 1 once a
/// third of the round's uploads are in.</item>
/// <item>Query: on the two survivors, a cohort of 120 encrypted contributions (<c>AggregationLogN13LogQP216</c>); one
/// query runs undisturbed, then a second one's lease holder is SIGKILLed while it is counting.</item>
/// </list>
/// Timed, all by this machine's clock:
/// <list type="bullet">
/// <item>takeover: the kill → the line "Took the lease of job:&lt;id&gt;" (query:&lt;id&gt;) of a surviving node (the
/// console logger's UTC timestamp, taken when the line is logged), split into what the lease still had to run at the
/// kill (its row's expiry, read right after the kill) and expiry → takeover;</item>
/// <item>the killed round's duration (opened → next round opened) against the median of the undisturbed later rounds
/// (round 0 warms up and is left out), and when its last upload was stored; the killed query's duration (submitted →
/// completed) against the undisturbed one's;</item>
/// <item>the client-visible upload latency (<see cref="ParticipantRunner.UploadLatencies"/>: first send → acknowledged,
/// reconnects and retries included) in the killed round and in the undisturbed rounds;</item>
/// <item>exactly once: every round sampled every agent, froze <c>IncludedUploads</c> = agents and has one ledger row
/// per agent; the cohort folded its 120 contributions once and spent ε once per query.</item>
/// </list>
/// </summary>
public static class FailoverTimings
{
    private const int KilledRound = 1;
    private const string TrainingCohort = "breast-cancer";
    private const int Contributions = 120;
    private const double Epsilon = 50, EpsilonPerQuery = 20;
    private const string Sql = "SELECT COUNT(*), AVG(mean_radius) FROM breast_cancer GROUP BY label";

    private static readonly string CohortSchemaJson = $$"""
        {
          "version": 1, "id": "breast_cancer", "minGroupSize": 10, "epsilon": {{Epsilon}}, "delta": 1e-5,
          "dimensions": [ { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" } ],
          "measures": [ { "name": "mean_radius", "lo": 6.981, "hi": 28.11 } ]
        }
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        int[] ttls = RunOptions.Ints(args, "--lease-ttl", "3,8");
        int agents = RunOptions.Int(args, "--agents", 30);
        int rounds = RunOptions.Int(args, "--rounds", 4);
        int repeats = RunOptions.Int(args, "--repeats", 3);
        if (rounds < KilledRound + 2)
        {
            throw new ArgumentException($"--rounds must be at least {KilledRound + 2}: round {KilledRound} is killed, the later ones are the undisturbed reference");
        }

        var pg = await PostgresServer.SharedAsync().ConfigureAwait(false);
        Console.WriteLine($"// FailoverTimings: lease TTL {string.Join(", ", ttls)} s, {agents} agents, {rounds} rounds, {repeats} repeats, {Environment.ProcessorCount} cores, PostgreSQL {(pg.IsThrowaway ? "throwaway cluster (fsync off)" : "from $PRIVATEHEALTH_PG")}");
        Console.WriteLine($"// load average at start: {LoadAverage()}");
        var data = TestData.BreastCancer(agents);
        var people = Contributors();
        var trainingRows = new List<string>();
        var queryRows = new List<string>();
        foreach (int ttl in ttls)
        {
            var trainings = new List<TrainingSample>();
            var queries = new List<QuerySample>();
            for (int repeat = 0; repeat < repeats; repeat++)
            {
                await using var cluster = await Cluster.StartAsync(pg, TimeSpan.FromSeconds(ttl)).ConfigureAwait(false);
                try
                {
                    var training = await TrainingAsync(cluster, data, agents, rounds).ConfigureAwait(false);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"// TTL {ttl} s, run {repeat + 1}, training: killed node-{training.Kill.Victim} at {training.UploadsAtKill}/{agents} uploads, lease left {training.Kill.LeaseLeft:F2} s; node-{training.Taker} took it after {training.Takeover:F2} s; last upload +{training.UploadsDone:F2} s; round {training.KilledRound:F2} s vs {training.UndisturbedRound:F2} s; upload max {training.KilledUploadsMs.Max():F0} vs {training.UndisturbedUploadsMs.Max():F0} ms; {(training.ExactlyOnce ? "each upload once" : "LEDGER MISMATCH")}; load {LoadAverage()}"));
                    trainings.Add(training);
                    var query = await QueryAsync(cluster, people).ConfigureAwait(false);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"// TTL {ttl} s, run {repeat + 1}, query: killed node-{query.Kill.Victim} while {query.StateAtKill}, lease left {query.Kill.LeaseLeft:F2} s; node-{query.Taker} took it after {query.Takeover:F2} s; query {query.KilledQuery:F2} s vs {query.UndisturbedQuery:F2} s; {(query.ExactlyOnce ? "folded and spent once" : "COHORT MISMATCH")}; load {LoadAverage()}"));
                    queries.Add(query);
                }
                catch (Exception)
                {
                    await Console.Error.WriteLineAsync(cluster.LogTails(40)).ConfigureAwait(false);
                    throw;
                }
            }

            trainingRows.Add(TrainingRow(ttl, trainings, agents));
            queryRows.Add(QueryRow(ttl, queries));
        }

        Console.WriteLine($"// load average at end: {LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("Training job, lease holder killed in round 1 (median / max over the runs; upload latencies: p99 / max of all runs' uploads):");
        Console.WriteLine();
        Console.WriteLine("| lease TTL | runs | lease left at kill (s) | takeover (s) | expiry → takeover (s) | killed round (s) | undisturbed round (s) | extra (s) | last upload stored (s after kill) | upload p99 / max, killed round (ms) | upload p99 / max, undisturbed (ms) | each upload once |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        trainingRows.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine("Query job, lease holder killed while counting (median / max over the runs):");
        Console.WriteLine();
        Console.WriteLine("| lease TTL | runs | lease left at kill (s) | takeover (s) | expiry → takeover (s) | killed query (s) | undisturbed query (s) | extra (s) | folded and spent once |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        queryRows.ForEach(Console.WriteLine);
        await pg.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>A SIGKILLed lease holder: which node, when, and the lease row it left behind.</summary>
    private sealed record Kill(int Victim, DateTimeOffset At, LeaseRecord Lease)
    {
        /// <summary>Seconds from the kill to the lease's expiry (the dead node renews nothing any more).</summary>
        public double LeaseLeft => (Lease.ExpiresAt - At).TotalSeconds;
    }

    /// <summary>The training phase's figures (seconds unless named otherwise).</summary>
    private sealed record TrainingSample(
        Kill Kill,
        int Taker,
        double Takeover,
        int UploadsAtKill,
        double UploadsDone,
        double KilledRound,
        double UndisturbedRound,
        double[] KilledUploadsMs,
        double[] UndisturbedUploadsMs,
        bool ExactlyOnce);

    /// <summary>The query phase's figures (seconds).</summary>
    private sealed record QuerySample(Kill Kill, int Taker, double Takeover, string StateAtKill, double KilledQuery, double UndisturbedQuery, bool ExactlyOnce);

    private static async Task<TrainingSample> TrainingAsync(Cluster cluster, (Dataset[] Data, Dataset Test, int Features) cohort, int agents, int rounds)
    {
        var store = cluster.Store;
        string keySet = await cluster.CeremonyAsync(CkksParametersLiteral.TrainingLogN12LogQP109, nameof(CkksParametersLiteral.TrainingLogN12LogQP109), []).ConfigureAwait(false);
        using var op = cluster.Client(0, "operator-1", Roles.Operator);
        var spec = new TrainingJobSpec
        {
            CohortId = TrainingCohort, Model = "logistic", Features = cohort.Features, Rounds = rounds, SampleFraction = 1.0, MinParticipants = agents,
            RoundDeadlineMs = 120_000, LocalEpochs = 2, BatchSize = 16, LearningRate = 0.2, Strategy = "fedavg", Seed = 5,
        };
        var job = await cluster.Retry.RunAsync(c => op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = keySet }, c), cluster.Stopping).ConfigureAwait(false);
        var runners = Enumerable.Range(0, agents).Select(k =>
        {
            string id = $"participant-{k:D3}";
            var agent = ParticipantAgent.Open(Path.Combine(cluster.Directory, "agents", id));
            agent.Consent.Grant(ConsentPurpose.Training, TrainingCohort);
            var client = cluster.Client(k, id, Roles.Participant);
            return (Agent: agent, Client: client, Runner: new ParticipantRunner(client, agent, cohort.Data[k], new ParticipantRunnerOptions { JobId = job.JobId, ParticipantId = id, ClientIndex = k, Retry = cluster.Retry }));
        }).ToList();
        try
        {
            var running = runners.Select(r => Task.Run(() => r.Runner.RunAsync(cluster.Stopping), cluster.Stopping)).ToList();

            // the kill: a third of round 1's uploads are in, the rest are being trained, encrypted and sent
            int uploadsAtKill = 0;
            await RunOptions.WaitUntilAsync(async () =>
            {
                if (running.FirstOrDefault(t => t.IsFaulted) is { } faulted)
                {
                    await faulted.ConfigureAwait(false); // an agent failed: surface why
                }

                uploadsAtKill = (await store.GetUploadSummaryAsync(job.JobId, KilledRound).ConfigureAwait(false)).Participants.Count;
                return uploadsAtKill >= agents / 3;
            }, TimeSpan.FromMinutes(3), $"a third of round {KilledRound}'s uploads").ConfigureAwait(false);
            string resource = "job:" + job.JobId;
            var kill = await cluster.KillHolderAsync(resource).ConfigureAwait(false);
            var results = await Task.WhenAll(running).WaitAsync(TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            var (taker, takeover) = cluster.TakeoverOf(resource, kill);

            var final = (await store.GetJobAsync(job.JobId).ConfigureAwait(false))!;
            var history = await store.ListRoundsAsync(job.JobId).ConfigureAwait(false);
            bool exact = final.State == JobState.Completed && history.Count == rounds && results.All(r => r.State == "job-completed")
                && runners.All(r => r.Runner.UploadedRounds.Count == rounds);
            foreach (var round in history)
            {
                var (ledger, _) = await store.GetUploadSummaryAsync(job.JobId, round.Round).ConfigureAwait(false);
                exact &= round.Selected.Count == agents && round.IncludedUploads == agents && ledger.Count == agents && ledger.Distinct().Count() == agents;
            }

            // a round lasts from its opening to the next one's (the last: to the job's completion)
            double Duration(int r) => ((r + 1 < history.Count ? history[r + 1].OpenedAt : final.UpdatedAt) - history[r].OpenedAt).TotalSeconds;
            double[] LatenciesMs(IEnumerable<int> inRounds) =>
                [.. runners.SelectMany(r => inRounds.Select(n => r.Runner.UploadLatencies.TryGetValue(n, out var t) ? t.TotalMilliseconds : double.NaN))];
            int[] undisturbed = [.. Enumerable.Range(KilledRound + 1, rounds - KilledRound - 1)];
            var killedUploads = await store.ListUploadsAsync(job.JobId, KilledRound).ConfigureAwait(false);
            return new TrainingSample(
                kill,
                taker,
                takeover,
                uploadsAtKill,
                UploadsDone: (killedUploads.Max(u => u.ReceivedAt) - kill.At).TotalSeconds,
                KilledRound: Duration(KilledRound),
                UndisturbedRound: Median(undisturbed.Select(Duration)),
                KilledUploadsMs: LatenciesMs([KilledRound]),
                UndisturbedUploadsMs: LatenciesMs(undisturbed),
                exact);
        }
        finally
        {
            foreach (var (agent, client, _) in runners)
            {
                client.Dispose();
                agent.Dispose();
            }
        }
    }

    private static async Task<QuerySample> QueryAsync(Cluster cluster, List<Dictionary<string, object>> people)
    {
        var ct = cluster.Stopping;
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        string keySet = await cluster.CeremonyAsync(CkksParametersLiteral.AggregationLogN13LogQP216, nameof(CkksParametersLiteral.AggregationLogN13LogQP216), [.. SlotLayout.RotationSteps(parameters.MaxSlots)]).ConfigureAwait(false);
        using var op = cluster.Client(1, "operator-1", Roles.Operator);
        await cluster.Retry.RunAsync(c => op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = CohortSchemaJson }, c), ct).ConfigureAwait(false);
        var schema = CohortSchema.Parse(CohortSchemaJson);
        var encoder = new ContributionEncoder(schema);
        var codec = new AnalyticsCodec(parameters, new SlotLayout(schema));
        var serializer = new CkksSerializer(parameters);
        var info = await cluster.Retry.RunAsync(c => op.GetCohortAsync(schema.Id, c), ct).ConfigureAwait(false);
        using (var encryptor = new Encryptor(parameters.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span)))
        {
            var uploads = people.Select((person, k) => new ContributionRequest
            {
                CohortId = schema.Id,
                ParticipantId = $"person-{k:D3}",
                Ciphertext = ByteString.CopyFrom(serializer.Serialize(codec.Encrypt(encoder.Encode(person), encryptor))),
            }).ToList();
            await Task.WhenAll(uploads.Select(async (u, k) =>
            {
                using var c = cluster.Client(k, u.ParticipantId, Roles.Participant);
                await cluster.Retry.RunAsync(x => c.UploadContributionAsync(u, x), ct).ConfigureAwait(false);
            })).ConfigureAwait(false);
        }

        using var keygen = new KeyGenerator(parameters.Rlwe);
        using var secret = keygen.GenerateSecretKey();
        var researcherKey = ByteString.CopyFrom(serializer.Serialize(keygen.GeneratePublicKey(secret)));
        using var researcher = cluster.Client(2, "researcher-1", Roles.Researcher);
        async Task<string> SubmitAsync(string idempotencyKey)
        {
            var quote = await cluster.Retry.RunAsync(c => researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = schema.Id, Query = Sql, Epsilon = EpsilonPerQuery }, c), ct).ConfigureAwait(false);
            var submit = new SubmitQueryRequest { QuoteId = quote.QuoteId, CohortId = schema.Id, Query = Sql, IdempotencyKey = idempotencyKey, ResearcherPublicKey = researcherKey };
            return (await cluster.Retry.RunAsync(c => researcher.SubmitQueryAsync(submit, c), ct).ConfigureAwait(false)).JobId;
        }

        async Task<QueryJobRecord> WaitForStateAsync(string jobId, Func<string, bool> reached)
        {
            QueryJobRecord? job = null;
            await RunOptions.WaitUntilAsync(async () => reached((job = await cluster.Store.GetQueryJobAsync(jobId).ConfigureAwait(false))!.State), TimeSpan.FromMinutes(3), $"query {jobId}").ConfigureAwait(false);
            return job!;
        }

        static double Duration(QueryJobRecord job) => (job.UpdatedAt - job.CreatedAt).TotalSeconds;
        static bool Finished(string state) => state is "completed" or "failed" or "cancelled";

        var undisturbed = await WaitForStateAsync(await SubmitAsync("undisturbed").ConfigureAwait(false), Finished).ConfigureAwait(false);
        string killedId = await SubmitAsync("killed").ConfigureAwait(false);
        string stateAtKill = (await WaitForStateAsync(killedId, s => s is "counting" || Finished(s)).ConfigureAwait(false)).State;
        string resource = "query:" + killedId;
        var kill = await cluster.KillHolderAsync(resource).ConfigureAwait(false);
        var killed = await WaitForStateAsync(killedId, Finished).ConfigureAwait(false);
        var (taker, takeover) = cluster.TakeoverOf(resource, kill);

        var status = await cluster.Retry.RunAsync(c => op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = schema.Id }, c), ct).ConfigureAwait(false);
        bool exact = undisturbed.State == "completed" && killed.State == "completed" && status.ActiveContributions == people.Count && status.FoldedContributions == people.Count
            && Math.Abs(status.EpsilonRemaining - (Epsilon - (2 * EpsilonPerQuery))) < 1e-9;
        return new QuerySample(kill, taker, takeover, stateAtKill, Duration(killed), Duration(undisturbed), exact);
    }

    /// <summary>The first <see cref="Contributions"/> people of the breast-cancer file: their label and mean radius, what the query reads.</summary>
    private static List<Dictionary<string, object>> Contributors()
    {
        var lines = File.ReadLines(TestData.BreastCancerPath()).Take(Contributions + 1).Select(l => l.Split(',')).ToList();
        int radius = Array.IndexOf(lines[0], "mean_radius"), target = Array.IndexOf(lines[0], "target");
        return [.. lines.Skip(1).Select(cells => new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["mean_radius"] = double.Parse(cells[radius], CultureInfo.InvariantCulture),
            ["target"] = ((int)double.Parse(cells[target], CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture),
        })];
    }

    private static string TrainingRow(int ttl, List<TrainingSample> samples, int agents)
    {
        string P99Max(Func<TrainingSample, double[]> latencies)
        {
            double[] all = [.. samples.SelectMany(latencies).Order()];
            return all.Any(double.IsNaN) ? "missing" : string.Create(CultureInfo.InvariantCulture, $"{all[(int)(all.Length * 0.99)]:F0} / {all[^1]:F0}");
        }

        return $"| {ttl} s | {samples.Count} | {Range(samples, s => s.Kill.LeaseLeft)} | {MedianMax(samples, s => s.Takeover)} | {MedianMax(samples, s => s.Takeover - s.Kill.LeaseLeft)} "
            + $"| {MedianMax(samples, s => s.KilledRound)} | {MedianMax(samples, s => s.UndisturbedRound)} | {MedianMax(samples, s => s.KilledRound - s.UndisturbedRound)} | {MedianMax(samples, s => s.UploadsDone)} "
            + $"| {P99Max(s => s.KilledUploadsMs)} | {P99Max(s => s.UndisturbedUploadsMs)} | {samples.Count(s => s.ExactlyOnce)}/{samples.Count} runs ({agents} per round) |";
    }

    private static string QueryRow(int ttl, List<QuerySample> samples) =>
        $"| {ttl} s | {samples.Count} | {Range(samples, s => s.Kill.LeaseLeft)} | {MedianMax(samples, s => s.Takeover)} | {MedianMax(samples, s => s.Takeover - s.Kill.LeaseLeft)} "
        + $"| {MedianMax(samples, s => s.KilledQuery)} | {MedianMax(samples, s => s.UndisturbedQuery)} | {MedianMax(samples, s => s.KilledQuery - s.UndisturbedQuery)} "
        + $"| {samples.Count(s => s.ExactlyOnce)}/{samples.Count} runs ({Contributions} contributions, 2 × ε {EpsilonPerQuery}) |";

    private static string MedianMax<T>(List<T> samples, Func<T, double> figure) =>
        string.Create(CultureInfo.InvariantCulture, $"{Median(samples.Select(figure)):F2} / {samples.Max(figure):F2}");

    private static string Range<T>(List<T> samples, Func<T, double> figure) =>
        string.Create(CultureInfo.InvariantCulture, $"{samples.Min(figure):F2}–{samples.Max(figure):F2}");

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";

    /// <summary>
    /// One run's cluster: three coordinator processes over a fresh schema, a failover front per node, a store connection
    /// that watches them, and the custodian runners of the current key set.
    /// </summary>
    private sealed class Cluster : IAsyncDisposable
    {
        private readonly PostgresServer _pg;
        private readonly string _schema;
        private readonly DevelopmentTokenIssuer _issuer = new();
        private readonly List<CoordinatorProcess> _nodes;
        private readonly List<FailoverProxy> _fronts = [];
        private readonly CancellationTokenSource _stop = new();
        private (List<CustodianRunner> Runners, CancellationTokenSource Stop)? _custodians;
        private PostgresCoordinatorStore? _store;

        private Cluster(PostgresServer pg, TimeSpan leaseTtl)
        {
            _pg = pg;
            _schema = PostgresServer.NewSchemaName("ph_bench_failover");
            Directory = Path.Combine(Path.GetTempPath(), "ph-bench-failover-" + Guid.NewGuid().ToString("N")[..10]);
            string keyPath = Path.Combine(Directory, "shared-issuer.pem");
            _nodes = [.. Enumerable.Range(0, 3).Select(i => new CoordinatorProcess(Path.Combine(Directory, $"node-{i}"),
            [
                .. CoordinatorProcess.ClusterArguments(pg.ConnectionStringWith(24), _schema, keyPath, i),
                // CoordinatorProcess sets a 50 ms tick for the tests; time the default
                "--Coordinator:TickInterval=00:00:00.250",
                $"--Coordinator:LeaseTtl={leaseTtl:c}",
            ]))];
        }

        /// <summary>The run's scratch directory (node data, agent homes).</summary>
        public string Directory { get; }

        /// <summary>A connection of the benchmark's own to the cluster's schema (reads only).</summary>
        public PostgresCoordinatorStore Store => _store ?? throw new InvalidOperationException("not started");

        /// <summary>The failover test's client retry policy.</summary>
        public RetryPolicy Retry { get; } = new() { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(400), MaxServerErrors = 50 };

        /// <summary>Cancelled when the run ends.</summary>
        public CancellationToken Stopping => _stop.Token;

        public static async Task<Cluster> StartAsync(PostgresServer pg, TimeSpan leaseTtl)
        {
            var cluster = new Cluster(pg, leaseTtl);
            try
            {
                System.IO.Directory.CreateDirectory(cluster.Directory);
                await File.WriteAllTextAsync(Path.Combine(cluster.Directory, "shared-issuer.pem"), cluster._issuer.ExportPrivateKeyPem()).ConfigureAwait(false);
                await Task.WhenAll(cluster._nodes.Select(n => n.StartAsync(cluster.Stopping))).ConfigureAwait(false);
                // front i prefers node i, then the next ones: a client of a dead node reconnects to a live one
                var ports = cluster._nodes.Select(n => n.Port).ToList();
                cluster._fronts.AddRange(Enumerable.Range(0, 3).Select(i => new FailoverProxy([ports[i], ports[(i + 1) % 3], ports[(i + 2) % 3]])));
                cluster._store = await PostgresCoordinatorStore.CreateAsync(pg.ConnectionStringWith(4), cluster._schema).ConfigureAwait(false);
                return cluster;
            }
            catch
            {
                await cluster.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        /// <summary>A client of front <paramref name="front"/> (mod 3) with a token for <paramref name="subject"/>.</summary>
        public CoordinatorClient Client(int front, string subject, string role) => new(_fronts[front % 3].Url, _issuer.CreateToken(subject, role));

        /// <summary>
        /// Replaces the custodian runners (one per front, 2-of-3; a runner serves one parameter set) and runs a key
        /// ceremony for <paramref name="preset"/>; returns the ready key set's id.
        /// </summary>
        public async Task<string> CeremonyAsync(CkksParametersLiteral literal, string preset, int[] rotations)
        {
            await StopCustodiansAsync().ConfigureAwait(false);
            var parameters = CkksParameters.FromLiteral(literal);
            var stop = CancellationTokenSource.CreateLinkedTokenSource(Stopping);
            var runners = new List<CustodianRunner>();
            _custodians = (runners, stop);
            for (int party = 1; party <= 3; party++)
            {
                var runner = new CustodianRunner(Client(party, $"custodian-{party}", Roles.Custodian), $"custodian-{party}", party, parameters, new InMemoryCustodianVault(), Retry);
                runners.Add(runner);
                _ = Task.Run(() => runner.RunAsync(stop.Token), stop.Token);
            }

            using var op = Client(0, "operator-1", Roles.Operator);
            var ceremony = await Retry.RunAsync(c => op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Preset = preset, Members = 3, Threshold = 2, Rotations = { rotations } }, c), Stopping).ConfigureAwait(false);
            await RunOptions.WaitUntilAsync(async () => (await Store.GetKeySetAsync(ceremony.KeySetId).ConfigureAwait(false))?.State == "ready", TimeSpan.FromMinutes(3), $"the {preset} key ceremony").ConfigureAwait(false);
            return ceremony.KeySetId;
        }

        /// <summary>SIGKILLs the node holding <paramref name="resource"/>'s lease, then reads the lease row it left.</summary>
        public async Task<Kill> KillHolderAsync(string resource)
        {
            int victim = CoordinatorProcess.NodeIndex((await Store.GetLeaseAsync(resource).ConfigureAwait(false))?.Owner);
            var at = DateTimeOffset.UtcNow;
            await _nodes[victim].KillAsync().ConfigureAwait(false);
            var lease = (await Store.GetLeaseAsync(resource).ConfigureAwait(false))!;
            return CoordinatorProcess.NodeIndex(lease.Owner) == victim ? new Kill(victim, at, lease) : throw new InvalidOperationException($"{resource} moved to {lease.Owner} before the kill took effect");
        }

        /// <summary>
        /// The first surviving node to log "Took the lease of <paramref name="resource"/>" after the kill, and the seconds
        /// since the kill: the line's own timestamp (the console logger writes UTC <c>HH:mm:ss.fff</c>, taken when the
        /// line is logged, so pipe delays do not count), dated by the kill.
        /// </summary>
        public (int Node, double Seconds) TakeoverOf(string resource, Kill kill)
        {
            string marker = $"Took the lease of {resource} (fencing token";
            var notBefore = kill.At.AddMilliseconds(-1); // the log's timestamps are truncated to milliseconds
            var taken = _nodes.SelectMany((n, i) => i == kill.Victim ? [] : n.Log.Split('\n')
                    .Where(line => line.Contains(marker, StringComparison.Ordinal))
                    .Select(line => (Node: i, At: LineTime(line, kill.At))))
                .Where(t => t.At >= notBefore)
                .OrderBy(t => t.At)
                .ToList();
            return taken.Count > 0 ? (taken[0].Node, (taken[0].At - kill.At).TotalSeconds) : throw new InvalidOperationException($"no surviving node logged taking over {resource}");
        }

        /// <summary>The last <paramref name="lines"/> lines of every node's log (to show why a run failed).</summary>
        public string LogTails(int lines) => CoordinatorProcess.LogTails(_nodes, lines);

        public async ValueTask DisposeAsync()
        {
            await StopCustodiansAsync().ConfigureAwait(false);
            await _stop.CancelAsync().ConfigureAwait(false);
            if (_store is not null)
            {
                await _store.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var f in _fronts)
            {
                await f.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var n in _nodes)
            {
                await n.DisposeAsync().ConfigureAwait(false);
            }

            await _pg.DropSchemaAsync(_schema, CancellationToken.None).ConfigureAwait(false);
            _issuer.Dispose();
            _stop.Dispose();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private async Task StopCustodiansAsync()
        {
            if (_custodians is var (runners, stop))
            {
                await stop.CancelAsync().ConfigureAwait(false);
                runners.ForEach(r => r.Dispose());
                stop.Dispose();
                _custodians = null;
            }
        }

        private static DateTimeOffset LineTime(string line, DateTimeOffset near)
        {
            var time = TimeOnly.ParseExact(line[..12], "HH:mm:ss.fff", CultureInfo.InvariantCulture);
            var at = new DateTimeOffset(near.UtcDateTime.Date + time.ToTimeSpan(), TimeSpan.Zero);
            return (at - near).TotalHours switch
            {
                < -12 => at.AddDays(1),
                > 12 => at.AddDays(-1),
                _ => at,
            };
        }
    }
}
