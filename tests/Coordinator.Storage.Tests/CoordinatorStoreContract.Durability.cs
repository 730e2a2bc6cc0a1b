using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The contract plus durability: data written by one instance is read by the next instance over the same database
/// (<see cref="ReopenStoreAsync"/>). Every production store (SQLite file, PostgreSQL) derives from this.
/// </summary>
public abstract class DurableCoordinatorStoreContract : CoordinatorStoreContract
{
    /// <summary>Opens and initializes a new instance over the database of the last <see cref="CoordinatorStoreContract.CreateStoreAsync"/>.</summary>
    protected abstract Task<ICoordinatorStore> ReopenStoreAsync();

    /// <summary><see cref="ReopenStoreAsync"/>, disposed after the test.</summary>
    protected async Task<ICoordinatorStore> ReopenAsync() => Track(await ReopenStoreAsync());

    [Fact]
    public async Task Reopen_AfterDispose_AllDataSurvives()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(idempotencyKey: "key-a"), Ct);
        await store.CreateRoundAsync(Round(), Ct);
        await store.AddUploadAsync(Upload("p-1"), Ct);
        await store.AddUploadAsync(Upload("p-2", seed: 2), Ct);
        var open = await store.GetRoundAsync("job-1", 0, Ct);
        await store.UpdateRoundAsync(open! with { State = RoundState.Closed }, Ct);
        await store.SaveAccumulatorAsync(new AccumulatorRecord { JobId = "job-1", Round = 0, Ciphertexts = [[5]], UploadCount = 2 }, Ct);
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);
        await store.AddTaskAsync(CustodianTask("t-2"), Ct);
        await store.SaveAnswerAsync("t-1", 1, [7], Ct);
        await store.UpsertEnrollmentAsync(new EnrollmentRecord { ParticipantId = "p-1", CohortId = "c-1", Training = true, UpdatedAt = T0 }, Ct);
        await store.UpsertCustodianAsync(Custodian("cu-1", 1), Ct);
        await store.CreateKeySetAsync(KeySet(), Ct);
        await store.PutArtifactAsync("keyset:ks-1", "public-key", [1, 2], Ct);
        await store.DisposeAsync();

        var reopened = await ReopenAsync();

        AssertJob(Job(idempotencyKey: "key-a"), await reopened.GetJobAsync("job-1", Ct), version: 1);
        Assert.Equal("job-1", (await reopened.CreateJobAsync(Job("job-2", "key-a"), Ct)).JobId);
        AssertRound(Round() with { State = RoundState.Closed }, await reopened.GetRoundAsync("job-1", 0, Ct), version: 2, includedUploads: 2);
        var uploads = await reopened.ListUploadsAsync("job-1", 0, Ct);
        Assert.Equal(2, uploads.Count);
        AssertUpload(Upload("p-1"), uploads[0]);
        AssertUpload(Upload("p-2", seed: 2), uploads[1]);
        Assert.Equal(2, (await reopened.GetAccumulatorAsync("job-1", 0, Ct))!.UploadCount);
        Assert.Equal([7], (await reopened.GetTaskAsync("t-1", Ct))!.Answer);
        Assert.Equal(["t-2"], (await reopened.ListPendingTasksAsync(1, Ct)).Select(t => t.TaskId));
        Assert.Single(await reopened.ListEnrollmentsAsync("c-1", Ct));
        Assert.Equal("cu-1", Assert.Single(await reopened.ListCustodiansAsync(Ct)).CustodianId);
        AssertKeySet(KeySet(), await reopened.GetKeySetAsync("ks-1", Ct), version: 1);
        Assert.Equal([1, 2], await reopened.GetArtifactAsync("keyset:ks-1", "public-key", Ct));
        Assert.Equal(UploadOutcome.Duplicate, await reopened.AddUploadAsync(Upload("p-1"), Ct));
        Assert.Equal(UploadOutcome.RoundNotOpen, await reopened.AddUploadAsync(Upload("p-3"), Ct));
    }

    [Fact]
    public async Task Reopen_SequenceKeepsIncreasing()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);
        await store.AddUploadAsync(Upload("p-2"), Ct);
        var last = (await store.ListUploadsAsync("job-1", 0, Ct))[^1].Sequence;
        await store.DisposeAsync();

        var reopened = await ReopenAsync();
        await reopened.AddUploadAsync(Upload("p-0"), Ct);

        var uploads = await reopened.ListUploadsAsync("job-1", 0, Ct);
        Assert.Equal(["p-1", "p-2", "p-0"], uploads.Select(u => u.ParticipantId));
        Assert.True(uploads[^1].Sequence > last);
    }

    [Fact]
    public async Task Reopen_TaskCreationOrderAndVersionsPreserved()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-b"), Ct);
        await store.AddTaskAsync(CustodianTask("t-a"), Ct);
        var job = await store.CreateJobAsync(Job(), Ct);
        job = (await store.UpdateJobAsync(job with { CurrentRound = 1 }, Ct))!;
        await store.DisposeAsync();

        var reopened = await ReopenAsync();
        await reopened.AddTaskAsync(CustodianTask("t-0"), Ct);

        Assert.Equal(["t-b", "t-a", "t-0"], (await reopened.ListPendingTasksAsync(1, Ct)).Select(t => t.TaskId));
        Assert.Null(await reopened.UpdateJobAsync(job with { Version = 1 }, Ct));
        Assert.Equal(3, (await reopened.UpdateJobAsync(job with { CurrentRound = 2 }, Ct))!.Version);
    }

    [Fact]
    public async Task Reopen_Twice_MigrationsIdempotent()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);
        await store.DisposeAsync();

        var second = await ReopenAsync();
        await second.DisposeAsync();
        var third = await ReopenAsync();

        Assert.Single(await third.ListJobsAsync(Ct));
    }

    [Fact]
    public async Task Dispose_Twice_DoesNotThrow()
    {
        var store = await NewStoreAsync();

        await store.DisposeAsync();
        await store.DisposeAsync();
    }
}
