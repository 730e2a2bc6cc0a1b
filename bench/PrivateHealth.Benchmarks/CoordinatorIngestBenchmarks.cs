using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Coordinator.Training;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Benchmarks;

/// <summary>How uploads reach the coordinator in <see cref="CoordinatorIngestBenchmarks"/>.</summary>
public enum IngestPath
{
    /// <summary>The real participant client over loopback HTTP/2 (h2c), bearer token per call; 1,000 WatchRounds streams keep the participants online.</summary>
    Grpc,

    /// <summary><see cref="TrainingService.UploadAsync"/> called in-process (no network, no auth, no protobuf parse); presence marked through the app's <see cref="PresenceTracker"/>.</summary>
    Direct,
}

/// <summary>
/// Issue 5 acceptance: one federated round with <see cref="Participants"/> = 1,000 simulated participants and a
/// 10,000-parameter model (linear regression on 9,999 features; the uploaded vector is the 10,000 weighted parameters
/// plus the weight = 10,001 reals = 3 ciphertexts of preset TrainingLogN12LogQP109, N = 4096). The coordinator is the
/// real one (<see cref="CoordinatorApp"/>: Kestrel, auth, SQLite ledger in WAL mode with synchronous=FULL, the state
/// machine worker), started in-process on a loopback port, with 3 in-process custodian runners (threshold 2) so that
/// every round is decrypted and the job moves on to the next round.
/// <para>
/// One iteration = one round: <see cref="Concurrency"/> concurrent uploaders send the 1,000 pre-encrypted updates
/// (encryption is the participants' cost and is done once in setup), then the benchmark waits until the worker has
/// closed the round, read the ledger, summed the 1,000 × 3 ciphertexts and saved the accumulator (observed through the
/// coordinator's own <c>privatehealth.rounds.aggregation.duration</c> histogram). BenchmarkDotNet's time per operation
/// is that whole span divided by 1,000 (OperationsPerInvoke): the combined cost per upload. The custom columns split
/// it: ingest (first upload sent → last acknowledged), aggregate (last acknowledged → accumulator saved), and the
/// upload latencies. The decryption by the custodians that follows is not timed (iteration cleanup waits for it and
/// checks the released model).
/// </para>
/// </summary>
[Config(typeof(CoordinatorIngestConfig))]
public class CoordinatorIngestBenchmarks
{
    public const int Participants = 1000;
    public const int Features = 9_999;
    public const int Concurrency = 32;
    public const string Cohort = "bench-ingest";

    /// <summary>Per-round measurements of every case run in this process (the columns read them).</summary>
    internal static readonly Dictionary<string, List<RoundSample>> Samples = new(StringComparer.Ordinal);

    private static readonly AsyncLocal<string?> WatchToken = new();

    private string _dir = string.Empty;
    private DevelopmentTokenIssuer _issuer = null!;
    private WebApplication _app = null!;
    private Uri _address = null!;
    private ICoordinatorStore _store = null!;
    private TrainingService _training = null!;
    private PresenceTracker _presence = null!;
    private readonly List<(CancellationTokenSource Cts, Task Task, CustodianRunner Runner, CoordinatorClient Client)> _custodians = [];
    private string _jobId = string.Empty;
    private string[] _ids = [];
    private string[] _tokens = [];
    private ByteString[][] _ciphertexts = [];
    private string _parametersId = string.Empty;
    private CkksParameters _parameters = null!;
    private PublicKey _publicKey = null!;
    private long _bytesPerUpload;
    private CoordinatorClient[] _uploaders = [];
    private string?[] _uploaderTokens = [];
    private CoordinatorClient[] _watchClients = [];
    private CancellationTokenSource _watchCts = new();
    private Task[] _watchers = [];
    private readonly List<IDisposable> _leases = [];
    private MeterListener? _listener;
    private TaskCompletionSource<(long At, double Ms)> _aggregated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<double> _serverLatencies = [];
    private UploadRequest[] _requests = [];
    private int _round;
    private RoundSample? _last;

    [Params(IngestPath.Grpc, IngestPath.Direct)]
    public IngestPath Path { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [IterationSetup]
    public void OpenRound() => OpenRoundAsync().GetAwaiter().GetResult();

    /// <summary>One round: 1,000 uploads ingested, validated and stored, then closed and aggregated.</summary>
    [Benchmark(OperationsPerInvoke = Participants)]
    public async Task Round()
    {
        long t0 = Stopwatch.GetTimestamp();
        var latencies = await UploadAllAsync().ConfigureAwait(false);
        long t1 = Stopwatch.GetTimestamp();
        var (t2, aggregationMs) = await _aggregated.Task.WaitAsync(TimeSpan.FromMinutes(3)).ConfigureAwait(false);
        double[] server;
        lock (_serverLatencies)
        {
            server = [.. _serverLatencies];
        }

        _last = new RoundSample(_round, Stopwatch.GetElapsedTime(t0, t1).TotalSeconds, Stopwatch.GetElapsedTime(t1, t2).TotalSeconds, aggregationMs / 1000,
            Stopwatch.GetElapsedTime(t0, t2).TotalSeconds, _bytesPerUpload, latencies, server);
    }

    [IterationCleanup]
    public void CompleteRound() => CompleteRoundAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    // ------------------------------------------------------------------ setup

    private async Task SetupAsync()
    {
        var ct = CancellationToken.None;
        lock (Samples)
        {
            Samples[Path.ToString()] = [];
        }

        _dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ph-bench-ingest-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(_dir);
        _issuer = new DevelopmentTokenIssuer();
        string[] args =
        [
            $"--Coordinator:DataDirectory={_dir}",
            "--Coordinator:GrpcPort=0",
            "--Coordinator:HttpPort=-1",
            "--Coordinator:TickInterval=00:00:00.050",
            "--Logging:LogLevel:Default=Warning",
        ];
        _app = CoordinatorApp.Build(args, _issuer);
        _store = _app.Services.GetRequiredService<ICoordinatorStore>();
        _training = _app.Services.GetRequiredService<TrainingService>();
        _presence = _app.Services.GetRequiredService<PresenceTracker>();
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == CoordinatorMetrics.MeterName && instrument.Name is "privatehealth.rounds.aggregation.duration" or "privatehealth.uploads.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "privatehealth.uploads.duration")
            {
                lock (_serverLatencies)
                {
                    _serverLatencies.Add(value);
                }
            }
            else
            {
                _aggregated.TrySetResult((Stopwatch.GetTimestamp(), value));
            }
        });
        _listener.Start();
        _address = await CoordinatorApp.StartAsync(_app, ct).ConfigureAwait(false);

        // key ceremony: 3 custodians, threshold 2 (no evaluation keys: the coordinator only adds ciphertexts)
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);
        foreach (int party in new[] { 1, 2, 3 })
        {
            var client = new CoordinatorClient(_address, _issuer.CreateToken($"custodian-{party}", Roles.Custodian));
            var runner = new CustodianRunner(client, $"custodian-{party}", party, parameters, new InMemoryCustodianVault(),
                new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(500) });
            var cts = new CancellationTokenSource();
            _custodians.Add((cts, Task.Run(() => runner.RunAsync(cts.Token), ct), runner, client));
        }

        using var op = new CoordinatorClient(_address, _issuer.CreateToken("operator-1", Roles.Operator));
        var ceremony = await op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Preset = "TrainingLogN12LogQP109", Members = 3, Threshold = 2 }, ct).ConfigureAwait(false);
        await WaitUntilAsync(async () =>
        {
            var s = await op.GetKeyCeremonyAsync(ceremony.KeySetId, ct).ConfigureAwait(false);
            return s.State == "failed" ? throw new InvalidOperationException($"key ceremony failed: {s.Message}") : s.State == "ready";
        }, TimeSpan.FromMinutes(3), "the key ceremony").ConfigureAwait(false);

        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest
        {
            KeySetId = ceremony.KeySetId,
            Spec = new TrainingJobSpec
            {
                CohortId = Cohort,
                Model = "linear",
                Features = Features,
                Rounds = 10_000, // more than any run needs: every iteration is the next round of this job
                SampleFraction = 1.0,
                MinParticipants = Participants,
                RoundDeadlineMs = 600_000,
                Strategy = "fedavg",
                Seed = 7,
            },
        }, ct).ConfigureAwait(false);
        _jobId = job.JobId;

        _ids = [.. Enumerable.Range(0, Participants).Select(i => $"participant-{i:D4}")];
        _tokens = [.. _ids.Select(id => _issuer.CreateToken(id, Roles.Participant, TimeSpan.FromHours(6)))];
        _uploaderTokens = new string?[Concurrency];
        _uploaders = [.. Enumerable.Range(0, Concurrency).Select(w => new CoordinatorClient(_address, _ => ValueTask.FromResult(_uploaderTokens[w])))];

        // every participant enrolls (consenting to training) through the real endpoint
        await ForEachParticipantAsync(async (w, i) =>
        {
            _uploaderTokens[w] = _tokens[i];
            await _uploaders[w].EnrollAsync(new EnrollRequest { ParticipantId = _ids[i], CohortId = Cohort, Training = true }, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);

        // the participants' side: parameters and collective public key as a participant downloads them, then
        // 1,000 distinct encrypted updates (weight 1, tiny deltas: the sum stays far inside Δ = 2^50 of a 61-bit prime)
        _uploaderTokens[0] = _tokens[0];
        var reply = await _uploaders[0].GetParametersAsync(_jobId, ct).ConfigureAwait(false);
        var p = CkksSerializer.DeserializeParameters(reply.Parameters.Span);
        var publicKey = new CkksSerializer(p).DeserializePublicKey(reply.PublicKey.Span);
        _parametersId = reply.ParametersId;
        _parameters = p;
        _publicKey = publicKey;
        _ciphertexts = new ByteString[Participants][];
        EncryptAll();
        _bytesPerUpload = _ciphertexts[0].Sum(c => (long)c.Length);

        // presence: the round opens only when all 1,000 enrolled participants are online
        if (Path == IngestPath.Grpc)
        {
            _watchClients = [.. Enumerable.Range(0, 4).Select(_ => new CoordinatorClient(_address, _ => ValueTask.FromResult(WatchToken.Value)))];
            _watchers = [.. Enumerable.Range(0, Participants).Select(i => Task.Run(() => WatchAsync(_watchClients[i % _watchClients.Length], i, _watchCts.Token), ct))];
        }
        else
        {
            _leases.AddRange(_ids.Select(_presence.ParticipantConnected));
        }

        await WaitUntilAsync(() => Task.FromResult(_presence.OnlineParticipantCount >= Participants), TimeSpan.FromMinutes(2), "1,000 participants online").ConfigureAwait(false);
        Console.WriteLine($"// CoordinatorIngest[{Path}]: job {_jobId}, {Participants} participants online, {_ciphertexts[0].Length} ciphertexts = {_bytesPerUpload:N0} bytes per upload, data in {_dir}");
    }

    /// <summary>
    /// Fresh encryptions of every participant's update (untimed: the participants' cost). Needed each round, not only
    /// for realism: a custodian refuses to decrypt a ciphertext it already decrypted in another session, and identical
    /// uploads would give an identical sum.
    /// </summary>
    private void EncryptAll() =>
        Parallel.For(0, Participants, () => (Packer: new UpdatePacker(_parameters), Serializer: new CkksSerializer(_parameters), Encryptor: new Encryptor(_parameters.Rlwe, _publicKey)), (i, _, local) =>
        {
            // Features + 1 parameters, the weight, then the round metrics (Σ loss, Σ correct, examples)
            var vector = new double[Features + 2 + 3];
            vector.AsSpan(0, Features + 1).Fill(DeltaOf(i));
            vector[Features + 1] = 1;
            vector[^1] = 1;
            _ciphertexts[i] = [.. local.Packer.Encrypt(vector, local.Encryptor).Select(c => ByteString.CopyFrom(local.Serializer.Serialize(c)))];
            return local;
        }, local => local.Encryptor.Dispose());

    /// <summary>The weighted delta participant <paramref name="i"/> uploads for every parameter (weight 1).</summary>
    private static double DeltaOf(int i) => 1e-3 * ((i % 4) + 1);

    private static double ExpectedAverageDelta => Enumerable.Range(0, Participants).Average(DeltaOf);

    private async Task WatchAsync(CoordinatorClient client, int i, CancellationToken ct)
    {
        WatchToken.Value = _tokens[i];
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var ev in client.WatchRoundsAsync(_jobId, _ids[i], ct).ConfigureAwait(false))
                {
                    if (ev.State.StartsWith("job-", StringComparison.Ordinal))
                    {
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (CoordinatorClient.IsTransient(ex))
            {
                Console.WriteLine($"// watcher {i}: {ex.GetType().Name}: {ex.Message}; reconnecting");
            }

            try
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private Task ForEachParticipantAsync(Func<int, int, Task> action)
    {
        int next = -1;
        return Task.WhenAll(Enumerable.Range(0, Concurrency).Select(w => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Participants)
            {
                await action(w, i).ConfigureAwait(false);
            }
        })));
    }

    // ------------------------------------------------------------------ per round

    private async Task OpenRoundAsync()
    {
        RoundRecord? round = null;
        await WaitUntilAsync(async () =>
        {
            var job = await _store.GetJobAsync(_jobId).ConfigureAwait(false) ?? throw new InvalidOperationException("job vanished");
            if (job.State is not (JobState.Pending or JobState.Running))
            {
                throw new InvalidOperationException($"job {job.State}: {job.Message}");
            }

            round = job.State == JobState.Running ? await _store.GetRoundAsync(_jobId, job.CurrentRound).ConfigureAwait(false) : null;
            return round is { State: RoundState.Open };
        }, TimeSpan.FromMinutes(2), "the next round to open").ConfigureAwait(false);
        _round = round!.Round;
        if (round.Selected.Count != Participants)
        {
            throw new InvalidOperationException($"round {_round} sampled {round.Selected.Count} participants; expected {Participants}");
        }

        if (_requests.Length > 0)
        {
            EncryptAll();
        }

        _requests = new UploadRequest[Participants];
        for (int i = 0; i < Participants; i++)
        {
            _requests[i] = new UploadRequest { JobId = _jobId, Round = _round, ParticipantId = _ids[i], ParametersId = _parametersId, Ciphertexts = { _ciphertexts[i] } };
        }

        lock (_serverLatencies)
        {
            _serverLatencies.Clear();
        }

        _aggregated = new TaskCompletionSource<(long, double)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _last = null;
    }

    private async Task<double[]> UploadAllAsync()
    {
        var latencies = new double[Participants];
        await ForEachParticipantAsync(async (w, i) =>
        {
            var request = _requests[i];
            long started = Stopwatch.GetTimestamp();
            UploadReply reply;
            if (Path == IngestPath.Grpc)
            {
                _uploaderTokens[w] = _tokens[i];
                reply = await _uploaders[w].UploadAsync(request).ConfigureAwait(false);
            }
            else
            {
                reply = await _training.UploadAsync(request, CancellationToken.None).ConfigureAwait(false);
            }

            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (!reply.Accepted || reply.Duplicate)
            {
                throw new InvalidOperationException($"upload of {request.ParticipantId} not stored: {reply.Message}");
            }
        }).ConfigureAwait(false);
        return latencies;
    }

    private async Task CompleteRoundAsync()
    {
        // let the custodians decrypt (untimed) so that the job moves to the next round, and check what was released
        await WaitUntilAsync(async () =>
        {
            var round = await _store.GetRoundAsync(_jobId, _round).ConfigureAwait(false);
            return round?.State == RoundState.Failed ? throw new InvalidOperationException($"round {_round} failed: {round.Message}") : round?.State == RoundState.Completed;
        }, TimeSpan.FromMinutes(3), $"round {_round} to complete").ConfigureAwait(false);
        var completed = (await _store.GetRoundAsync(_jobId, _round).ConfigureAwait(false))!;
        var job = (await _store.GetJobAsync(_jobId).ConfigureAwait(false))!;
        double expected = ExpectedAverageDelta * (_round + 1);
        double error = job.GlobalModel.Max(w => Math.Abs(w - expected));
        if (completed.IncludedUploads != Participants || error > 1e-4)
        {
            throw new InvalidOperationException($"round {_round}: {completed.IncludedUploads} uploads included, max model error {error:E2} (expected every parameter = {expected})");
        }

        if (_last is { } s)
        {
            lock (Samples)
            {
                Samples[Path.ToString()].Add(s);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"// CoordinatorIngest[{Path}] round {s.Round}: ingest {s.IngestSeconds:F2} s = {s.IngestRate:F0} uploads/s ({s.IngestMegabytesPerSecond:F0} MB/s), " +
                $"last ack → accumulator {s.AggregateSeconds:F2} s (server sum {s.ServerAggregationSeconds:F2} s) = {s.AggregateRate:F0} uploads/s, round {s.RoundRate:F0} uploads/s; " +
                $"upload latency p50 {s.LatencyP50:F1} ms p99 {s.LatencyP99:F1} ms (server validate+store p50 {s.ServerP50:F1} ms p99 {s.ServerP99:F1} ms); model max error {error:E1}"));
        }
    }

    private async Task CleanupAsync()
    {
        using (var op = new CoordinatorClient(_address, _issuer.CreateToken("operator-1", Roles.Operator)))
        {
            await op.CancelJobAsync(_jobId).ConfigureAwait(false);
        }

        await _watchCts.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_watchers).ConfigureAwait(false);
        foreach (var lease in _leases)
        {
            lease.Dispose();
        }

        foreach (var (cts, task, runner, client) in _custodians)
        {
            await cts.CancelAsync().ConfigureAwait(false);
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            runner.Dispose();
            client.Dispose();
            cts.Dispose();
        }

        foreach (var c in _uploaders.Concat(_watchClients))
        {
            c.Dispose();
        }

        _listener?.Dispose();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _issuer.Dispose();
        _watchCts.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!await condition().ConfigureAwait(false))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }
}

/// <summary>One measured round of <see cref="CoordinatorIngestBenchmarks"/>.</summary>
internal sealed record RoundSample(int Round, double IngestSeconds, double AggregateSeconds, double ServerAggregationSeconds, double RoundSeconds, long BytesPerUpload, double[] Latencies, double[] ServerLatencies)
{
    private const int N = CoordinatorIngestBenchmarks.Participants;

    public double IngestRate => N / IngestSeconds;
    public double IngestMegabytesPerSecond => N * BytesPerUpload / IngestSeconds / 1e6;
    public double AggregateRate => N / AggregateSeconds;
    public double RoundRate => N / RoundSeconds;
    public double LatencyP50 => Percentile(Latencies, 0.50);
    public double LatencyP99 => Percentile(Latencies, 0.99);
    public double ServerP50 => Percentile(ServerLatencies, 0.50);
    public double ServerP99 => Percentile(ServerLatencies, 0.99);

    public static double Percentile(IReadOnlyCollection<double> values, double q)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    public static double Median(IEnumerable<double> values) => Percentile(values.ToArray(), 0.5);
}

/// <summary>
/// One-shot job for whole rounds (each iteration is a full round of 1,000 uploads): Monitoring strategy, one warm-up
/// round and 3 measured rounds (1 with <c>--quick</c>), in-process; plus the per-phase columns.
/// </summary>
public sealed class CoordinatorIngestConfig : ManualConfig
{
    public CoordinatorIngestConfig()
    {
        bool quick = Environment.GetCommandLineArgs().Contains("--quick", StringComparer.Ordinal);
        // a mutator, applied after the command line's job (Program's "Quick"/"Steady", also a mutator), so that these
        // counts win: 10 iterations of a 1,000-upload round would take far too long
        AddJob(Job.Default
            .WithStrategy(RunStrategy.Monitoring)
            .WithLaunchCount(1)
            .WithWarmupCount(1)
            .WithIterationCount(quick ? 1 : 3)
            .WithToolchain(InProcessEmitToolchain.Instance)
            .AsMutator());
        AddColumn(
            new IngestColumn("Bytes/upload", "Ciphertext bytes per upload", s => s[0].BytesPerUpload.ToString("N0", CultureInfo.InvariantCulture)),
            new IngestColumn("Ingest up/s", "Uploads/s from the first upload sent to the last acknowledged (validated and committed to the SQLite ledger); median over the rounds after the first", s => F0(RoundSample.Median(s.Select(x => x.IngestRate)))),
            new IngestColumn("Ingest MB/s", "Ciphertext megabytes (10^6) per second during ingest; median", s => F0(RoundSample.Median(s.Select(x => x.IngestMegabytesPerSecond)))),
            new IngestColumn("Aggregate up/s", "Uploads/s from the last acknowledgement to the accumulator saved (round close, ledger read, 1,000 × 3 ciphertext sum, save); median", s => F0(RoundSample.Median(s.Select(x => x.AggregateRate)))),
            new IngestColumn("Server sum s", "The coordinator's own aggregation histogram (ledger read + sum + save), seconds; median", s => F2(RoundSample.Median(s.Select(x => x.ServerAggregationSeconds)))),
            new IngestColumn("Round up/s", "Uploads/s for the whole round, first upload sent to accumulator saved; median", s => F0(RoundSample.Median(s.Select(x => x.RoundRate)))),
            new IngestColumn("p50 ms", "Client-side upload latency, 50th percentile over all uploads of those rounds", s => F1(RoundSample.Percentile(s.SelectMany(x => x.Latencies).ToArray(), 0.50))),
            new IngestColumn("p99 ms", "Client-side upload latency, 99th percentile", s => F1(RoundSample.Percentile(s.SelectMany(x => x.Latencies).ToArray(), 0.99))),
            new IngestColumn("Server p50 ms", "TrainingService.UploadAsync (validate + store) latency, 50th percentile", s => F1(RoundSample.Percentile(s.SelectMany(x => x.ServerLatencies).ToArray(), 0.50))),
            new IngestColumn("Rounds", "Rounds these columns summarize (the first round of each case is left out as warm-up)", s => s.Count.ToString(CultureInfo.InvariantCulture)));
    }

    private static string F0(double v) => v.ToString("F0", CultureInfo.InvariantCulture);

    private static string F1(double v) => v.ToString("F1", CultureInfo.InvariantCulture);

    private static string F2(double v) => v.ToString("F2", CultureInfo.InvariantCulture);

    private sealed class IngestColumn(string name, string legend, Func<IReadOnlyList<RoundSample>, string> value) : IColumn
    {
        public string Id => "CoordinatorIngest." + name;
        public string ColumnName => name;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => legend;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            if (benchmarkCase.Descriptor.Type != typeof(CoordinatorIngestBenchmarks) || benchmarkCase.Parameters["Path"] is not IngestPath path)
            {
                return "-";
            }

            List<RoundSample> samples;
            lock (CoordinatorIngestBenchmarks.Samples)
            {
                if (!CoordinatorIngestBenchmarks.Samples.TryGetValue(path.ToString(), out var all) || all.Count == 0)
                {
                    return "-";
                }

                samples = all.Count > 1 ? all[1..] : all;
            }

            return value(samples);
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
