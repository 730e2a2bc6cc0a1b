using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Testing;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Issue 8 load run (<c>--scaleout [--participants 10000] [--nodes 1,3] [--concurrency 64]</c>): one federated round
/// in which every simulated participant uploads its encrypted update over gRPC (loopback h2c, a bearer token per call)
/// to the coordinator node it is assigned to (participant i → node i mod N), with N in-process coordinator nodes in
/// cluster mode over one PostgreSQL schema (the same code as separate processes: each node has its own store, pool,
/// presence heartbeat and leases). The model is a 999-feature linear regression: 1,001 reals = 1 ciphertext of
/// TrainingLogN12LogQP109 (N = 4096) per upload, pre-encrypted before timing (the participants' cost). Presence is
/// marked through each node's <see cref="PresenceTracker"/> (the participant's node heartbeats it to the store;
/// the round opens when all are online cluster-wide) instead of N thousand WatchRounds streams.
/// Timed: first upload sent → last acknowledged (uploads/s) and every upload's client-side latency (p50, p99); then,
/// untimed by the upload figures, the close and the sum of the frozen ledger by the node holding the job's lease.
/// </summary>
public static class ScaleOutIngest
{
    private const int Features = 999;
    private const string Cohort = "bench-scaleout";

    public static async Task<int> RunAsync(string[] args)
    {
        int participants = RunOptions.Int(args, "--participants", 10_000);
        int concurrency = RunOptions.Int(args, "--concurrency", 64);
        int[] nodeCounts = RunOptions.Ints(args, "--nodes", "1,3");
        var pg = await PostgresServer.SharedAsync().ConfigureAwait(false);
        Console.WriteLine($"// ScaleOutIngest: {participants} participants, concurrency {concurrency}, {Environment.ProcessorCount} cores, PostgreSQL {(pg.IsThrowaway ? "throwaway cluster (fsync off)" : "from $PRIVATEHEALTH_PG")}");
        var rows = new List<string>();
        foreach (int nodes in nodeCounts)
        {
            rows.Add(await RunOnceAsync(pg, nodes, participants, concurrency).ConfigureAwait(false));
        }

        Console.WriteLine();
        Console.WriteLine("| nodes | participants | uploads/s | p50 upload (ms) | p99 upload (ms) | ingest (s) | close + sum (s) | ledger rows = included |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        await pg.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task<string> RunOnceAsync(PostgresServer pg, int nodeCount, int participants, int concurrency)
    {
        var ct = CancellationToken.None;
        string schema = PostgresServer.NewSchemaName("ph_bench");
        string dir = Path.Combine(Path.GetTempPath(), "ph-bench-scaleout-" + Guid.NewGuid().ToString("N")[..10]);
        using var issuer = new DevelopmentTokenIssuer(); // shared by all nodes, as the shared DevelopmentIssuerKeyPath would be
        var apps = new List<WebApplication>();
        var addresses = new List<Uri>();
        var custodians = new List<(CancellationTokenSource Cts, Task Task, CustodianRunner Runner)>();
        var presence = new List<IDisposable>();
        try
        {
            for (int n = 0; n < nodeCount; n++)
            {
                var app = CoordinatorApp.Build(
                [
                    $"--Coordinator:DataDirectory={Path.Combine(dir, $"node-{n}")}",
                    "--Coordinator:GrpcPort=0",
                    "--Coordinator:HttpPort=-1",
                    "--Coordinator:TickInterval=00:00:00.100",
                    "--Coordinator:StoreProvider=postgres",
                    $"--Coordinator:PostgresConnectionString={pg.ConnectionStringWith(40)}",
                    $"--Coordinator:PostgresSchema={schema}",
                    $"--Coordinator:NodeId=node-{n}",
                    "--Logging:LogLevel:Default=Warning",
                ], issuer);
                addresses.Add(await CoordinatorApp.StartAsync(app, ct).ConfigureAwait(false));
                apps.Add(app);
            }

            var store = apps[0].Services.GetRequiredService<ICoordinatorStore>();
            var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);
            foreach (int party in new[] { 1, 2, 3 })
            {
                var client = new CoordinatorClient(addresses[party % nodeCount], issuer.CreateToken($"custodian-{party}", Roles.Custodian));
                var runner = new CustodianRunner(client, $"custodian-{party}", party, parameters, new InMemoryCustodianVault(),
                    new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(500) });
                var cts = new CancellationTokenSource();
                custodians.Add((cts, Task.Run(() => runner.RunAsync(cts.Token), ct), runner));
            }

            using var op = new CoordinatorClient(addresses[0], issuer.CreateToken("operator-1", Roles.Operator));
            var ceremony = await op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Preset = "TrainingLogN12LogQP109", Members = 3, Threshold = 2 }, ct).ConfigureAwait(false);
            await RunOptions.WaitUntilAsync(async () => (await op.GetKeyCeremonyAsync(ceremony.KeySetId, ct).ConfigureAwait(false)).State == "ready", TimeSpan.FromMinutes(3), "the key ceremony").ConfigureAwait(false);
            var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest
            {
                KeySetId = ceremony.KeySetId,
                Spec = new TrainingJobSpec
                {
                    CohortId = Cohort, Model = "linear", Features = Features, Rounds = 1, SampleFraction = 1.0,
                    MinParticipants = participants, MinAvailable = participants, RoundDeadlineMs = 1_800_000, Strategy = "fedavg", Seed = 7,
                },
            }, ct).ConfigureAwait(false);

            string[] ids = [.. Enumerable.Range(0, participants).Select(i => $"participant-{i:D5}")];
            string[] tokens = [.. ids.Select(id => issuer.CreateToken(id, Roles.Participant, TimeSpan.FromHours(6)))];
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, c) =>
                await store.UpsertEnrollmentAsync(new EnrollmentRecord { ParticipantId = id, CohortId = Cohort, Training = true, UpdatedAt = DateTimeOffset.UtcNow }, c).ConfigureAwait(false)).ConfigureAwait(false);

            var reply = await new CoordinatorClient(addresses[0], tokens[0]).GetParametersAsync(job.JobId, ct).ConfigureAwait(false);
            var p = CkksSerializer.DeserializeParameters(reply.Parameters.Span);
            var publicKey = new CkksSerializer(p).DeserializePublicKey(reply.PublicKey.Span);
            var ciphertexts = new ByteString[participants][];
            Parallel.For(0, participants, () => (Packer: new UpdatePacker(p), Serializer: new CkksSerializer(p), Encryptor: new Encryptor(p.Rlwe, publicKey)), (i, _, local) =>
            {
                var vector = new double[Features + 2];
                vector.AsSpan(0, Features + 1).Fill(1e-3 * ((i % 4) + 1));
                vector[^1] = 1;
                ciphertexts[i] = [.. local.Packer.Encrypt(vector, local.Encryptor).Select(c => ByteString.CopyFrom(local.Serializer.Serialize(c)))];
                return local;
            }, local => local.Encryptor.Dispose());
            long bytesPerUpload = ciphertexts[0].Sum(c => (long)c.Length);

            // presence: each participant is connected to its node; the round opens when all are online cluster-wide
            var trackers = apps.Select(a => a.Services.GetRequiredService<PresenceTracker>()).ToList();
            for (int i = 0; i < participants; i++)
            {
                presence.Add(trackers[i % nodeCount].ParticipantConnected(ids[i]));
            }

            RoundRecord? round = null;
            await RunOptions.WaitUntilAsync(async () => (round = await store.GetRoundAsync(job.JobId, 0, ct).ConfigureAwait(false)) is { State: RoundState.Open }, TimeSpan.FromMinutes(3), "round 0 to open").ConfigureAwait(false);
            if (round!.Selected.Count != participants)
            {
                throw new InvalidOperationException($"round 0 sampled {round.Selected.Count}, expected {participants}");
            }

            var requests = ids.Select((id, i) => new UploadRequest { JobId = job.JobId, Round = 0, ParticipantId = id, ParametersId = reply.ParametersId, Ciphertexts = { ciphertexts[i] } }).ToArray();
            var workerTokens = new string?[concurrency];
            var clients = Enumerable.Range(0, concurrency).Select(w => addresses.Select(a => new CoordinatorClient(a, _ => ValueTask.FromResult(workerTokens[w]))).ToArray()).ToArray();
            var latencies = new double[participants];
            int next = -1;
            long t0 = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < participants)
                {
                    workerTokens[w] = tokens[i];
                    long started = Stopwatch.GetTimestamp();
                    var r = await clients[w][i % nodeCount].UploadAsync(requests[i]).ConfigureAwait(false);
                    latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if (!r.Accepted || r.Duplicate)
                    {
                        throw new InvalidOperationException($"upload of {ids[i]} not stored: {r.Message}");
                    }
                }
            }))).ConfigureAwait(false);
            double ingest = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            long t1 = Stopwatch.GetTimestamp();
            await RunOptions.WaitUntilAsync(async () => await store.GetAccumulatorAsync(job.JobId, 0, ct).ConfigureAwait(false) is not null, TimeSpan.FromMinutes(10), "the accumulator").ConfigureAwait(false);
            double sum = Stopwatch.GetElapsedTime(t1).TotalSeconds;
            var closed = (await store.GetRoundAsync(job.JobId, 0, ct).ConfigureAwait(false))!;
            var (ledger, _) = await store.GetUploadSummaryAsync(job.JobId, 0, ct).ConfigureAwait(false);
            var acc = (await store.GetAccumulatorAsync(job.JobId, 0, ct).ConfigureAwait(false))!;
            bool exact = ledger.Count == participants && closed.IncludedUploads == participants && acc.UploadCount == participants && ledger.Distinct().Count() == participants;
            Array.Sort(latencies);
            string row = string.Create(CultureInfo.InvariantCulture,
                $"| {nodeCount} | {participants:N0} | {participants / ingest:F0} | {latencies[participants / 2]:F1} | {latencies[(int)(participants * 0.99)]:F1} | {ingest:F1} | {sum:F1} | {ledger.Count:N0} = {closed.IncludedUploads:N0} (sum of {acc.UploadCount:N0}){(exact ? "" : " MISMATCH")} |");
            Console.WriteLine($"// {nodeCount} node(s): {bytesPerUpload:N0} bytes per upload; {row}");
            foreach (var w in clients.SelectMany(c => c))
            {
                w.Dispose();
            }

            return row;
        }
        finally
        {
            presence.ForEach(x => x.Dispose());
            foreach (var (cts, task, runner) in custodians)
            {
                await cts.CancelAsync().ConfigureAwait(false);
                await task.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                runner.Dispose();
            }

            foreach (var app in apps)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }

            await pg.DropSchemaAsync(schema, CancellationToken.None).ConfigureAwait(false);
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
