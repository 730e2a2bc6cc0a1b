using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CoordinatorStoreContract
{
    [Fact]
    public async Task Initialize_CalledAgain_IsIdempotentAndKeepsData()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);

        await store.InitializeAsync(Ct);
        await store.InitializeAsync(Ct);

        AssertJob(Job(), await store.GetJobAsync("job-1", Ct), version: 1);
    }

    [Fact]
    public async Task CreateJob_New_ReturnsStoredRecordWithVersionOne()
    {
        var store = await NewStoreAsync();
        var job = Job() with { Version = 42 };

        var created = await store.CreateJobAsync(job, Ct);

        AssertJob(job, created, version: 1);
        AssertJob(job, await store.GetJobAsync("job-1", Ct), version: 1);
    }

    [Fact]
    public async Task CreateJob_NullOptionalFields_RoundTrip()
    {
        var store = await NewStoreAsync();
        var job = Job() with { StrategyState = null, Message = null, IdempotencyKey = null, GlobalModel = [], Spec = [] };

        await store.CreateJobAsync(job, Ct);

        var stored = await store.GetJobAsync("job-1", Ct);
        AssertJob(job, stored, version: 1);
        Assert.Null(stored!.StrategyState);
        Assert.Empty(stored.GlobalModel);
        Assert.Empty(stored.Spec);
    }

    [Fact]
    public async Task CreateJob_LargeGlobalModel_RoundTripsBitExactly()
    {
        var store = await NewStoreAsync();
        var random = new Random(7);
        var model = Enumerable.Range(0, 100_000).Select(_ => random.NextDouble() - 0.5).ToArray();

        await store.CreateJobAsync(Job() with { GlobalModel = model }, Ct);

        var stored = await store.GetJobAsync("job-1", Ct);
        Assert.Equal(model.Select(BitConverter.DoubleToInt64Bits), stored!.GlobalModel.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public async Task CreateJob_NonUtcOffset_SameInstantReadBack()
    {
        var store = await NewStoreAsync();
        var local = new DateTimeOffset(2026, 3, 4, 7, 6, 7, 891, TimeSpan.FromHours(2));

        await store.CreateJobAsync(Job() with { CreatedAt = local, UpdatedAt = local }, Ct);

        var stored = await store.GetJobAsync("job-1", Ct);
        Assert.Equal(local.UtcDateTime, stored!.CreatedAt.UtcDateTime);
        Assert.Equal(local.UtcDateTime, stored.UpdatedAt.UtcDateTime);
    }

    [Fact]
    public async Task CreateJob_ExistingId_ThrowsStoreConflict()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);

        await Assert.ThrowsAsync<StoreConflictException>(() => store.CreateJobAsync(Job() with { Message = "second" }, Ct));

        Assert.Equal("created", (await store.GetJobAsync("job-1", Ct))!.Message);
    }

    [Fact]
    public async Task CreateJob_ExistingIdWithNewIdempotencyKey_ThrowsStoreConflict()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(idempotencyKey: "k-1"), Ct);

        await Assert.ThrowsAsync<StoreConflictException>(() => store.CreateJobAsync(Job(idempotencyKey: "k-2"), Ct));

        Assert.Single(await store.ListJobsAsync(Ct));
    }

    [Fact]
    public async Task CreateJob_SameIdempotencyKey_ReturnsFirstJobAndInsertsNothing()
    {
        var store = await NewStoreAsync();
        var first = await store.CreateJobAsync(Job("job-1", idempotencyKey: "key-a"), Ct);

        var second = await store.CreateJobAsync(Job("job-2", idempotencyKey: "key-a") with { Message = "other" }, Ct);

        AssertJob(Job("job-1", "key-a"), second, version: first.Version);
        Assert.Null(await store.GetJobAsync("job-2", Ct));
        Assert.Single(await store.ListJobsAsync(Ct));
    }

    [Fact]
    public async Task CreateJob_SameIdempotencyKeyAfterUpdate_ReturnsCurrentJob()
    {
        var store = await NewStoreAsync();
        var first = await store.CreateJobAsync(Job(idempotencyKey: "key-a"), Ct);
        await store.UpdateJobAsync(first with { State = JobState.Running }, Ct);

        var again = await store.CreateJobAsync(Job("job-9", idempotencyKey: "key-a"), Ct);

        Assert.Equal("job-1", again.JobId);
        Assert.Equal(JobState.Running, again.State);
        Assert.Equal(2, again.Version);
    }

    [Fact]
    public async Task CreateJob_DifferentIdempotencyKeys_CreatesBoth()
    {
        var store = await NewStoreAsync();

        await store.CreateJobAsync(Job("job-1", "key-a"), Ct);
        await store.CreateJobAsync(Job("job-2", "key-b"), Ct);
        await store.CreateJobAsync(Job("job-3"), Ct);
        await store.CreateJobAsync(Job("job-4"), Ct);

        Assert.Equal(4, (await store.ListJobsAsync(Ct)).Count);
    }

    [Fact]
    public async Task CreateJob_ParallelSameIdempotencyKey_CreatesExactlyOne()
    {
        var store = await NewStoreAsync();

        var results = await InParallelAsync(50, i => store.CreateJobAsync(Job($"job-{i}", "key-a"), Ct));

        var winner = Assert.Single(results.Select(r => r.JobId).Distinct());
        var job = Assert.Single(await store.ListJobsAsync(Ct));
        Assert.Equal(winner, job.JobId);
    }

    [Fact]
    public async Task GetJob_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.GetJobAsync("nope", Ct));
    }

    [Fact]
    public async Task ListJobs_Empty_ReturnsEmpty()
    {
        var store = await NewStoreAsync();

        Assert.Empty(await store.ListJobsAsync(Ct));
    }

    [Fact]
    public async Task ListJobs_SeveralJobs_ReturnsAllInCreationOrder()
    {
        var store = await NewStoreAsync();
        string[] ids = ["job-c", "job-a", "job-b"];
        foreach (var id in ids)
        {
            await store.CreateJobAsync(Job(id), Ct);
        }

        var jobs = await store.ListJobsAsync(Ct);

        Assert.Equal(ids, jobs.Select(j => j.JobId));
        Assert.All(jobs, j => AssertJob(Job(j.JobId), j, version: 1));
    }

    [Fact]
    public async Task UpdateJob_MatchingVersion_ReplacesFieldsAndIncrementsVersion()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateJobAsync(Job(), Ct);
        var changed = created with
        {
            KeySetId = "ks-2",
            Spec = [7],
            State = JobState.Running,
            CurrentRound = 3,
            GlobalModel = [1.0, 2.0],
            StrategyState = null,
            Message = null,
            UpdatedAt = T0.AddHours(1),
        };

        var updated = await store.UpdateJobAsync(changed, Ct);

        AssertJob(changed, updated, version: 2);
        AssertJob(changed, await store.GetJobAsync("job-1", Ct), version: 2);
    }

    [Fact]
    public async Task UpdateJob_Twice_VersionKeepsIncreasing()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateJobAsync(Job(), Ct);

        var second = await store.UpdateJobAsync(created with { CurrentRound = 1 }, Ct);
        var third = await store.UpdateJobAsync(second! with { CurrentRound = 2 }, Ct);

        Assert.Equal(3, third!.Version);
        Assert.Equal(2, third.CurrentRound);
    }

    [Fact]
    public async Task UpdateJob_StaleVersion_ReturnsNullAndKeepsStoredRecord()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateJobAsync(Job(), Ct);
        Assert.NotNull(await store.UpdateJobAsync(created with { State = JobState.Running }, Ct));

        var stale = await store.UpdateJobAsync(created with { State = JobState.Failed, Message = "stale" }, Ct);

        Assert.Null(stale);
        var stored = await store.GetJobAsync("job-1", Ct);
        Assert.Equal(JobState.Running, stored!.State);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task UpdateJob_FutureVersion_ReturnsNull()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateJobAsync(Job(), Ct);

        Assert.Null(await store.UpdateJobAsync(created with { Version = 5 }, Ct));
        Assert.Equal(1, (await store.GetJobAsync("job-1", Ct))!.Version);
    }

    [Fact]
    public async Task UpdateJob_UnknownJob_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.UpdateJobAsync(Job("ghost") with { Version = 1 }, Ct));
        Assert.Null(await store.GetJobAsync("ghost", Ct));
    }

    [Fact]
    public async Task UpdateJob_ParallelSameVersion_ExactlyOneWins()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateJobAsync(Job(), Ct);

        var results = await InParallelAsync(64, i => store.UpdateJobAsync(created with { CurrentRound = i + 1 }, Ct));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(2, winner!.Version);
        var stored = await store.GetJobAsync("job-1", Ct);
        Assert.Equal(winner.CurrentRound, stored!.CurrentRound);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task UpdateJob_ParallelRetryLoops_NoLostUpdates()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);

        // Each writer increments CurrentRound with a read-modify-CAS loop; CAS must not lose any increment.
        await InParallelAsync(
            20,
            async _ =>
            {
                while (true)
                {
                    var current = await store.GetJobAsync("job-1", Ct);
                    if (await store.UpdateJobAsync(current! with { CurrentRound = current.CurrentRound + 1 }, Ct) is not null)
                    {
                        return true;
                    }
                }
            });

        var stored = await store.GetJobAsync("job-1", Ct);
        Assert.Equal(20, stored!.CurrentRound);
        Assert.Equal(21, stored.Version);
    }
}
