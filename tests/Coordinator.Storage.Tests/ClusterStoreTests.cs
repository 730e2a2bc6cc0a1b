using Microsoft.Data.Sqlite;
using PrivateHealth.Coordinator.Storage.Postgres;
using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>The cluster contract on a SQLite file (two store instances on one file).</summary>
[Collection(SqlitePoolsCollection.Name)]
public sealed class SqliteClusterStoreTests : ClusterStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ph-cluster-tests-" + Guid.NewGuid().ToString("N"));

    /// <summary>The clock of both store instances (the store's lease and presence times are this clock's).</summary>
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);

    private string DatabasePath => Path.Combine(_directory, "coordinator.db");

    protected override async Task<ICoordinatorStore> CreateStoreAsync() => await SqliteCoordinatorStore.CreateAsync(DatabasePath, _clock, Ct);

    protected override async Task<ICoordinatorStore> ReopenStoreAsync() => await SqliteCoordinatorStore.CreateAsync(DatabasePath, _clock, Ct);

    protected override Task AdvanceTimeAsync(TimeSpan by)
    {
        _clock.Advance(by);
        return Task.CompletedTask;
    }

    protected override Task<DateTimeOffset> StoreNowAsync() => Task.FromResult(_clock.GetUtcNow());

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>The cluster contract on PostgreSQL (two store instances on one schema = two nodes), plus the batch claim.</summary>
public sealed class PostgresClusterStoreTests : ClusterStoreContract
{
    private readonly PostgresTestSchemas _db = new();

    protected override async Task<ICoordinatorStore> CreateStoreAsync() => await _db.CreateStoreAsync(Ct);

    protected override async Task<ICoordinatorStore> ReopenStoreAsync() => await _db.ReopenStoreAsync(Ct);

    /// <summary>
    /// The store compares with the database clock (<c>clock_timestamp()</c>), which cannot be moved: every stored
    /// lease and presence expiry is moved back instead, which is the same for the store as the clock moving forward.
    /// </summary>
    protected override Task AdvanceTimeAsync(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        var interval = $"interval '{(long)by.TotalMilliseconds} milliseconds'";
        return _db.ExecuteAsync($"UPDATE leases SET expires_at = expires_at - {interval}; UPDATE presence SET expires_at = expires_at - {interval};");
    }

    protected override async Task<DateTimeOffset> StoreNowAsync() =>
        new(DateTime.SpecifyKind(await _db.ScalarAsync<DateTime>("SELECT clock_timestamp();"), DateTimeKind.Utc));

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task ClaimLeases_TwoNodesAtOnce_SplitTheWorkWithoutOverlap()
    {
        await using var a = await _db.CreateStoreAsync(Ct);
        await using var b = await _db.ReopenStoreAsync(Ct);
        var resources = Enumerable.Range(0, 40).Select(i => $"job:j-{i:D2}").ToList();
        // half exist already (free), half are new rows
        foreach (var r in resources.Take(20))
        {
            var l = await a.TryAcquireLeaseAsync(r, "seed", TimeSpan.FromMinutes(1), Ct);
            Assert.True(await a.ReleaseLeaseAsync(r, "seed", l!.Token, Ct));
        }

        var claims = await Task.WhenAll(
            a.ClaimLeasesAsync(resources, "node-a", TimeSpan.FromMinutes(1), 25, Ct),
            b.ClaimLeasesAsync(resources, "node-b", TimeSpan.FromMinutes(1), 25, Ct));

        var all = claims.SelectMany(c => c).ToList();
        Assert.Equal(all.Count, all.Select(l => l.Resource).Distinct().Count());
        Assert.All(claims, c => Assert.True(c.Count <= 25));
        Assert.All(all.Where(l => resources.Take(20).Contains(l.Resource)), l => Assert.Equal(2, l.Token));
        // whatever is left over is claimable afterwards, and nothing is claimed twice
        var rest = await a.ClaimLeasesAsync(resources, "node-c", TimeSpan.FromMinutes(1), 40, Ct);
        Assert.Equal(40, all.Count + rest.Count);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task ClaimLeases_RefusesAMaximumBelowOne(int max)
    {
        await using var store = await _db.CreateStoreAsync(Ct);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ClaimLeasesAsync(["job:x"], "node-a", TimeSpan.FromMinutes(1), max, Ct));
        Assert.Null(await store.GetLeaseAsync("job:x", Ct));
    }
}
