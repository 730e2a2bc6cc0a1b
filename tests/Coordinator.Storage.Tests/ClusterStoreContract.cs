using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The behaviour every store must have as <see cref="IPresenceStore"/> and <see cref="ILeaseStore"/> (decision 0018),
/// and the fencing of the versioned updates under <see cref="StoreFence"/>. <see cref="ReopenStoreAsync"/> opens a
/// second instance on the same database: the second node.
/// </summary>
/// <remarks>
/// No test waits for a TTL to run out in real time, and none relies on a TTL not running out before the next call: a
/// lease or presence that must still hold has minutes to live, and expiry is forced with <see cref="AdvanceTimeAsync"/>
/// (the SQLite store reads a manual clock; the PostgreSQL store uses the database clock, so there the stored expiry
/// times are moved back instead). <see cref="Short"/> &lt; <see cref="Expire"/> &lt; <see cref="Long"/>, so one advance
/// expires what was given the short TTL and nothing given the long one, and only if the store computed the expiry
/// from the TTL it was given.
/// </remarks>
public abstract class ClusterStoreContract : IAsyncLifetime
{
    private readonly List<ICoordinatorStore> _opened = [];

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract Task<ICoordinatorStore> CreateStoreAsync();

    protected abstract Task<ICoordinatorStore> ReopenStoreAsync();

    /// <summary>
    /// Makes <paramref name="by"/> pass for the store's lease and presence expiry, on every instance of the database: a
    /// lease or presence that had less than that to live is expired afterwards, one that had more still holds.
    /// </summary>
    protected abstract Task AdvanceTimeAsync(TimeSpan by);

    /// <summary>The current time of the clock the store compares expiry times with.</summary>
    protected abstract Task<DateTimeOffset> StoreNowAsync();

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    private async Task<(ICoordinatorStore A, ICoordinatorStore B)> TwoNodesAsync()
    {
        var a = await CreateStoreAsync();
        _opened.Add(a);
        var b = await ReopenStoreAsync();
        _opened.Add(b);
        return (a, b);
    }

    /// <summary>A TTL that outlives <see cref="Expire"/>.</summary>
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(30);

    /// <summary>A TTL that <see cref="Expire"/> runs out, yet long enough never to run out by itself during a test.</summary>
    private static readonly TimeSpan Short = TimeSpan.FromMinutes(5);

    /// <summary>How far <see cref="AdvanceTimeAsync"/> moves to expire what has <see cref="Short"/> (and not <see cref="Long"/>).</summary>
    private static readonly TimeSpan Expire = TimeSpan.FromMinutes(10);

    private static PresenceEntry P(string id) => new(PresenceKinds.Participant, id);

    private static PresenceEntry C(int party) => new(PresenceKinds.Custodian, party.ToString(System.Globalization.CultureInfo.InvariantCulture));

    // ---- presence

    [Fact]
    public async Task Presence_IsTheUnionOfAllNodes_DistinctAndOrdered()
    {
        var (a, b) = await TwoNodesAsync();
        await ((IPresenceStore)a).HeartbeatAsync("node-a", [P("p-2"), C(1), P("p-1")], Long, Ct);
        await ((IPresenceStore)b).HeartbeatAsync("node-b", [P("p-1"), C(3)], Long, Ct);

        foreach (var store in new[] { a, b })
        {
            Assert.Equal([C(1), C(3), P("p-1"), P("p-2")], await ((IPresenceStore)store).ListPresenceAsync(Ct));
        }
    }

    [Fact]
    public async Task Presence_HeartbeatReplacesTheNodesRows_OthersStay()
    {
        var (a, b) = await TwoNodesAsync();
        var pa = (IPresenceStore)a;
        await pa.HeartbeatAsync("node-a", [P("p-1"), P("p-2")], Long, Ct);
        await ((IPresenceStore)b).HeartbeatAsync("node-b", [P("p-2")], Long, Ct);

        await pa.HeartbeatAsync("node-a", [P("p-3")], Long, Ct);
        Assert.Equal([P("p-2"), P("p-3")], await pa.ListPresenceAsync(Ct));

        await pa.HeartbeatAsync("node-a", [], Long, Ct);
        Assert.Equal([P("p-2")], await pa.ListPresenceAsync(Ct));

        await ((IPresenceStore)b).RemovePresenceNodeAsync("node-b", Ct);
        Assert.Empty(await pa.ListPresenceAsync(Ct));
    }

    [Fact]
    public async Task Presence_OfANodeThatStopsHeartbeating_Expires()
    {
        var (a, b) = await TwoNodesAsync();
        await ((IPresenceStore)a).HeartbeatAsync("node-a", [C(2)], Short, Ct);
        await ((IPresenceStore)b).HeartbeatAsync("node-b", [C(1)], Long, Ct);
        Assert.Equal([C(1), C(2)], await ((IPresenceStore)b).ListPresenceAsync(Ct));

        await AdvanceTimeAsync(Expire);

        Assert.Equal([C(1)], await ((IPresenceStore)b).ListPresenceAsync(Ct));
        Assert.Equal([C(1)], await ((IPresenceStore)a).ListPresenceAsync(Ct));

        // a node that heartbeats again is present again
        await ((IPresenceStore)a).HeartbeatAsync("node-a", [C(2)], Short, Ct);
        Assert.Equal([C(1), C(2)], await ((IPresenceStore)b).ListPresenceAsync(Ct));
    }

    // ---- leases

    [Fact]
    public async Task Lease_IsExclusive_UntilReleased_ThenTheTokenGrows()
    {
        var (a, b) = await TwoNodesAsync();
        var la = (ILeaseStore)a;
        var lb = (ILeaseStore)b;

        var first = await la.TryAcquireLeaseAsync("job:j-1", "node-a", Long, Ct);
        Assert.NotNull(first);
        Assert.Equal("node-a", first.Owner);
        Assert.Equal(1, first.Token);
        Assert.Null(await lb.TryAcquireLeaseAsync("job:j-1", "node-b", Long, Ct));

        // re-acquiring one's own lease extends it with the same token
        var again = await la.TryAcquireLeaseAsync("job:j-1", "node-a", Long, Ct);
        Assert.Equal(1, again!.Token);

        Assert.True(await la.ReleaseLeaseAsync("job:j-1", "node-a", 1, Ct));
        Assert.False(await la.ReleaseLeaseAsync("job:j-1", "node-a", 1, Ct));
        Assert.Null(await la.RenewLeaseAsync("job:j-1", "node-a", 1, Long, Ct));

        var second = await lb.TryAcquireLeaseAsync("job:j-1", "node-b", Long, Ct);
        Assert.Equal(2, second!.Token);
        Assert.Equal("node-b", (await la.GetLeaseAsync("job:j-1", Ct))!.Owner);

        // other resources are independent
        Assert.Equal(1, (await la.TryAcquireLeaseAsync("job:j-2", "node-a", Long, Ct))!.Token);
        Assert.Null(await la.GetLeaseAsync("job:none", Ct));
    }

    [Fact]
    public async Task Lease_Expired_IsTakenOver_AndTheOldHolderCanNeitherRenewNorRelease()
    {
        var (a, b) = await TwoNodesAsync();
        var la = (ILeaseStore)a;
        var lb = (ILeaseStore)b;
        var old = await la.TryAcquireLeaseAsync("query:q-1", "node-a", Short, Ct);
        Assert.NotNull(old);
        Assert.Null(await lb.TryAcquireLeaseAsync("query:q-1", "node-b", Long, Ct));

        await AdvanceTimeAsync(Expire);
        var taken = await lb.TryAcquireLeaseAsync("query:q-1", "node-b", Long, Ct);

        Assert.NotNull(taken);
        Assert.Equal(old!.Token + 1, taken.Token);
        Assert.Null(await la.RenewLeaseAsync("query:q-1", "node-a", old.Token, Long, Ct));
        Assert.False(await la.ReleaseLeaseAsync("query:q-1", "node-a", old.Token, Ct));
        Assert.Null(await la.TryAcquireLeaseAsync("query:q-1", "node-a", Long, Ct));
        Assert.Equal(taken.Token, (await lb.RenewLeaseAsync("query:q-1", "node-b", taken.Token, Long, Ct))!.Token);
    }

    [Fact]
    public async Task Lease_ExpiredButNotTakenOver_CanStillBeRenewedWithItsToken()
    {
        var (a, _) = await TwoNodesAsync();
        var la = (ILeaseStore)a;
        var lease = await la.TryAcquireLeaseAsync("keyset:ks-1", "node-a", Short, Ct);
        await AdvanceTimeAsync(Expire);
        Assert.True((await la.GetLeaseAsync("keyset:ks-1", Ct))!.ExpiresAt <= await StoreNowAsync());

        var renewed = await la.RenewLeaseAsync("keyset:ks-1", "node-a", lease!.Token, Long, Ct);

        Assert.Equal(lease.Token, renewed!.Token);
        Assert.True(renewed.ExpiresAt > await StoreNowAsync() + Long - TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Lease_ConcurrentAcquirers_ExactlyOneWins_AndTokensNeverRepeat()
    {
        var (a, b) = await TwoNodesAsync();
        var tokens = new List<long>();
        for (int attempt = 0; attempt < 6; attempt++)
        {
            // A TTL that cannot run out while the acquirers queue up, so a second winner can only come from a broken lease.
            var tasks = Enumerable.Range(0, 8)
                .Select(i => ((ILeaseStore)(i % 2 == 0 ? a : b)).TryAcquireLeaseAsync("job:race", $"node-{attempt}-{i}", Long, Ct))
                .ToList();
            var results = await Task.WhenAll(tasks);
            var winner = Assert.Single(results, r => r is not null)!;
            Assert.Equal(winner.Owner, (await ((ILeaseStore)b).GetLeaseAsync("job:race", Ct))!.Owner);
            Assert.Equal(winner.Token, (await ((ILeaseStore)a).GetLeaseAsync("job:race", Ct))!.Token);
            tokens.Add(winner.Token);

            // the next round races for a lease that was released or that expired
            if (attempt % 2 == 0)
            {
                Assert.True(await ((ILeaseStore)a).ReleaseLeaseAsync("job:race", winner.Owner!, winner.Token, Ct));
            }
            else
            {
                await AdvanceTimeAsync(Long + Expire);
            }
        }

        Assert.Equal(tokens.Order().ToList(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
        Assert.Equal([1, 2, 3, 4, 5, 6], tokens);
    }

    [Fact]
    public async Task Lease_InvalidArguments_Throw()
    {
        var (a, _) = await TwoNodesAsync();
        var la = (ILeaseStore)a;
        await Assert.ThrowsAnyAsync<ArgumentException>(() => la.TryAcquireLeaseAsync("", "o", Long, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => la.TryAcquireLeaseAsync("r", "", Long, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => la.TryAcquireLeaseAsync("r", "o", TimeSpan.Zero, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => ((IPresenceStore)a).HeartbeatAsync("", [], Long, Ct));
    }

    // ---- fencing

    private static JobRecord Job(string id) => new()
    {
        JobId = id,
        KeySetId = "ks-1",
        Spec = [1],
        State = JobState.Running,
        GlobalModel = [0.5],
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    [Fact]
    public async Task Fence_AHolderThatLostItsLease_CannotCommitJobRoundOrKeySetUpdates()
    {
        var (a, b) = await TwoNodesAsync();
        var job = await a.CreateJobAsync(Job("job-1"), Ct);
        Assert.True(await a.CreateRoundAsync(
            new RoundRecord { JobId = "job-1", Round = 0, State = RoundState.Open, Selected = ["p-1"], OpenedAt = DateTimeOffset.UnixEpoch, Deadline = DateTimeOffset.UnixEpoch.AddHours(1) },
            Ct));
        await a.CreateKeySetAsync(new KeySetRecord { KeySetId = "ks-1", Preset = "x", Members = 3, Threshold = 2, State = "running", Phase = "public-key" }, Ct);
        var round = (await a.GetRoundAsync("job-1", 0, Ct))!;
        var ks = (await a.GetKeySetAsync("ks-1", Ct))!;

        var old = await ((ILeaseStore)a).TryAcquireLeaseAsync("job:job-1", "node-a", Short, Ct);
        using (StoreFence.Enter(old!))
        {
            // holding the lease: fenced writes go through
            job = await a.UpdateJobAsync(job with { Message = "by a" }, Ct);
            Assert.NotNull(job);
        }

        await AdvanceTimeAsync(Expire);
        var taken = await ((ILeaseStore)b).TryAcquireLeaseAsync("job:job-1", "node-b", Long, Ct);
        Assert.NotNull(taken);

        using (StoreFence.Enter(old!))
        {
            Assert.Null(await a.UpdateJobAsync(job! with { Message = "stale a" }, Ct));
            Assert.Null(await a.UpdateRoundAsync(round with { State = RoundState.Closed }, Ct));
            Assert.Null(await a.UpdateKeySetAsync(ks with { Phase = "done" }, Ct));
        }

        Assert.Equal("by a", (await b.GetJobAsync("job-1", Ct))!.Message);
        Assert.Equal(RoundState.Open, (await b.GetRoundAsync("job-1", 0, Ct))!.State);
        Assert.Equal("public-key", (await b.GetKeySetAsync("ks-1", Ct))!.Phase);

        using (StoreFence.Enter(taken))
        {
            Assert.NotNull(await b.UpdateJobAsync(job! with { Message = "by b" }, Ct));
            Assert.NotNull(await b.UpdateRoundAsync(round with { State = RoundState.Closed }, Ct));
        }

        // unfenced writes (operator calls) remain plain compare-and-set
        Assert.NotNull(await a.UpdateKeySetAsync(ks with { Phase = "done" }, Ct));
        Assert.Null(StoreFence.Current);
    }

    [Fact]
    public async Task Fence_AppliesToQueryJobsAndCohortAggregates()
    {
        var (a, b) = await TwoNodesAsync();
        var cohorts = (ICohortStore)a;
        var queries = (IQueryJobStore)a;
        await cohorts.CreateCohortAsync(new CohortRecord { CohortId = "c-1", KeySetId = "ks", SchemaJson = "{}", State = "open", EpsilonBudget = 10, DeltaBudget = 1e-3 }, Ct);
        var now = DateTimeOffset.UtcNow;
        await queries.CreateQuoteAsync(new QuoteRecord
        {
            QuoteId = "q-1", CohortId = "c-1", ResearcherId = "r-1", Kind = "query", Request = "SELECT COUNT(*) FROM cohort", Epsilon = 0.1, Delta = 1e-6,
            PriceMicros = 1, CreatedAt = now, ExpiresAt = now.AddHours(1),
        }, Ct);
        var (qj, _) = await queries.CreateQueryJobAsync(new QueryJobRecord
        {
            JobId = "qj-1", QuoteId = "q-1", CohortId = "c-1", ResearcherId = "r-1", QueryText = "SELECT COUNT(*) FROM cohort", ResearcherPublicKey = [1],
            State = "pending", CreatedAt = now, UpdatedAt = now,
        }, now, Ct);

        var old = await ((ILeaseStore)a).TryAcquireLeaseAsync("query:qj-1", "node-a", Short, Ct);
        var oldCohort = await ((ILeaseStore)a).TryAcquireLeaseAsync("cohort:c-1", "node-a", Short, Ct);
        await AdvanceTimeAsync(Expire);
        Assert.NotNull(await ((ILeaseStore)b).TryAcquireLeaseAsync("query:qj-1", "node-b", Long, Ct));
        Assert.NotNull(await ((ILeaseStore)b).TryAcquireLeaseAsync("cohort:c-1", "node-b", Long, Ct));

        using (StoreFence.Enter(old!))
        {
            Assert.Null(await queries.UpdateQueryJobAsync(qj! with { State = "running" }, Ct));
        }

        using (StoreFence.Enter(oldCohort!))
        {
            Assert.Null(await cohorts.SaveCohortAggregateAsync(new CohortAggregateRecord { CohortId = "c-1", Contributors = 0, ThroughSequence = 0, Version = 0 }, Ct));
        }

        using (StoreFence.Enter(old!))
        {
            Assert.False(await cohorts.TrySpendBudgetAsync("c-1", "qj-1", 1, 1e-6, Ct));
        }

        Assert.Equal(0, (await ((ICohortStore)b).GetCohortAsync("c-1", Ct))!.EpsilonSpent);
        Assert.True(await cohorts.TrySpendBudgetAsync("c-1", "qj-1", 1, 1e-6, Ct));

        Assert.Equal("pending", (await ((IQueryJobStore)b).GetQueryJobAsync("qj-1", Ct))!.State);
        Assert.NotNull(await queries.UpdateQueryJobAsync(qj! with { State = "running" }, Ct));
    }
}
