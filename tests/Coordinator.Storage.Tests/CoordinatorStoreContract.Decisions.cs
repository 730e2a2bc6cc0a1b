using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// Behaviour the interface leaves open, decided once here so that every implementation agrees
/// (see the remarks of <see cref="SqliteCoordinatorStore"/>).
/// </summary>
public abstract partial class CoordinatorStoreContract
{
    [Fact]
    public async Task AddUpload_RetryAfterRoundClosed_DuplicateOrConflictReportedBeforeRoundState()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);
        var open = await store.GetRoundAsync("job-1", 0, Ct);
        await store.UpdateRoundAsync(open! with { State = RoundState.Closed }, Ct);

        Assert.Equal(UploadOutcome.Duplicate, await store.AddUploadAsync(Upload("p-1"), Ct));
        Assert.Equal(UploadOutcome.Conflict, await store.AddUploadAsync(Upload("p-1", seed: 9), Ct));
        Assert.Equal(UploadOutcome.RoundNotOpen, await store.AddUploadAsync(Upload("p-2"), Ct));
    }

    [Fact]
    public async Task UpdateRound_ReopeningClosedRound_ThrowsInvalidOperation()
    {
        var store = await StoreWithOpenRoundAsync();
        var open = await store.GetRoundAsync("job-1", 0, Ct);
        var closed = await store.UpdateRoundAsync(open! with { State = RoundState.Closed }, Ct);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.UpdateRoundAsync(closed! with { State = RoundState.Open }, Ct));

        Assert.Equal(RoundState.Closed, (await store.GetRoundAsync("job-1", 0, Ct))!.State);
    }

    [Fact]
    public async Task UpdateRound_StillOpen_IncludedUploadsPassedInIgnored()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);
        var open = await store.GetRoundAsync("job-1", 0, Ct);

        var updated = await store.UpdateRoundAsync(open! with { Extensions = 1, IncludedUploads = 50 }, Ct);

        Assert.Equal(0, updated!.IncludedUploads);
    }

    [Fact]
    public async Task CreateRound_IncludedUploadsPassedInIgnored()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);

        await store.CreateRoundAsync(Round(state: RoundState.Failed) with { IncludedUploads = 4 }, Ct);

        Assert.Equal(0, (await store.GetRoundAsync("job-1", 0, Ct))!.IncludedUploads);
    }

    [Fact]
    public async Task CreateRound_UnknownJob_ThrowsInvalidOperation()
    {
        var store = await NewStoreAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateRoundAsync(Round("ghost"), Ct));

        Assert.Empty(await store.ListRoundsAsync("ghost", Ct));
    }

    [Fact]
    public async Task SaveAccumulator_UnknownRound_ThrowsInvalidOperation()
    {
        var store = await StoreWithOpenRoundAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => store.SaveAccumulatorAsync(new AccumulatorRecord { JobId = "job-1", Round = 1, Ciphertexts = [] }, Ct));
    }

    [Fact]
    public async Task UpdateJob_CreatedAtAndIdempotencyKeyNotChanged()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateJobAsync(Job(idempotencyKey: "key-a"), Ct);

        var updated = await store.UpdateJobAsync(created with { CreatedAt = T0.AddDays(9), IdempotencyKey = "key-b" }, Ct);

        Assert.Equal(T0, updated!.CreatedAt);
        Assert.Equal("key-a", updated.IdempotencyKey);
    }

    [Fact]
    public async Task UpdateKeySet_CreatedAtNotChanged()
    {
        var store = await NewStoreAsync();
        await store.CreateKeySetAsync(KeySet(), Ct);

        var updated = await store.UpdateKeySetAsync(KeySet() with { Version = 1, CreatedAt = T0.AddDays(1) }, Ct);

        Assert.Equal(T0, updated!.CreatedAt);
    }

    [Fact]
    public async Task CreateJob_EmptyIdempotencyKey_MeansNoKey()
    {
        var store = await NewStoreAsync();

        var first = await store.CreateJobAsync(Job("job-1", ""), Ct);
        var second = await store.CreateJobAsync(Job("job-2", ""), Ct);

        Assert.Null(first.IdempotencyKey);
        Assert.Equal("job-2", second.JobId);
        Assert.Equal(2, (await store.ListJobsAsync(Ct)).Count);
    }

    [Fact]
    public async Task UpsertCustodian_SameIdOtherParty_ThrowsStoreConflict()
    {
        var store = await NewStoreAsync();
        await store.UpsertCustodianAsync(Custodian("cu-1", 1), Ct);

        await Assert.ThrowsAsync<StoreConflictException>(() => store.UpsertCustodianAsync(Custodian("cu-1", 2), Ct));

        Assert.Equal(1, Assert.Single(await store.ListCustodiansAsync(Ct)).Party);
    }

    [Fact]
    public async Task UpsertCustodian_Reregistering_ReplacesRegisteredAt()
    {
        var store = await NewStoreAsync();
        await store.UpsertCustodianAsync(Custodian("cu-1", 1), Ct);

        await store.UpsertCustodianAsync(Custodian("cu-1", 1) with { RegisteredAt = T0.AddDays(1) }, Ct);

        Assert.Equal(T0.AddDays(1), Assert.Single(await store.ListCustodiansAsync(Ct)).RegisteredAt);
    }

    [Fact]
    public async Task AddTask_AlreadyAnswered_StoredAsGiven()
    {
        var store = await NewStoreAsync();
        var task = CustodianTask("t-1") with { Answer = [1], AnsweredAt = T0.AddSeconds(1) };

        await store.AddTaskAsync(task, Ct);

        AssertTask(task, await store.GetTaskAsync("t-1", Ct));
        Assert.Equal(AnswerOutcome.Duplicate, await store.SaveAnswerAsync("t-1", 1, [1], Ct));
        Assert.Empty(await store.ListPendingTasksAsync(1, Ct));
    }

    [Fact]
    public async Task SaveAnswer_WrongPartyCheckedBeforeExistingAnswer()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1", party: 1), Ct);
        await store.SaveAnswerAsync("t-1", 1, [1], Ct);

        Assert.Equal(AnswerOutcome.WrongParty, await store.SaveAnswerAsync("t-1", 2, [1], Ct));
    }
}
