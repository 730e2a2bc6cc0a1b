using System.Reflection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// <see cref="JobLeases"/> over a SQLite store in cluster mode (the lease logic is the same as over PostgreSQL): every
/// held lease is renewed in the background, a failed renewal is retried, a lost lease cancels its step, two processes
/// with one node id are two owners, and a failing key ceremony neither stops the pass nor keeps its lease. The tests
/// wait on state (the lease row), never on a fixed delay.
/// </summary>
public sealed class JobLeasesTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ph-leases-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<JobLeases> _leases = [];
    private SqliteCoordinatorStore _store = null!;
    private FaultyStore _faulty = null!;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _store = await SqliteCoordinatorStore.CreateAsync(Path.Combine(_dir, "coordinator.db"), Ct);
        _faulty = FaultyStore.Wrap(_store);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var l in _leases)
        {
            await l.DisposeAsync();
        }

        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private JobLeases NewLeases(string nodeId = "node-0", double ttlSeconds = 3)
    {
        var options = Options.Create(new CoordinatorOptions { NodeId = nodeId, Cluster = true, LeaseTtl = TimeSpan.FromSeconds(ttlSeconds) });
        var leases = new JobLeases((ICoordinatorStore)_faulty, options, NullLogger<JobLeases>.Instance);
        _leases.Add(leases);
        return leases;
    }

    private async Task<LeaseRecord> RowAsync(string resource) => (await _store.GetLeaseAsync(resource, Ct))!;

    [Fact]
    public async Task EveryHeldLease_IsRenewedInTheBackground_WhileNoStepOfItRuns()
    {
        var leases = NewLeases();
        foreach (var r in new[] { "test:a", "test:b" })
        {
            using var step = (await leases.TryAcquireAsync(r, Ct))!.Enter();
        }

        var a = await RowAsync("test:a");
        var b = await RowAsync("test:b");
        // no step runs and nobody calls TryAcquireAsync again: only the background renewal can move the expiries
        await ClusterNodes.WaitUntilAsync(
            async () => (await RowAsync("test:a")).ExpiresAt > a.ExpiresAt && (await RowAsync("test:b")).ExpiresAt > b.ExpiresAt,
            Patience,
            "background renewal of both leases");
        Assert.Equal(a.Token, (await RowAsync("test:a")).Token);
        Assert.Equal(leases.LeaseOwner, (await RowAsync("test:b")).Owner);
    }

    [Fact]
    public async Task ARenewalError_IsRetried_AndALostLease_CancelsTheStep()
    {
        var leases = NewLeases();
        using var step = (await leases.TryAcquireAsync("test:step", Ct))!.Enter();
        Assert.False(step.Token.IsCancellationRequested);

        // the database fails every renewal for a while: the loop keeps trying (it used to end at the first error)
        _faulty.FailRenewals = true;
        await ClusterNodes.WaitUntilAsync(() => Task.FromResult(_faulty.RenewalFailures >= 3), Patience, "three failed renewals");
        var before = await RowAsync("test:step");
        _faulty.FailRenewals = false;
        await ClusterNodes.WaitUntilAsync(async () => (await RowAsync("test:step")).ExpiresAt > before.ExpiresAt, Patience, "renewal after the errors");
        Assert.False(step.Token.IsCancellationRequested);

        // the lease moves to another owner behind this node's back (as after a pause longer than the TTL)
        var held = await RowAsync("test:step");
        Assert.True(await _store.ReleaseLeaseAsync("test:step", leases.LeaseOwner, held.Token, Ct));
        Assert.NotNull(await _store.TryAcquireLeaseAsync("test:step", "node-9#other", TimeSpan.FromMinutes(1), Ct));
        await ClusterNodes.WaitUntilAsync(() => Task.FromResult(step.Token.IsCancellationRequested), Patience, "the step told that its lease is lost");
        Assert.DoesNotContain("test:step", leases.HeldResources);
        Assert.Null(await leases.TryAcquireAsync("test:step", Ct));
    }

    [Fact]
    public async Task TwoProcessesWithOneNodeId_AreTwoLeaseOwners()
    {
        var first = NewLeases("node-1");
        var second = NewLeases("node-1");
        Assert.StartsWith("node-1#", first.LeaseOwner, StringComparison.Ordinal);
        Assert.NotEqual(first.LeaseOwner, second.LeaseOwner);
        Assert.Equal(1, CoordinatorProcess.NodeIndex(first.LeaseOwner));

        Assert.NotNull(await first.TryAcquireAsync("job:shared", Ct));
        Assert.Null(await second.TryAcquireAsync("job:shared", Ct)); // used to succeed with the same fencing token
        Assert.Equal(first.LeaseOwner, (await RowAsync("job:shared")).Owner);
    }

    [Fact]
    public async Task Dispose_StopsRenewingAndReleasesEveryLease()
    {
        var leases = NewLeases();
        Assert.NotNull(await leases.TryAcquireAsync("test:x", Ct));
        await leases.DisposeAsync();
        Assert.Null((await RowAsync("test:x")).Owner);
        Assert.Null(await leases.TryAcquireAsync("test:x", Ct)); // a node shutting down takes no more leases
    }

    [Fact]
    public async Task AFailingKeyCeremony_DoesNotStopThePass_AndGivesUpItsLease()
    {
        var leases = NewLeases();
        var now = DateTimeOffset.UtcNow;
        await _store.CreateKeySetAsync(new KeySetRecord { KeySetId = "ks-bad", Preset = "TrainingLogN12LogQP109", Members = 1, Threshold = 1, State = "running", Phase = "registration", Data = "not json", CreatedAt = now }, Ct);
        await _store.CreateKeySetAsync(new KeySetRecord
        {
            KeySetId = "ks-good", Preset = "TrainingLogN12LogQP109", Members = 1, Threshold = 1, State = "running", Phase = "registration",
            Data = """{"CrsSeed":"00","Rotations":[],"Relinearization":false}""", CreatedAt = now,
        }, Ct);
        var ceremony = new KeyCeremonyService(_store, new KeySetRegistry(_store), new PresenceTracker(), new CustodianTaskBoard(), TimeProvider.System, NullLogger<KeyCeremonyService>.Instance, leases);

        await ceremony.StepAllAsync(Ct); // used to throw at the bad key set, before the good one was stepped

        Assert.StartsWith("waiting for custodians", (await _store.GetKeySetAsync("ks-good", Ct))!.Message, StringComparison.Ordinal);
        Assert.Contains("keyset:ks-good", leases.HeldResources);
        Assert.DoesNotContain("keyset:ks-bad", leases.HeldResources);
        Assert.Null((await RowAsync("keyset:ks-bad")).Owner); // released: another node may try it
    }

    /// <summary>Forwards to the real store; renewals throw while <see cref="FailRenewals"/> is set.</summary>
    public class FaultyStore : DispatchProxy
    {
        private object _inner = null!;
        private int _failures;

        public bool FailRenewals { get; set; }

        public int RenewalFailures => Volatile.Read(ref _failures);

        public static FaultyStore Wrap(SqliteCoordinatorStore inner)
        {
            var proxy = Create<ILeasingStore, FaultyStore>();
            var faulty = (FaultyStore)(object)proxy;
            faulty._inner = inner;
            return faulty;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name == nameof(ILeaseStore.RenewLeaseAsync) && FailRenewals)
            {
                Interlocked.Increment(ref _failures);
                return Task.FromException<LeaseRecord?>(new IOException("connection reset (injected)"));
            }

            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                throw ex.InnerException;
            }
        }
    }

    /// <summary>What the proxy implements.</summary>
    public interface ILeasingStore : ICoordinatorStore, ILeaseStore
    {
    }
}
