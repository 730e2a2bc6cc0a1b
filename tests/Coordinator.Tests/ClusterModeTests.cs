using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Testing;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// Two in-process coordinator nodes in cluster mode over one PostgreSQL schema (decision 0018): presence on one node is
/// seen by the other within about a heartbeat, and what one node writes reaches the watchers of the other within about
/// a wake interval. The nodes run with a short heartbeat (<see cref="PresenceInterval"/>) and wake interval
/// (<see cref="WakeInterval"/>) and the latency bounds are many of those intervals, so a loaded machine does not fail
/// them; each bound stays below what the latency would be without the mechanism under test (see the tests).
/// </summary>
public sealed class ClusterModeTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan PresenceInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan WakeInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Rows are refreshed once less than half of it remains, so a departure noticed only when they expire would take
    /// at least 15 s: far beyond the presence test's bound.
    /// </summary>
    private static readonly TimeSpan PresenceTtl = TimeSpan.FromSeconds(30);

    private readonly DevelopmentTokenIssuer _issuer = new();
    private readonly List<WebApplication> _apps = [];
    private readonly List<Uri> _addresses = [];
    private PostgresServer _pg = null!;
    private string _schema = "";
    private string _dir = "";

    public async ValueTask InitializeAsync()
    {
        _pg = await PostgresServer.SharedAsync();
        _schema = PostgresServer.NewSchemaName("ph_cluster");
        _dir = Path.Combine(Path.GetTempPath(), "ph-cluster-" + Guid.NewGuid().ToString("N")[..10]);
        for (int n = 0; n < 2; n++)
        {
            var app = CoordinatorApp.Build(
            [
                $"--Coordinator:DataDirectory={Path.Combine(_dir, $"node-{n}")}",
                "--Coordinator:GrpcPort=0",
                "--Coordinator:HttpPort=-1",
                "--Coordinator:TickInterval=00:00:00.100",
                $"--Coordinator:PresenceInterval={PresenceInterval:c}",
                $"--Coordinator:PresenceTtl={PresenceTtl:c}",
                $"--Coordinator:WakeInterval={WakeInterval:c}",
                "--Coordinator:StoreProvider=postgres",
                $"--Coordinator:PostgresConnectionString={_pg.ConnectionStringWith(16)}",
                $"--Coordinator:PostgresSchema={_schema}",
                $"--Coordinator:NodeId=node-{n}",
                "--Logging:LogLevel:Default=Warning",
            ], _issuer, n == 0 ? WithoutStateMachines : null);
            _addresses.Add(await CoordinatorApp.StartAsync(app, Ct));
            _apps.Add(app);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }

        await _pg.DropSchemaAsync(_schema, CancellationToken.None);
        _issuer.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    /// <summary>
    /// Node 0 runs no state machine (ceremonies and jobs are all stepped by node 1): a node that steps a job wakes its
    /// own watchers, so node 0 stepping a job written by node 1 would announce it to node 0's watchers without the
    /// cluster wake under test.
    /// </summary>
    private static void WithoutStateMachines(WebApplicationBuilder builder) =>
        builder.Services.Remove(builder.Services.Single(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && d.ImplementationType == typeof(CoordinatorWorker)));

    private PresenceTracker Presence(int node) => _apps[node].Services.GetRequiredService<PresenceTracker>();

    [Fact]
    public async Task PresenceOnOneNode_IsSeenByTheOther_AndGoesAwayWithTheConnection()
    {
        // a connection is seen by the other node at its next heartbeat (every 200 ms here), a disconnection as well; the
        // bound is 25 heartbeats, and a third of the presence TTL: a disconnection seen only once the rows expire fails it
        var bound = TimeSpan.FromSeconds(5);
        Assert.True(bound < PresenceTtl / 2);
        var seen = Stopwatch.StartNew();
        var participant = Presence(0).ParticipantConnected("p-1");
        var custodian = Presence(0).CustodianConnected(2);
        await WaitUntilAsync(() => Presence(1).IsParticipantOnline("p-1") && Presence(1).OnlineCustodians.SequenceEqual([2]), 2 * bound);
        var arrived = seen.Elapsed;
        Assert.Equal(1, Presence(1).OnlineParticipantCount);

        // the same participant on both nodes counts once
        using (Presence(1).ParticipantConnected("p-1"))
        {
            Assert.Equal(1, Presence(1).OnlineParticipantCount);
        }

        seen.Restart();
        participant.Dispose();
        custodian.Dispose();
        await WaitUntilAsync(() => !Presence(1).IsParticipantOnline("p-1") && Presence(1).OnlineCustodians.Count == 0, 2 * bound);
        var left = seen.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"heartbeat every {PresenceInterval.TotalMilliseconds:F0} ms: connect seen by the other node after {arrived.TotalMilliseconds:F0} ms, disconnect after {left.TotalMilliseconds:F0} ms");
        Assert.True(arrived < bound, $"connect seen after {arrived}");
        Assert.True(left < bound, $"disconnect seen after {left}");
    }

    [Fact]
    public async Task AJobCreatedOnOneNode_ReachesAWatcherOnTheOther_AtItsNextWake()
    {
        // custodians on node 0; the ceremony and the jobs are started through node 1 and stepped by it
        var retry = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(400) };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var runners = new List<CustodianRunner>();
        for (int party = 1; party <= 3; party++)
        {
            var runner = new CustodianRunner(new CoordinatorClient(_addresses[0], _issuer.CreateToken($"custodian-{party}", Roles.Custodian)), $"custodian-{party}", party,
                CoordinatorHarness.TrainingParameters, new InMemoryCustodianVault(), retry);
            runners.Add(runner);
            _ = Task.Run(() => runner.RunAsync(stop.Token), stop.Token);
        }

        using var op = new CoordinatorClient(_addresses[1], _issuer.CreateToken("operator-1", Roles.Operator));
        var ceremony = await retry.RunAsync(c => op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Preset = "TrainingLogN12LogQP109", Members = 3, Threshold = 2 }, c), Ct);
        await CoordinatorHarness.WaitForCeremonyAsync(op, ceremony.KeySetId, Ct);

        // a first job exists before the watch opens: the stream's first read of the store announces it, so receiving
        // it proves the stream is open and done with that read; the second job, created after, can only reach it
        // through a later read
        var spec = new TrainingJobSpec { CohortId = "cluster-cohort", Model = "logistic", Features = 3, Rounds = 1, SampleFraction = 1, MinParticipants = 1, RoundDeadlineMs = 60_000, Strategy = "fedavg", Seed = 1 };
        var first = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = ceremony.KeySetId }, Ct);
        using var watcher = new CoordinatorClient(_addresses[0], _issuer.CreateToken("p-1", Roles.Participant));
        var announced = System.Threading.Channels.Channel.CreateUnbounded<(string JobId, long At)>();
        var watch = Task.Run(async () =>
        {
            try
            {
                await foreach (var a in watcher.WatchJobsAsync("cluster-cohort", "p-1", stop.Token))
                {
                    announced.Writer.TryWrite((a.JobId, Stopwatch.GetTimestamp()));
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException || CoordinatorClient.IsTransient(ex))
            {
            }
        }, Ct);
        Assert.Equal(first.JobId, (await announced.Reader.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct)).JobId);

        // node 0 learns of a job written by node 1 when its cluster wake (every 100 ms here) makes the stream re-read
        // the store. Without that wake the stream re-reads only on its own 5 s timeout, so the bound (30 wake
        // intervals) stays below 5 s: a missing wake fails it
        var bound = TimeSpan.FromSeconds(3);
        long created = Stopwatch.GetTimestamp();
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = ceremony.KeySetId }, Ct);
        var createCall = Stopwatch.GetElapsedTime(created);
        var (jobId, at) = await announced.Reader.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var latency = Stopwatch.GetElapsedTime(created, at);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"wake every {WakeInterval.TotalMilliseconds:F0} ms: job created on node 1 (call took {createCall.TotalMilliseconds:F0} ms) announced on node 0 after {latency.TotalMilliseconds:F0} ms");
        Assert.Equal(job.JobId, jobId);
        Assert.True(latency < bound, $"announced after {latency}");

        await stop.CancelAsync();
        await watch;
        runners.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task AWorkerStepThatLostItsLease_CannotCommit()
    {
        var leases = _apps[0].Services.GetRequiredService<JobLeases>();
        var store = _apps[0].Services.GetRequiredService<ICoordinatorStore>();
        var job = await store.CreateJobAsync(new JobRecord
        {
            JobId = "fence-job", KeySetId = "none", Spec = [1], State = JobState.Completed, GlobalModel = [0], CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, Ct);

        // exactly the workers' pattern: acquire (awaited), enter (synchronously, in the stepping method), write
        async Task<JobRecord?> StepAsync(JobRecord j, string message)
        {
            using var lease = (await leases.TryAcquireAsync("test:fence", Ct))?.Enter();
            if (lease is null)
            {
                return null; // the node's lease renewal already noticed the loss: nothing is stepped either
            }

            Assert.Equal(leases.LeaseOwner, StoreFence.Current?.Owner);
            Assert.StartsWith("node-0#", StoreFence.Current?.Owner, StringComparison.Ordinal);
            return await store.UpdateJobAsync(j with { Message = message }, Ct);
        }

        Assert.NotNull(await leases.TryAcquireAsync("test:fence", Ct));
        job = await StepAsync(job, "step 1");
        Assert.NotNull(job);
        Assert.Null(StoreFence.Current);

        // the lease moves to node 1 behind node 0's back (as after a pause longer than the TTL); node 0 still caches it
        var held = (await ((ILeaseStore)store).GetLeaseAsync("test:fence", Ct))!;
        Assert.True(await ((ILeaseStore)store).ReleaseLeaseAsync("test:fence", leases.LeaseOwner, held.Token, Ct));
        Assert.Equal(held.Token + 1, (await ((ILeaseStore)store).TryAcquireLeaseAsync("test:fence", "node-1", TimeSpan.FromMinutes(1), Ct))!.Token);

        Assert.Null(await StepAsync(job!, "stale step"));
        Assert.Equal("step 1", (await store.GetJobAsync("fence-job", Ct))!.Message);
    }

    [Fact]
    public async Task AWorkerPass_ClaimsTheFreeLeasesInOneStatement_AndSkipsThoseHeldElsewhere()
    {
        var leases0 = _apps[0].Services.GetRequiredService<JobLeases>();
        var leases1 = _apps[1].Services.GetRequiredService<JobLeases>();
        var store = (ILeaseStore)_apps[0].Services.GetRequiredService<ICoordinatorStore>();
        Assert.NotNull(await leases1.TryAcquireAsync("test:c1", Ct));
        var released = (await store.TryAcquireLeaseAsync("test:c2", "gone#1", TimeSpan.FromMinutes(1), Ct))!;
        Assert.True(await store.ReleaseLeaseAsync("test:c2", "gone#1", released.Token, Ct));

        var mine = await leases0.ClaimAsync(["test:c0", "test:c1", "test:c2", "test:c0"], Ct);

        Assert.Equal(["test:c0", "test:c2"], mine!.Order(StringComparer.Ordinal));
        Assert.Equal(leases0.LeaseOwner, (await store.GetLeaseAsync("test:c0", Ct))!.Owner);
        Assert.Equal(released.Token + 1, (await store.GetLeaseAsync("test:c2", Ct))!.Token);
        Assert.Equal(leases1.LeaseOwner, (await store.GetLeaseAsync("test:c1", Ct))!.Owner);
        Assert.Contains("test:c2", leases0.HeldResources);
        using (var step = (await leases0.TryAcquireAsync("test:c2", Ct))?.Enter())
        {
            Assert.Equal(released.Token + 1, StoreFence.Current?.Token);
        }

        // the other node's pass: it keeps what it holds and gets nothing else
        Assert.Equal(["test:c1"], await leases1.ClaimAsync(["test:c0", "test:c1", "test:c2"], Ct));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not reached");
            }

            await Task.Delay(20, Ct);
        }
    }
}
