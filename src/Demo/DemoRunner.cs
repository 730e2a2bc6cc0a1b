using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Numerics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PrivateHealth.Coordinator.Api;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Settlement;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Ethereum;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Evaluation;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Network;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Researcher.Cli;
using PrivateHealth.Settlement;
using Spectre.Console;
using PrivateHealth.Networking;

namespace PrivateHealth.Demo;

/// <summary>
/// The end-to-end demo: a local chain with the settlement contracts, an in-process coordinator (SQLite store, REST job
/// API), five custodians with t = 3, N participants with breast-cancer records and wearable series; then the key
/// ceremonies, enrollment with consents on chain, encrypted contributions, a paid encrypted query decrypted by the
/// researcher, a paid federated training job bought through the REST API (two custodians offline for part of it), the
/// settlement of both jobs and a summary whose checks decide the exit code.
/// </summary>
internal sealed partial class DemoRunner(DemoOptions options, IAnsiConsole console)
{
    public const string CohortId = "breast_cancer";
    public const string AnalyticsPreset = "AggregationLogN13LogQP216";
    public const string TrainingPreset = "TrainingLogN12LogQP109";
    private const int ConsentBatchSize = 50;
    private const double Tolerance = 4.5; // standard deviations a released value may be from the truth
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public static readonly string SchemaJson = """
        {
          "version": 1, "id": "breast_cancer", "minGroupSize": 10, "epsilon": 50, "delta": 1e-5,
          "dimensions": [
            { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" },
            { "name": "radius_bin", "kind": "numeric", "source": "mean_radius",
              "edges": [6.981, 9.0939, 11.2068, 13.3197, 15.4326, 17.5455, 19.6584, 21.7713, 23.8842, 25.9971, 28.11] }
          ],
          "measures": [
            { "name": "mean_radius", "lo": 6.981, "hi": 28.11 },
            { "name": "mean_area", "lo": 143.5, "hi": 2501.0 },
            { "name": "resting_hr", "lo": 40, "hi": 110 },
            { "name": "daily_steps", "lo": 0, "hi": 25000 }
          ]
        }
        """;

    public const string Sql = "SELECT COUNT(*), HISTOGRAM(mean_radius), AVG(mean_radius), AVG(mean_area), AVG(resting_hr), AVG(daily_steps) FROM breast_cancer GROUP BY label";

    private readonly DemoReport _report = new();
    private readonly List<ParticipantAgent> _agents = [];
    private readonly CkksParameters _analytics = CkksParameters.FromLiteral(CkksParametersLiteral.Presets[AnalyticsPreset]);
    private string _directory = "";
    private DemoData _data = null!;
    private LocalChain? _chain;
    private JsonRpcClient? _rpc;
    private SettlementChain _settlement = null!;
    private ChainDeployment _deployment = null!;
    private WebApplication? _app;
    private DevelopmentTokenIssuer? _issuer;
    private Uri _grpc = null!;
    private Uri _http = null!;
    private DemoCustodians? _custodians;
    private string _analyticsKeySet = "";
    private string _trainingKeySet = "";
    private string _queryJobId = "";
    private string _trainingJobId = "";

    public DemoReport Report => _report;

    /// <summary>Runs every phase and returns the report (its checks decide the exit code). With KeepRunning, waits for <paramref name="ct"/> before tearing down.</summary>
    public async Task<DemoReport> RunAsync(CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        bool ownsDirectory = options.DataDirectory is null;
        _directory = options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "privatehealth-demo-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
        _report.Participants = options.Participants;
        _report.TrainingRounds = options.Rounds;
        _report.MinAccuracy = options.MinAccuracy;
        console.Write(new Rule("[bold]PrivateHealth end-to-end demo[/]").LeftJustified());
        console.MarkupLine($"[grey]{options.Participants} participants, {options.Rounds} training rounds, {options.Custodians} custodians with t = {options.Threshold}, seed {options.Seed}; working directory {Markup.Escape(_directory)}[/]");
        try
        {
            await Phase("Local chain and coordinator", () => StartInfrastructureAsync(ct));
            await Phase("Key ceremony", () => KeyCeremonyAsync(ct));
            await Phase("Enrollment and consents on chain", () => EnrollAsync(ct));
            await Phase("Encrypted contributions", () => ContributeAsync(ct));
            await Phase("Paid encrypted query", () => QueryAsync(ct));
            await Phase("Federated training (REST job)", () => TrainAsync(ct));
            await Phase("Settlement and payouts", () => SettleAsync(ct));
            _report.Total = total.Elapsed;
            DemoSummaryView.Render(console, _report);
            if (options.KeepRunning)
            {
                await KeepRunningAsync(ct);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _report.Total = total.Elapsed;
            _report.Check("the demo ran to the end", false, ex.Message);
            console.MarkupLine($"[red]The demo stopped:[/] {Markup.Escape(ex.ToString())}");
            if (_chain is not null && ex is InvalidOperationException && ex.Message.Contains("hardhat", StringComparison.OrdinalIgnoreCase))
            {
                console.WriteLine(_chain.Output);
            }
        }
        finally
        {
            await TearDownAsync(ownsDirectory);
        }

        return _report;
    }

    private async Task Phase(string name, Func<Task<string>> body)
    {
        var watch = Stopwatch.StartNew();
        console.WriteLine();
        console.Write(new Rule($"[yellow]{Markup.Escape(name)}[/]").LeftJustified());
        string detail = await body();
        _report.Phases.Add(new PhaseTiming(name, watch.Elapsed, detail));
        console.MarkupLine($"[green]done[/] {Markup.Escape(name)} in [bold]{watch.Elapsed.TotalSeconds:F1} s[/]: {Markup.Escape(detail)}");
    }

    // ------------------------------------------------------------------ infrastructure

    private async Task<string> StartInfrastructureAsync(CancellationToken ct)
    {
        string repo = LocalChain.RepoRoot();
        string build = Path.Combine(repo, "contracts", "build");
        _data = DemoData.Load(options.Participants, options.Seed);
        await console.Status().StartAsync("starting a local hardhat node…", async ctx =>
        {
            _chain = await LocalChain.StartAsync(repo, ct);
            _rpc = new JsonRpcClient(_chain.RpcUrl);
            ctx.Status = "deploying the settlement contracts…";
            var admin = new EthereumAccount(EthKey.FromHex(LocalChain.DefaultPrivateKeys[0]), _rpc);
            var operatorKey = EthKey.FromHex(LocalChain.DefaultPrivateKeys[1]);
            var relayerKey = EthKey.FromHex(LocalChain.DefaultPrivateKeys[3]);
            var treasury = new EthKey(Keccak256.Hash(System.Text.Encoding.UTF8.GetBytes($"privatehealth-demo-treasury-{options.Seed}"))).Address;
            _deployment = await SettlementDeployer.DeployAsync(admin, operatorKey.Address, relayerKey.Address, treasury, build, ct);
            string deploymentPath = Path.Combine(_directory, "deployment.json");
            _deployment.Save(deploymentPath);
            _settlement = new SettlementChain(_rpc, _deployment, build);

            ctx.Status = "starting the coordinator…";
            string coordinator = Path.Combine(_directory, "coordinator");
            Directory.CreateDirectory(coordinator);
            _issuer = new DevelopmentTokenIssuer();
            await File.WriteAllTextAsync(Path.Combine(coordinator, "dev-issuer.pem"), _issuer.ExportPrivateKeyPem(), ct);
            int httpPort = LoopbackPort.Free();
            var settings = new Dictionary<string, string>
            {
                ["Coordinator:DataDirectory"] = coordinator,
                ["Coordinator:GrpcPort"] = "0",
                ["Coordinator:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
                ["Coordinator:TickInterval"] = "00:00:00.100",
                ["Coordinator:Chain:Enabled"] = "true",
                ["Coordinator:Chain:RpcUrl"] = _chain.RpcUrl.ToString(),
                ["Coordinator:Chain:DeploymentPath"] = deploymentPath,
                ["Coordinator:Chain:BuildDirectory"] = build,
                ["Coordinator:Chain:OperatorKey"] = LocalChain.DefaultPrivateKeys[1],
                ["Coordinator:Chain:PayerKey"] = LocalChain.DefaultPrivateKeys[2],
                ["Coordinator:Chain:ClaimBatchSize"] = "100",
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft"] = "Warning",
            };
            string logPath = Path.Combine(_directory, "coordinator.log");
            _app = CoordinatorApp.Build([.. settings.Select(kv => $"--{kv.Key}={kv.Value}")], _issuer, builder =>
            {
                builder.Logging.ClearProviders();
                builder.Logging.AddProvider(new FileLoggerProvider(logPath));
            });
            _grpc = await CoordinatorApp.StartAsync(_app, ct);
            _http = new Uri($"http://127.0.0.1:{httpPort}");
            _custodians = new DemoCustodians(_grpc, _issuer, options.Custodians);
        });

        var bc = _data.People.SelectMany(p => p.Rows).Count();
        console.MarkupLine($"[grey]data[/] {Markup.Escape(_data.Path)}: {bc} training records dealt among {options.Participants} participants, {_data.Test.Count} held out for testing; {DemoData.Days} days of resting heart rate and steps per participant");
        console.MarkupLine($"[grey]chain[/] hardhat at {_chain!.RpcUrl} (chain id {_deployment.ChainId}): JobMarket {_deployment.JobMarket}, PayoutDistributor {_deployment.PayoutDistributor}, ContributionRegistry {_deployment.ContributionRegistry}");
        console.MarkupLine($"[grey]coordinator[/] gRPC {_grpc}, REST {_http}api/… (SQLite store in {Markup.Escape(Path.Combine(_directory, "coordinator"))}; log in coordinator.log)");
        return $"hardhat node, 4 contracts deployed, coordinator on {_grpc.Authority}";
    }

    private CoordinatorClient Client(string subject, string role) => new(_grpc, _issuer!.CreateToken(subject, role, TimeSpan.FromDays(1)));

    // ------------------------------------------------------------------ key ceremony

    private async Task<string> KeyCeremonyAsync(CancellationToken ct)
    {
        int[] parties = [.. Enumerable.Range(1, options.Custodians)];
        var rotations = SlotLayout.RotationSteps(_analytics.MaxSlots).ToArray();
        using var op = Client("operator-1", Roles.Operator);
        await console.Status().StartAsync("analytics key set…", async ctx =>
        {
            await _custodians!.UseAsync(AnalyticsPreset, parties);
            _analyticsKeySet = await CeremonyAsync(op, AnalyticsPreset, rotations, s => ctx.Status = $"analytics key set ({AnalyticsPreset}, {rotations.Length} rotation keys): {s}", ct);
            await _custodians.UseAsync(TrainingPreset, parties);
            _trainingKeySet = await CeremonyAsync(op, TrainingPreset, [], s => ctx.Status = $"training key set ({TrainingPreset}): {s}", ct);
            await _custodians.UseAsync(AnalyticsPreset, parties);
        });
        console.MarkupLine($"analytics key set [bold]{_analyticsKeySet}[/]: {AnalyticsPreset} (N = {_analytics.N}), collective public key and {rotations.Length} rotation keys for the query evaluator, secret key as {options.Threshold}-of-{options.Custodians} shares");
        console.MarkupLine($"training key set [bold]{_trainingKeySet}[/]: {TrainingPreset}, collective public key, {options.Threshold}-of-{options.Custodians} shares");
        console.MarkupLine("[grey]no relinearization key: queries need one plaintext multiplication and FedAvg only additions. A custodian runner serves one parameter set, so each custodian keeps a vault per key set and the demo switches its runner.[/]");

        using var operatorClient = Client("operator-1", Roles.Operator);
        await operatorClient.CreateCohortAsync(new CreateCohortRequest { KeySetId = _analyticsKeySet, SchemaJson = SchemaJson }, ct);
        return $"2 key sets ({AnalyticsPreset} with {rotations.Length} rotation keys; {TrainingPreset}), {options.Threshold}-of-{options.Custodians}; cohort '{CohortId}' created";
    }

    private async Task<string> CeremonyAsync(CoordinatorClient op, string preset, int[] rotations, Action<string> progress, CancellationToken ct)
    {
        var request = new StartKeyCeremonyRequest { Preset = preset, Members = options.Custodians, Threshold = options.Threshold, RelinearizationKey = false };
        request.Rotations.AddRange(rotations);
        var status = await op.StartKeyCeremonyAsync(request, ct);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        while (true)
        {
            var s = await op.GetKeyCeremonyAsync(status.KeySetId, ct);
            progress($"{s.Phase} {s.Message}".Trim());
            if (s.State == "ready")
            {
                return s.KeySetId;
            }

            if (s.State == "failed" || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"key ceremony {s.KeySetId} {s.State}: {s.Phase} {s.Message}");
            }

            await Task.Delay(100, ct);
        }
    }

    // ------------------------------------------------------------------ enrollment

    private async Task<string> EnrollAsync(CancellationToken ct)
    {
        var signed = new List<SignedConsent>();
        ulong deadline = (ulong)DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds();
        var training = ConsentSigning.Purpose($"training/{CohortId}");
        var analytics = ConsentSigning.Purpose($"analytics/{CohortId}");
        long gas = 0;
        int batches = 0;
        var agentsHome = Path.Combine(_directory, "agents");
        await console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var enroll = ctx.AddTask("participants enroll (payout address, consents)", maxValue: options.Participants);
                var relay = ctx.AddTask("consents relayed on chain", maxValue: _data.People.Sum(p => p.Analytics ? 2 : 1));
                var agents = new ParticipantAgent[options.Participants];
                var consents = new SignedConsent[options.Participants][];
                await Parallel.ForEachAsync(_data.People, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (person, c) =>
                {
                    var agent = ParticipantAgent.Open(Path.Combine(agentsHome, person.Id));
                    agent.Consent.Grant(ConsentPurpose.Training, CohortId);
                    if (person.Analytics)
                    {
                        agent.Consent.Grant(ConsentPurpose.Analytics, CohortId);
                    }

                    agents[person.Index] = agent;
                    using var client = Client(person.Id, Roles.Participant);
                    await client.EnrollAsync(new EnrollRequest
                    {
                        ParticipantId = person.Id,
                        CohortId = CohortId,
                        Training = true,
                        Analytics = person.Analytics,
                        PayoutAddress = agent.ChainKey.AddressHex,
                    }, c);

                    // the participant signs its consents (EIP-712) with its own payout key; nothing is sent from its account
                    var key = new EthKey(agent.ChainKey.PrivateKey);
                    consents[person.Index] = person.Analytics
                        ?
                        [
                            ConsentSigning.Sign(key, _deployment.ChainId, _deployment.ContributionRegistry, training, true, 0, deadline),
                            ConsentSigning.Sign(key, _deployment.ChainId, _deployment.ContributionRegistry, analytics, true, 1, deadline),
                        ]
                        : [ConsentSigning.Sign(key, _deployment.ChainId, _deployment.ContributionRegistry, training, true, 0, deadline)];
                    enroll.Increment(1);
                });
                _agents.AddRange(agents);
                signed.AddRange(consents.SelectMany(c => c));

                var relayer = new EthereumAccount(EthKey.FromHex(LocalChain.DefaultPrivateKeys[3]), _rpc!);
                foreach (var batch in signed.Chunk(ConsentBatchSize))
                {
                    var receipt = await _settlement.RelayConsentBatchAsync(relayer, batch, ct);
                    gas += (long)receipt.GasUsed;
                    batches++;
                    relay.Increment(batch.Length);
                }
            });

        int onChain = 0;
        foreach (var person in _data.People)
        {
            var address = Address.Parse(_agents[person.Index].ChainKey.AddressHex);
            if (await _settlement.HasConsentAsync(address, training, ct) && await _settlement.HasConsentAsync(address, analytics, ct) == person.Analytics)
            {
                onChain++;
            }
        }

        _report.Gas.Add(new GasUse("consents", "relayConsentBatch", $"{batches} transactions", gas, batches));
        _report.Check("consents on chain", onChain == options.Participants, $"{onChain} of {options.Participants} participants have exactly the consents they signed in the ContributionRegistry (training; analytics for {_data.People.Count(p => p.Analytics)})");
        console.MarkupLine($"{options.Participants} participants enrolled with a payout address from their own secp256k1 key ({_data.People.Count(p => !p.Analytics)} of them consent to training only); {signed.Count} EIP-712 consents relayed in {batches} batches ({gas:N0} gas), {onChain} participants verified on chain");
        console.MarkupLine("[grey]The coordinator does not relay consents yet (docs/settlement.md, \"Not here yet\"): the demo relays the participants' signed consents itself from the relayer key (RELAYER_ROLE).[/]");
        return $"{options.Participants} enrolled, {signed.Count} consents relayed in {batches} batches ({gas:N0} gas)";
    }

    // ------------------------------------------------------------------ contributions

    private async Task<string> ContributeAsync(CancellationToken ct)
    {
        var schema = CohortSchema.Parse(SchemaJson);
        CohortInfo info;
        using (var first = Client(_data.People[0].Id, Roles.Participant))
        {
            info = await first.GetCohortAsync(CohortId, ct);
        }

        var publicKey = new CkksSerializer(_analytics).DeserializePublicKey(info.PublicKey.Span);
        long bytes = 0;
        var contributors = _data.People.Where(p => p.Analytics).ToList();
        _report.Contributors = contributors.Count;
        await console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var upload = ctx.AddTask("devices summarise, encrypt and upload", maxValue: contributors.Count);
                await Parallel.ForEachAsync(contributors, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = ct }, async (person, c) =>
                {
                    var contribution = _agents[person.Index].CreateAnalyticsContribution(CohortId, schema, person.Summary, _analytics, publicKey);
                    using var client = Client(person.Id, Roles.Participant);
                    var reply = await client.UploadContributionAsync(new ContributionRequest
                    {
                        CohortId = CohortId,
                        ParticipantId = person.Id,
                        Ciphertext = ByteString.CopyFrom(contribution.Ciphertexts[0]),
                    }, c);
                    if (!reply.Accepted)
                    {
                        throw new InvalidOperationException($"{person.Id}: contribution not accepted: {reply.Message}");
                    }

                    Interlocked.Add(ref bytes, contribution.Bytes);
                    upload.Increment(1);
                });

                var fold = ctx.AddTask("coordinator folds them into the encrypted sum", maxValue: contributors.Count);
                using var op = Client("operator-1", Roles.Operator);
                var until = DateTime.UtcNow + TimeSpan.FromMinutes(5);
                while (true)
                {
                    var status = await op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = CohortId }, ct);
                    fold.Value = status.FoldedContributions;
                    if (status.FoldedContributions >= contributors.Count || DateTime.UtcNow > until)
                    {
                        break;
                    }

                    await Task.Delay(100, ct);
                }
            });

        _report.AnalyticsBytes = bytes;
        console.MarkupLine($"each device summarised its records and {DemoData.Days} days of wearable data into [[label, radius bin, mean_radius, mean_area, resting_hr, daily_steps]], encoded it in the cohort's cells and encrypted it under the collective key: {bytes / contributors.Count / 1024.0:F0} KiB per participant");
        return $"{contributors.Count} encrypted contributions, {bytes / 1048576.0:F1} MiB uploaded";
    }

    // ------------------------------------------------------------------ query

    private async Task<string> QueryAsync(CancellationToken ct)
    {
        string home = Path.Combine(_directory, "researcher");
        string token = _issuer!.CreateToken("researcher-1", Roles.Researcher, TimeSpan.FromDays(1));
        var cli = new System.Text.StringBuilder();
        async Task<string> Cli(params string[] args)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = await ResearcherCli.RunAsync([.. args, "--home", home, "--address", _grpc.ToString(), "--token", token], stdout, stderr);
            cli.AppendLine(CultureInfo.InvariantCulture, $"$ privatehealth researcher {string.Join(' ', args.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a))}");
            cli.Append(stdout);
            if (code != 0)
            {
                throw new InvalidOperationException($"researcher {args[0]} failed ({code}): {stderr}");
            }

            return stdout.ToString();
        }

        _report.QueryText = Sql;
        _report.QueryEpsilon = options.QueryEpsilon;
        QueryJobStatus done = null!;
        await console.Status().StartAsync("the researcher creates its key pair…", async ctx =>
        {
            await Cli("keys", "--cohort", CohortId);
            ctx.Status = "quote…";
            string quote = QuoteId().Match(await Cli("quote", "--cohort", CohortId, "--query", Sql, "--epsilon", options.QueryEpsilon.ToString(CultureInfo.InvariantCulture))).Groups[1].Value;
            ctx.Status = "submit…";
            _queryJobId = JobId().Match(await Cli("submit", "--cohort", CohortId, "--query", Sql, "--quote", quote)).Groups[1].Value;
            using var researcher = Client("researcher-1", Roles.Researcher);
            var until = DateTime.UtcNow + TimeSpan.FromMinutes(10);
            while (true)
            {
                done = await researcher.GetQueryJobAsync(_queryJobId, ct);
                ctx.Status = $"query job {_queryJobId}: {done.State} {done.Message}";
                if (done.State is "completed" or "failed" or "cancelled" || DateTime.UtcNow > until)
                {
                    break;
                }

                await Task.Delay(100, ct);
            }

            ctx.Status = "the researcher decrypts the result…";
            await Cli("result", _queryJobId, "--cohort", CohortId);
        });

        _report.ResearcherOutput = cli.ToString();
        console.Write(new Panel(new Text(_report.ResearcherOutput)).Header("researcher CLI (the result is decrypted with the researcher's own key)").Expand());
        if (done.State != "completed")
        {
            throw new InvalidOperationException($"query job {_queryJobId} {done.State}: {done.Message}");
        }

        _report.CountSigma = done.CountSigma;
        _report.StatisticsSigma = done.StatisticsSigma;
        _report.SuppressedGroups = done.SuppressedGroups;
        Compare(home, done);
        var steps = await Settlement().StepsAsync(_queryJobId, ct);
        var escrow = steps.FirstOrDefault(s => s.Name == "escrow");
        var price = await _settlement.GetJobAsync(SettlementChain.JobId(_queryJobId), ct);
        _report.QueryPriceEther = Ether(price.Amount);
        console.MarkupLine($"the marketplace's paying account escrowed {Ether(price.Amount)} ETH for job {_queryJobId} (tx {escrow?.Transaction ?? "?"}); the researcher has no wallet");
        return $"job {_queryJobId} paid ({Ether(price.Amount)} ETH), released {done.ReleasedSlots.Count} cells, suppressed {done.SuppressedGroups}, σ = {done.StatisticsSigma:F3}";
    }

    /// <summary>The researcher's decryption (its secret key in its home, as the CLI's) next to the plaintext statistics over the same people.</summary>
    private void Compare(string home, QueryJobStatus done)
    {
        var schema = CohortSchema.Parse(File.ReadAllText(Path.Combine(home, $"{CohortId}.schema.json")));
        var plan = QueryPlanner.Plan(QueryParser.Parse(done.Query), schema);
        var serializer = new CkksSerializer(_analytics);
        using var secret = serializer.DeserializeSecretKey(File.ReadAllBytes(Path.Combine(home, $"{CohortId}.secret")));
        var codec = new AnalyticsCodec(_analytics, plan.Layout);
        var slots = codec.DecodePublic(new Decryptor(_analytics.Rlwe, secret).Decrypt(serializer.DeserializeCiphertext(done.Result.Span)), 30);
        var released = plan.Blocks.Where(b => done.ReleasedSlots.Contains(b.Slot)).ToList();
        var answer = QueryResultReader.Read(plan, slots, released);

        // the truth over exactly the released cells, from the plaintext summaries (clipped and binned as the devices did)
        var encoder = new ContributionEncoder(schema);
        var aggregate = PlainAggregator.Sum(_data.People.Where(p => p.Analytics).Select(p => encoder.Encode(p.Summary)));
        var truth = QueryResultReader.Read(plan, plan.EvaluatePlain(codec.Slots(aggregate), released), released);
        var bins = schema.FindDimension("radius_bin")!;
        double sigma = done.StatisticsSigma;
        foreach (string label in schema.FindDimension("label")!.Values!)
        {
            string group = $"label={label}";
            var got = answer.Groups.FirstOrDefault(g => g.Key["label"] == label);
            var exact = truth.Groups.FirstOrDefault(g => g.Key["label"] == label);
            int k = released.Count(b => b.Key["label"] == label);
            if (got is null || exact is null)
            {
                int n = _data.People.Count(p => p.Analytics && p.Label == label);
                _report.Query.Add(new QueryComparison(group, "COUNT(*)", null, n, 0, n < schema.MinGroupSize + (Tolerance * done.CountSigma * Math.Sqrt(bins.Size)), "suppressed"));
                continue;
            }

            double count = exact.Count;
            double countTolerance = Tolerance * sigma * Math.Sqrt(k);
            _report.Query.Add(new QueryComparison(group, $"COUNT(*) over {k} released cells", got.Count, count, countTolerance, Math.Abs(got.Count - count) <= countTolerance));
            for (int i = 0; i < plan.Items.Count; i++)
            {
                var item = got.Items[i];
                var t = exact.Items[i];
                if (item.Histogram is { } histogram)
                {
                    foreach (var (bin, value) in histogram)
                    {
                        bool isReleased = released.Any(b => b.Key["label"] == label && b.Key["radius_bin"] == bin);
                        if (isReleased)
                        {
                            double truthBin = t.Histogram![bin];
                            _report.Query.Add(new QueryComparison(group, $"HISTOGRAM radius {bin}", value, truthBin, Tolerance * sigma, Math.Abs(value - truthBin) <= Tolerance * sigma));
                        }
                        else
                        {
                            int n = _data.People.Count(p => p.Analytics && p.Label == label && bins.Labels[bins.BinOf((double)p.Summary["mean_radius"])] == bin);
                            if (n > 0)
                            {
                                _report.Query.Add(new QueryComparison(group, $"HISTOGRAM radius {bin}", null, n, 0, n < schema.MinGroupSize + (Tolerance * done.CountSigma), "suppressed (< 10)"));
                            }
                        }
                    }
                }
                else if (plan.Items[i].Measures.Count == 1 && item.Value is { } value && t.Value is { } truthValue)
                {
                    var measure = schema.Measures[plan.Items[i].Measures[0]];
                    double width = measure.Hi - measure.Lo;
                    double r = (truthValue - measure.Lo) / width;
                    double nLow = Math.Max(1, count - countTolerance);
                    double tolerance = Tolerance * width * sigma * Math.Sqrt(k) * Math.Sqrt(1 + (r * r)) / nLow;
                    _report.Query.Add(new QueryComparison(group, item.Item, value, truthValue, tolerance, Math.Abs(value - truthValue) <= tolerance));
                }
            }
        }

        int failed = _report.Query.Count(q => !q.Passed);
        _report.Check("query values within noise", failed == 0 && _report.Query.Count > 0, $"{_report.Query.Count - failed} of {_report.Query.Count} released values within {Tolerance}σ of the plaintext statistics (σ = {sigma:F3} per normalized slot)");
    }

    [GeneratedRegex("quote (q-[0-9a-f]+)")]
    private static partial Regex QuoteId();

    [GeneratedRegex("job (qj-[0-9a-f]+)")]
    private static partial Regex JobId();

    private SettlementService Settlement() => _app!.Services.GetRequiredService<SettlementService>();

    private static decimal Ether(BigInteger wei) => (decimal)(wei / 1_000_000_000_000) / 1_000_000m;

    // ------------------------------------------------------------------ training

    private TrainingJobSpec Spec() => new()
    {
        CohortId = CohortId,
        Model = "logistic",
        Features = _data.Features,
        Rounds = options.Rounds,
        SampleFraction = 1.0,
        MinParticipants = options.Participants,
        RoundDeadlineMs = 120_000,
        LocalEpochs = options.LocalEpochs,
        BatchSize = options.BatchSize,
        LearningRate = options.LearningRate,
        Strategy = "fedavg",
        Seed = (ulong)options.Seed,
    };

    private async Task<string> TrainAsync(CancellationToken ct)
    {
        int[] all = [.. Enumerable.Range(1, options.Custodians)];
        int[] offline = [2, 4];
        int offFrom = Math.Max(1, options.Rounds / 4);
        int backAt = Math.Max(offFrom + 1, (options.Rounds * 3) / 5);
        _report.OfflineCustodians = backAt - offFrom == 1
            ? $"custodians {string.Join(" and ", offline)} offline for round {offFrom + 1}"
            : $"custodians {string.Join(" and ", offline)} offline for rounds {offFrom + 1}–{backAt}";
        await _custodians!.UseAsync(TrainingPreset, all);

        using var http = new HttpClient { BaseAddress = _http, Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _issuer!.CreateToken("researcher-1", Roles.Researcher, TimeSpan.FromDays(1)));
        var specJson = JsonDocument.Parse(JsonFormatter.Default.Format(Spec())).RootElement.Clone();
        using var quoted = await http.PostAsJsonAsync("/api/quotes", new CreateQuoteRequest(CohortId, null, null, "training", specJson, _trainingKeySet), Web, ct);
        string quoteBody = await quoted.Content.ReadAsStringAsync(ct);
        if (!quoted.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /api/quotes {(int)quoted.StatusCode}: {quoteBody}");
        }

        var quote = JsonSerializer.Deserialize<QuoteResponse>(quoteBody, Web)!;
        using var created = await http.PostAsJsonAsync("/api/jobs", new SubmitJobRequest(quote.QuoteId, null, null, null, "demo-training"), Web, ct);
        string createdBody = await created.Content.ReadAsStringAsync(ct);
        if (!created.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /api/jobs {(int)created.StatusCode}: {createdBody}");
        }

        _trainingJobId = JsonSerializer.Deserialize<TrainingJobResponse>(createdBody, Web)!.JobId;
        console.MarkupLine($"POST /api/quotes {{kind: \"training\"}} → quote {quote.QuoteId}, price {quote.Price / 1e6:F2} (micro-units → ETH); POST /api/jobs → [bold]{_trainingJobId}[/] (logistic regression, {options.Rounds} rounds, {options.LocalEpochs} local epochs, batch {options.BatchSize}, rate {options.LearningRate})");

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var runners = new List<ParticipantRunner>();
        var tasks = new List<Task<RoundEvent>>();
        var clients = new List<CoordinatorClient>();
        foreach (var person in _data.People)
        {
            var client = Client(person.Id, Roles.Participant);
            clients.Add(client);
            var runner = new ParticipantRunner(client, _agents[person.Index], person.TrainingData, new ParticipantRunnerOptions
            {
                JobId = _trainingJobId,
                ParticipantId = person.Id,
                ClientIndex = person.Index,
                Retry = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(500) },
            });
            runners.Add(runner);
            tasks.Add(Task.Run(() => runner.RunAsync(cts.Token), cts.Token));
        }

        JobStatus status = null!;
        var online = new Dictionary<int, int>();
        try
        {
            await console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var bar = ctx.AddTask("waiting for the payment in escrow", maxValue: options.Rounds);
                    using var op = Client("operator-1", Roles.Operator);
                    int seen = 0;
                    var until = DateTime.UtcNow + TimeSpan.FromMinutes(30);
                    while (true)
                    {
                        status = await op.GetJobAsync(_trainingJobId, ct);
                        int current = status.State == "completed" ? options.Rounds : status.CurrentRound;
                        while (seen < current && seen < options.Rounds)
                        {
                            // the model after round `seen` (the global model of the next round, or the final one)
                            if (current == seen + 1)
                            {
                                var model = new LogisticRegression(_data.Features);
                                status.GlobalModel.ToArray().CopyTo(model.Parameters);
                                double accuracy = ModelEvaluator.Evaluate(model, _data.Test).Accuracy!.Value;
                                _report.Rounds.Add(new RoundAccuracy(seen, accuracy, online.GetValueOrDefault(seen, _custodians.Online.Count)));
                                bar.Description = $"round {seen + 1}/{options.Rounds}: test accuracy {accuracy:P1}, custodians online {online.GetValueOrDefault(seen, _custodians.Online.Count)}/{options.Custodians}";
                            }

                            seen++;
                        }

                        bar.Value = seen;
                        if (status.State is "completed" or "failed" or "cancelled" || DateTime.UtcNow > until)
                        {
                            break;
                        }

                        if (status.State == "running")
                        {
                            if (status.CurrentRound == offFrom && _custodians.Online.Count == options.Custodians)
                            {
                                await _custodians.StopAsync(offline);
                            }
                            else if (status.CurrentRound >= backAt && _custodians.Online.Count < options.Custodians)
                            {
                                await _custodians.UseAsync(TrainingPreset, offline);
                            }

                            online[status.CurrentRound] = Math.Min(online.GetValueOrDefault(status.CurrentRound, int.MaxValue), _custodians.Online.Count);
                            if (seen == 0 && status.CurrentRound == 0)
                            {
                                bar.Description = $"round 1/{options.Rounds}: {options.Participants} devices train locally and upload encrypted updates";
                            }
                        }

                        await Task.Delay(50, ct);
                    }
                });
        }
        finally
        {
            if (_custodians.Online.Count < options.Custodians)
            {
                await _custodians.UseAsync(TrainingPreset, offline);
            }
        }

        if (status.State != "completed")
        {
            await cts.CancelAsync();
            throw new InvalidOperationException($"training job {_trainingJobId} {status.State}: {status.Message}");
        }

        var finals = await Task.WhenAll(tasks);
        foreach (var client in clients)
        {
            client.Dispose();
        }

        // the researcher fetches the final model through the REST API and the demo evaluates it on the held-out split
        var result = (await http.GetFromJsonAsync<TrainingResultResponse>($"/api/jobs/{_trainingJobId}/result", Web, ct))!;
        var final = new LogisticRegression(_data.Features);
        result.Parameters.CopyTo(final.Parameters);
        _report.FinalAccuracy = ModelEvaluator.Evaluate(final, _data.Test).Accuracy!.Value;
        _report.TrainingBytes = status.History.Sum(h => h.Bytes);
        _report.TrainingUploads = status.History.Sum(h => h.Received);
        var price = await _settlement.GetJobAsync(SettlementChain.JobId(_trainingJobId), ct);
        _report.TrainingPriceEther = Ether(price.Amount);

        // plaintext FedAvg with the same clients, seeds and settings: the encrypted job must match it
        var plain = new PlainFederatedSimulation(new LogisticRegression(_data.Features), [.. _data.People.Select(p => p.TrainingData)], Spec().WithDefaults().ToFederatedConfig(), _data.Test).Run();
        double[] wPlain = [.. plain.Rounds[^1].GlobalParameters];
        double diff = Math.Sqrt(wPlain.Zip(result.Parameters, (a, b) => (a - b) * (a - b)).Sum());
        _report.RelativeDifference = diff / Math.Sqrt(wPlain.Sum(a => a * a));
        _report.PlaintextAccuracy = plain.Rounds[^1].Evaluation!.Accuracy!.Value;

        bool allRounds = status.History.Count == options.Rounds && status.History.All(h => h.State == "completed" && h.Received == options.Participants);
        int reduced = _report.Rounds.Count(r => r.CustodiansOnline < options.Custodians);
        _report.Check("every training round aggregated every participant", allRounds && finals.All(f => f.State == "job-completed"),
            $"{status.History.Count(h => h.State == "completed")} of {options.Rounds} rounds completed, {_report.TrainingUploads} encrypted updates; {reduced} rounds decrypted with {options.Custodians - offline.Length} of {options.Custodians} custodians online");
        _report.Check($"final test accuracy ≥ {options.MinAccuracy:P0}", _report.FinalAccuracy >= options.MinAccuracy, $"{_report.FinalAccuracy:P2} on {_data.Test.Count} held-out records");
        _report.Check("encrypted FedAvg equals plaintext FedAvg", _report.RelativeDifference <= 1e-3, $"relative difference {_report.RelativeDifference:E2} (plaintext accuracy {_report.PlaintextAccuracy:P2})");
        console.MarkupLine($"final model from GET /api/jobs/{_trainingJobId}/result: test accuracy [bold]{_report.FinalAccuracy:P2}[/]; {_report.OfflineCustodians} (t = {options.Threshold} still decrypt)");
        return $"{options.Rounds} rounds × {options.Participants} encrypted updates, final accuracy {_report.FinalAccuracy:P2}, {_report.TrainingBytes / 1048576.0:F1} MiB uploaded";
    }

    // ------------------------------------------------------------------ settlement

    private async Task<string> SettleAsync(CancellationToken ct)
    {
        var settlement = Settlement();
        string[] jobs = [_queryJobId, _trainingJobId];
        await console.Status().StartAsync("settling…", async ctx =>
        {
            var until = DateTime.UtcNow + TimeSpan.FromMinutes(5);
            while (DateTime.UtcNow < until)
            {
                var closed = 0;
                foreach (string job in jobs)
                {
                    var steps = await settlement.StepsAsync(job, ct);
                    closed += steps.Any(s => s.Name == "closed") ? 1 : 0;
                    ctx.Status = $"{job}: {string.Join(" → ", steps.Select(s => s.Name))}";
                }

                if (closed == jobs.Length)
                {
                    break;
                }

                await Task.Delay(200, ct);
            }
        });

        var earnings = new Dictionary<string, (string Address, BigInteger Amount, long Query, long Training)>(StringComparer.Ordinal);
        BigInteger fees = 0;
        bool exact = true;
        foreach (string job in jobs)
        {
            string kind = job == _queryJobId ? "query" : "training";
            var steps = await settlement.StepsAsync(job, ct);
            if (!steps.Any(s => s.Name == "closed"))
            {
                _report.Check($"{kind} job settled", false, $"steps so far: {string.Join(", ", steps.Select(s => s.Name))}");
                continue;
            }

            foreach (var step in steps)
            {
                if (step.Name == "claims" && step.Details is { } details && details.TryGetProperty("transactions", out var txs))
                {
                    long gas = 0;
                    int count = 0;
                    foreach (var tx in txs.EnumerateArray())
                    {
                        gas += await GasOfAsync(tx.GetString()!, ct);
                        count++;
                    }

                    _report.Gas.Add(new GasUse(kind, "claimBatch", count == 1 ? txs[0].GetString()! : $"{count} transactions", gas, count));
                }
                else if (step.Transaction is { } hash && step.Name != "claims")
                {
                    string name = step.Name switch { "escrow" => "payNative (escrow)", "commit" => "commitResult", "finalize" => "finalize", _ => step.Name };
                    _report.Gas.Add(new GasUse(kind, name, hash, await GasOfAsync(hash, ct)));
                }
            }

            var payout = (await settlement.PayoutOfAsync(job, ct))!;
            fees += BigInteger.Parse(payout.OperatorFee, CultureInfo.InvariantCulture);
            BigInteger sum = 0;
            foreach (var e in payout.Entries)
            {
                var amount = BigInteger.Parse(e.Amount, CultureInfo.InvariantCulture);
                sum += amount;
                var prior = earnings.GetValueOrDefault(e.ParticipantId, (e.Address, BigInteger.Zero, 0L, 0L));
                earnings[e.ParticipantId] = (e.Address, prior.Item2 + amount, prior.Item3 + (kind == "query" ? e.Weight : 0), prior.Item4 + (kind == "training" ? e.Weight : 0));
                exact &= await _settlement.IsClaimedAsync(SettlementChain.JobId(job), Address.Parse(e.Address), ct);
            }

            exact &= sum == BigInteger.Parse(payout.TotalPayout, CultureInfo.InvariantCulture) && payout.Unpaid.Count == 0;
            _report.Check($"{kind} job settled", true, $"escrow → commit → finalize (one payout root) → claims: {payout.Entries.Count} contributors, fee {Ether(BigInteger.Parse(payout.OperatorFee, CultureInfo.InvariantCulture))} ETH to the treasury");
        }

        // every payout address holds exactly what it earned (the participants never sent a transaction)
        int matched = 0;
        foreach (var (participant, e) in earnings)
        {
            if (await _settlement.BalanceAsync(Address.Parse(e.Address), ct) == e.Amount)
            {
                matched++;
            }
        }

        var treasury = await _settlement.BalanceAsync(_deployment.Treasury, ct);
        _report.FeesEther = Ether(fees);
        _report.Check("every contributor paid exactly once", exact && matched == earnings.Count && matched == options.Participants && treasury == fees,
            $"{matched} of {earnings.Count} payout addresses hold exactly their share; treasury {Ether(treasury)} ETH = fees {Ether(fees)} ETH");
        _report.Earners.AddRange(earnings.Select(kv => new Earner(kv.Key, kv.Value.Address, Ether(kv.Value.Amount), kv.Value.Query, kv.Value.Training))
            .OrderByDescending(e => e.Ether).ThenBy(e => e.ParticipantId, StringComparer.Ordinal));

        // a participant's own view of its earnings (proof, claimed)
        using (var participant = Client(_data.People[0].Id, Roles.Participant))
        {
            var mine = await participant.GetEarningsAsync(_data.People[0].Id, ct);
            console.MarkupLine($"{_data.People[0].Id} reads its earnings: {string.Join("; ", mine.Earnings.Select(e => $"{e.JobId}: {Ether(BigInteger.Parse(e.Amount, CultureInfo.InvariantCulture))} ETH, Merkle proof of {e.Proof.Count} hashes, claimed {e.Claimed}"))}");
        }

        long totalGas = _report.Gas.Where(g => g.Job != "consents").Sum(g => g.Gas);
        return $"2 jobs settled ({totalGas:N0} gas), {earnings.Count} contributors paid, fees {Ether(fees)} ETH";
    }

    private async Task<long> GasOfAsync(string hash, CancellationToken ct) =>
        (long)((await _rpc!.GetTransactionReceiptAsync(Hash32.Parse(hash), ct))?.GasUsed ?? 0);

    // ------------------------------------------------------------------ keep running / tear down

    private async Task KeepRunningAsync(CancellationToken ct)
    {
        await _custodians!.UseAsync(AnalyticsPreset, Enumerable.Range(1, options.Custodians));
        string dashboard = "(no dashboard in this build)";
        using (var probe = new HttpClient { BaseAddress = _http })
        {
            try
            {
                using var response = await probe.GetAsync("/dashboard", ct);
                if (response.StatusCode != System.Net.HttpStatusCode.NotFound)
                {
                    dashboard = $"{_http}dashboard";
                }
            }
            catch (HttpRequestException)
            {
            }
        }

        var table = new Table().Border(TableBorder.Rounded).AddColumn("what").AddColumn("where");
        table.AddRow("coordinator gRPC", _grpc.ToString());
        table.AddRow("REST job API", $"{_http}api/cohorts  ·  OpenAPI {_http}openapi/v1.json");
        table.AddRow("dashboard", dashboard);
        table.AddRow("health", $"{_http}healthz");
        table.AddRow("chain (hardhat)", $"{_chain!.RpcUrl} (chain id {_deployment.ChainId}); deployment {Path.Combine(_directory, "deployment.json")}");
        table.AddRow("tokens", "below, one per line (bearer tokens of the development issuer, valid for a day)");
        console.Write(table);
        var raw = console.Profile.Out.Writer; // unwrapped, so that the tokens can be copied
        raw.WriteLine("operator token:   " + _issuer!.CreateToken("operator-1", Roles.Operator, TimeSpan.FromDays(1)));
        raw.WriteLine("researcher token: " + _issuer.CreateToken("researcher-1", Roles.Researcher, TimeSpan.FromDays(1)));
        console.MarkupLine($"try: [grey]./privatehealth researcher quote --address {_grpc} --cohort {CohortId} --query \"SELECT COUNT(*), AVG(resting_hr) FROM {CohortId} GROUP BY label\" --epsilon 5 --token <researcher token>[/]");
        console.MarkupLine("[bold]The coordinator, the custodians and the chain keep running; press Ctrl+C to stop.[/]");
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task TearDownAsync(bool ownsDirectory)
    {
        if (_custodians is not null)
        {
            await _custodians.DisposeAsync();
        }

        if (_app is not null)
        {
            try
            {
                await _app.StopAsync();
            }
            catch (OperationCanceledException)
            {
            }

            await _app.DisposeAsync();
        }

        foreach (var agent in _agents)
        {
            agent?.Dispose();
        }

        _rpc?.Dispose();
        if (_chain is not null)
        {
            await _chain.DisposeAsync();
        }

        _issuer?.Dispose();
        if (ownsDirectory)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
