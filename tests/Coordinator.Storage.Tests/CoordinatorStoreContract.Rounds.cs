using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CoordinatorStoreContract
{
    [Fact]
    public async Task CreateRound_New_ReturnsTrueAndRoundTrips()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);
        var round = Round() with { MinimumReachedAt = T0.AddSeconds(30), Extensions = 2, Message = "m", Version = 9 };

        Assert.True(await store.CreateRoundAsync(round, Ct));

        AssertRound(round, await store.GetRoundAsync("job-1", 0, Ct), version: 1);
    }

    [Fact]
    public async Task CreateRound_EmptySelectionAndNullData_RoundTrip()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);
        var round = Round() with { Selected = [], Data = null };

        Assert.True(await store.CreateRoundAsync(round, Ct));

        AssertRound(round, await store.GetRoundAsync("job-1", 0, Ct), version: 1);
    }

    [Fact]
    public async Task CreateRound_Existing_ReturnsFalseAndKeepsFirst()
    {
        var store = await StoreWithOpenRoundAsync();

        Assert.False(await store.CreateRoundAsync(Round() with { Selected = ["other"], Message = "second" }, Ct));

        AssertRound(Round(), await store.GetRoundAsync("job-1", 0, Ct), version: 1);
    }

    [Fact]
    public async Task CreateRound_ParallelSameRound_ExactlyOneTrue()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);

        var results = await InParallelAsync(32, i => store.CreateRoundAsync(Round() with { Extensions = i }, Ct));

        Assert.Single(results, r => r);
        Assert.Single(await store.ListRoundsAsync("job-1", Ct));
    }

    [Fact]
    public async Task GetRound_Unknown_ReturnsNull()
    {
        var store = await StoreWithOpenRoundAsync();

        Assert.Null(await store.GetRoundAsync("job-1", 1, Ct));
        Assert.Null(await store.GetRoundAsync("job-2", 0, Ct));
    }

    [Fact]
    public async Task ListRounds_CreatedOutOfOrder_ReturnsRoundOrderForThatJobOnly()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job("job-1"), Ct);
        await store.CreateJobAsync(Job("job-2"), Ct);
        foreach (var n in new[] { 2, 0, 10, 1 })
        {
            await store.CreateRoundAsync(Round("job-1", n), Ct);
        }

        await store.CreateRoundAsync(Round("job-2", 5), Ct);

        var rounds = await store.ListRoundsAsync("job-1", Ct);

        Assert.Equal([0, 1, 2, 10], rounds.Select(r => r.Round));
        Assert.All(rounds, r => Assert.Equal("job-1", r.JobId));
        Assert.Empty(await store.ListRoundsAsync("job-3", Ct));
    }

    [Fact]
    public async Task UpdateRound_MatchingVersion_ReplacesFieldsAndIncrementsVersion()
    {
        var store = await StoreWithOpenRoundAsync();
        var stored = await store.GetRoundAsync("job-1", 0, Ct);
        var changed = stored! with
        {
            Selected = ["p-9"],
            Deadline = T0.AddMinutes(10),
            MinimumReachedAt = T0.AddMinutes(1),
            Extensions = 1,
            Message = "extended",
            Data = "{}",
        };

        var updated = await store.UpdateRoundAsync(changed, Ct);

        AssertRound(changed, updated, version: 2);
        AssertRound(changed, await store.GetRoundAsync("job-1", 0, Ct), version: 2);
    }

    [Fact]
    public async Task UpdateRound_StaleVersion_ReturnsNullAndKeepsStored()
    {
        var store = await StoreWithOpenRoundAsync();
        var v1 = await store.GetRoundAsync("job-1", 0, Ct);
        Assert.NotNull(await store.UpdateRoundAsync(v1! with { Extensions = 1 }, Ct));

        Assert.Null(await store.UpdateRoundAsync(v1 with { Extensions = 7 }, Ct));

        var stored = await store.GetRoundAsync("job-1", 0, Ct);
        Assert.Equal(1, stored!.Extensions);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task UpdateRound_UnknownRound_ReturnsNull()
    {
        var store = await StoreWithOpenRoundAsync();

        Assert.Null(await store.UpdateRoundAsync(Round(round: 4) with { Version = 1 }, Ct));
    }

    [Fact]
    public async Task UpdateRound_ParallelSameVersion_ExactlyOneWins()
    {
        var store = await StoreWithOpenRoundAsync();
        var v1 = await store.GetRoundAsync("job-1", 0, Ct);

        var results = await InParallelAsync(64, i => store.UpdateRoundAsync(v1! with { Extensions = i + 1 }, Ct));

        var winner = Assert.Single(results, r => r is not null);
        var stored = await store.GetRoundAsync("job-1", 0, Ct);
        Assert.Equal(winner!.Extensions, stored!.Extensions);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task UpdateRound_Closing_SetsIncludedUploadsToLedgerCountIgnoringValuePassed()
    {
        var store = await StoreWithOpenRoundAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(UploadOutcome.Stored, await store.AddUploadAsync(Upload($"p-{i}"), Ct));
        }

        var open = await store.GetRoundAsync("job-1", 0, Ct);
        var closed = await store.UpdateRoundAsync(open! with { State = RoundState.Closed, IncludedUploads = 999 }, Ct);

        Assert.Equal(3, closed!.IncludedUploads);
        Assert.Equal(RoundState.Closed, closed.State);
        Assert.Equal(3, (await store.GetRoundAsync("job-1", 0, Ct))!.IncludedUploads);
    }

    [Fact]
    public async Task UpdateRound_ClosingEmptyRound_IncludedUploadsZero()
    {
        var store = await StoreWithOpenRoundAsync();
        var open = await store.GetRoundAsync("job-1", 0, Ct);

        var failed = await store.UpdateRoundAsync(open! with { State = RoundState.Failed, Message = "too few", IncludedUploads = 5 }, Ct);

        Assert.Equal(0, failed!.IncludedUploads);
        Assert.Equal("too few", failed.Message);
    }

    [Fact]
    public async Task UpdateRound_ClosingCountsOnlyThatRoundsLedger()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.CreateRoundAsync(Round(round: 1), Ct);
        await store.AddUploadAsync(Upload("p-1", round: 0), Ct);
        await store.AddUploadAsync(Upload("p-1", round: 1), Ct);
        await store.AddUploadAsync(Upload("p-2", round: 1), Ct);

        var open = await store.GetRoundAsync("job-1", 1, Ct);
        var closed = await store.UpdateRoundAsync(open! with { State = RoundState.Closed }, Ct);

        Assert.Equal(2, closed!.IncludedUploads);
    }

    [Fact]
    public async Task UpdateRound_AfterClose_UploadsGetRoundNotOpenAndCountStaysFrozen()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);
        await store.AddUploadAsync(Upload("p-2"), Ct);
        var open = await store.GetRoundAsync("job-1", 0, Ct);
        var closed = await store.UpdateRoundAsync(open! with { State = RoundState.Closed }, Ct);

        Assert.Equal(UploadOutcome.RoundNotOpen, await store.AddUploadAsync(Upload("p-3"), Ct));

        var noise = await store.UpdateRoundAsync(closed! with { State = RoundState.Noise, IncludedUploads = 0 }, Ct);
        var decrypting = await store.UpdateRoundAsync(noise! with { State = RoundState.Decrypting, IncludedUploads = 77 }, Ct);
        var completed = await store.UpdateRoundAsync(decrypting! with { State = RoundState.Completed }, Ct);

        Assert.Equal(2, noise!.IncludedUploads);
        Assert.Equal(2, decrypting!.IncludedUploads);
        Assert.Equal(2, completed!.IncludedUploads);
        Assert.Equal(5, completed.Version);
        Assert.Equal(["p-1", "p-2"], (await store.GetUploadSummaryAsync("job-1", 0, Ct)).Participants);
    }

    [Fact]
    public async Task UpdateRound_CloseRacingUploads_IncludedUploadsEqualsStoredUploads()
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var store = await NewStoreAsync();
            await store.CreateJobAsync(Job(), Ct);
            await store.CreateRoundAsync(Round(), Ct);
            var open = await store.GetRoundAsync("job-1", 0, Ct);

            var uploads = InParallelAsync(100, i => store.AddUploadAsync(Upload($"p-{i}"), Ct));
            await Task.Delay(attempt * 2, Ct);
            var closed = await store.UpdateRoundAsync(open! with { State = RoundState.Closed }, Ct);
            var outcomes = await uploads;

            var stored = outcomes.Count(o => o == UploadOutcome.Stored);
            Assert.Equal(100 - stored, outcomes.Count(o => o == UploadOutcome.RoundNotOpen));
            Assert.Equal(stored, closed!.IncludedUploads);
            Assert.Equal(stored, (await store.ListUploadsAsync("job-1", 0, Ct)).Count);
        }
    }
}
