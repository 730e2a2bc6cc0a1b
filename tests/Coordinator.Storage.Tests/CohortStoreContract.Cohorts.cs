using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CohortStoreContract
{
    [Fact]
    public async Task CreateCohort_New_RoundTripsWithVersionOneAndNothingSpent()
    {
        var store = await NewStoreAsync();
        var cohort = Cohort() with { Version = 17, EpsilonSpent = 0.5, DeltaSpent = 1e-6 };

        await store.CreateCohortAsync(cohort, Ct);

        AssertCohort(cohort, await store.GetCohortAsync("c-1", Ct), version: 1);
    }

    [Fact]
    public async Task CreateCohort_ExistingId_ThrowsStoreConflictAndKeepsFirst()
    {
        var store = await NewStoreAsync();
        await store.CreateCohortAsync(Cohort(), Ct);

        await Assert.ThrowsAsync<StoreConflictException>(() => store.CreateCohortAsync(Cohort(state: "closed", epsilon: 9), Ct));

        AssertCohort(Cohort(), await store.GetCohortAsync("c-1", Ct), version: 1);
        Assert.Single(await store.ListCohortsAsync(Ct));
    }

    [Fact]
    public async Task GetCohort_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.GetCohortAsync("c-x", Ct));
    }

    [Fact]
    public async Task ListCohorts_SeveralCohorts_AllInCreationOrder()
    {
        var store = await NewStoreAsync();
        Assert.Empty(await store.ListCohortsAsync(Ct));
        string[] ids = ["c-b", "c-c", "c-a"];
        foreach (var id in ids)
        {
            await store.CreateCohortAsync(Cohort(id), Ct);
        }

        var listed = await store.ListCohortsAsync(Ct);

        Assert.Equal(ids, listed.Select(c => c.CohortId));
        Assert.All(listed, c => Assert.Equal(1, c.Version));
    }

    [Fact]
    public async Task UpdateCohort_MatchingVersion_ReplacesAndIncrementsVersion()
    {
        var store = await NewStoreAsync();
        await store.CreateCohortAsync(Cohort(), Ct);
        var v1 = await store.GetCohortAsync("c-1", Ct);
        var changed = v1! with { State = "closed", KeySetId = "ks-2", SchemaJson = """{"version":2}""", EpsilonBudget = 2.5, DeltaBudget = 1e-4 };

        var updated = await store.UpdateCohortAsync(changed, Ct);

        AssertCohort(changed, updated, version: 2);
        AssertCohort(changed, await store.GetCohortAsync("c-1", Ct), version: 2);
    }

    [Fact]
    public async Task UpdateCohort_CreatedAtPassedIn_IsNotChanged()
    {
        var store = await NewStoreAsync();
        await store.CreateCohortAsync(Cohort(), Ct);
        var v1 = await store.GetCohortAsync("c-1", Ct);

        var updated = await store.UpdateCohortAsync(v1! with { CreatedAt = T0.AddDays(1), State = "closed" }, Ct);

        Assert.Equal(T0, updated!.CreatedAt);
        Assert.Equal("closed", updated.State);
    }

    [Fact]
    public async Task UpdateCohort_StaleVersion_ReturnsNullAndKeepsStored()
    {
        var store = await NewStoreAsync();
        await store.CreateCohortAsync(Cohort(), Ct);
        var v1 = await store.GetCohortAsync("c-1", Ct);
        await store.UpdateCohortAsync(v1! with { State = "closed" }, Ct);

        Assert.Null(await store.UpdateCohortAsync(v1 with { EpsilonBudget = 100 }, Ct));

        var stored = await store.GetCohortAsync("c-1", Ct);
        Assert.Equal("closed", stored!.State);
        Assert.Equal(1.0, stored.EpsilonBudget);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task UpdateCohort_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.UpdateCohortAsync(Cohort("c-x") with { Version = 1 }, Ct));
        Assert.Null(await store.GetCohortAsync("c-x", Ct));
    }

    [Fact]
    public async Task UpdateCohort_SpentPassedIn_IsIgnored()
    {
        var store = await StoreWithCohortAsync();
        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.25, 1e-6, Ct));
        var current = await store.GetCohortAsync("c-1", Ct);

        var updated = await store.UpdateCohortAsync(current! with { EpsilonSpent = 0, DeltaSpent = 0.5, EpsilonBudget = 3 }, Ct);

        Assert.NotNull(updated);
        Assert.Equal(0.25, updated.EpsilonSpent, 12);
        Assert.Equal(1e-6, updated.DeltaSpent, 15);
        Assert.Equal(3, updated.EpsilonBudget);
    }

    [Fact]
    public async Task UpdateCohort_Concurrent_ExactlyOneWins()
    {
        var store = await StoreWithCohortAsync();
        var v1 = await store.GetCohortAsync("c-1", Ct);

        var results = await InParallelAsync(20, i => store.UpdateCohortAsync(v1! with { EpsilonBudget = i }, Ct));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(winner, await store.GetCohortAsync("c-1", Ct));
    }

    private static readonly Dictionary<string, Func<ICohortStore, Task>> BadCohortCalls = new()
    {
        ["CreateCohort null"] = s => s.CreateCohortAsync(null!, Ct),
        ["CreateCohort empty id"] = s => s.CreateCohortAsync(Cohort(""), Ct),
        ["CreateCohort null id"] = s => s.CreateCohortAsync(Cohort(null!), Ct),
        ["CreateCohort empty key set"] = s => s.CreateCohortAsync(Cohort("c-2") with { KeySetId = "" }, Ct),
        ["CreateCohort null schema"] = s => s.CreateCohortAsync(Cohort("c-2") with { SchemaJson = null! }, Ct),
        ["CreateCohort null state"] = s => s.CreateCohortAsync(Cohort("c-2", state: null!), Ct),
        ["CreateCohort negative epsilon"] = s => s.CreateCohortAsync(Cohort("c-2", epsilon: -1), Ct),
        ["CreateCohort NaN delta"] = s => s.CreateCohortAsync(Cohort("c-2", delta: double.NaN), Ct),
        ["GetCohort empty"] = s => s.GetCohortAsync("", Ct),
        ["GetCohort null"] = s => s.GetCohortAsync(null!, Ct),
        ["UpdateCohort null"] = s => s.UpdateCohortAsync(null!, Ct),
        ["UpdateCohort empty id"] = s => s.UpdateCohortAsync(Cohort(""), Ct),
        ["UpdateCohort infinite epsilon"] = s => s.UpdateCohortAsync(Cohort(epsilon: double.PositiveInfinity) with { Version = 1 }, Ct),
        ["AddContribution empty cohort"] = s => s.AddContributionAsync("", "p-1", [1], "cid", T0, Ct),
        ["AddContribution empty participant"] = s => s.AddContributionAsync("c-1", "", [1], "cid", T0, Ct),
        ["AddContribution null ciphertext"] = s => s.AddContributionAsync("c-1", "p-1", null!, "cid", T0, Ct),
        ["AddContribution empty content id"] = s => s.AddContributionAsync("c-1", "p-1", [1], "", T0, Ct),
        ["AddContribution null content id"] = s => s.AddContributionAsync("c-1", "p-1", [1], null!, T0, Ct),
        ["RevokeContribution empty cohort"] = s => s.RevokeContributionAsync("", "p-1", T0, Ct),
        ["RevokeContribution null participant"] = s => s.RevokeContributionAsync("c-1", null!, T0, Ct),
        ["CountActiveContributions empty"] = s => s.CountActiveContributionsAsync("", Ct),
        ["ListContributionEvents empty"] = s => s.ListContributionEventsAsync("", 0, 10, Ct),
        ["ListContributionEvents negative after"] = s => s.ListContributionEventsAsync("c-1", -1, 10, Ct),
        ["ListContributionEvents zero limit"] = s => s.ListContributionEventsAsync("c-1", 0, 0, Ct),
        ["GetCohortAggregate empty"] = s => s.GetCohortAggregateAsync("", Ct),
        ["SaveCohortAggregate null"] = s => s.SaveCohortAggregateAsync(null!, Ct),
        ["SaveCohortAggregate empty cohort"] = s => s.SaveCohortAggregateAsync(new CohortAggregateRecord { CohortId = "" }, Ct),
        ["SaveCohortAggregate negative through"] = s => s.SaveCohortAggregateAsync(new CohortAggregateRecord { CohortId = "c-1", ThroughSequence = -1 }, Ct),
        ["SaveCohortAggregate negative contributors"] = s => s.SaveCohortAggregateAsync(new CohortAggregateRecord { CohortId = "c-1", Contributors = -1 }, Ct),
        ["TrySpendBudget empty"] = s => s.TrySpendBudgetAsync("", "qj-1", 0.1, 0, Ct),
        ["TrySpendBudget empty job"] = s => s.TrySpendBudgetAsync("c-1", "", 0.1, 0, Ct),
        ["TrySpendBudget negative epsilon"] = s => s.TrySpendBudgetAsync("c-1", "qj-1", -0.1, 0, Ct),
        ["TrySpendBudget NaN delta"] = s => s.TrySpendBudgetAsync("c-1", "qj-1", 0.1, double.NaN, Ct),
        ["TrySpendBudget infinite epsilon"] = s => s.TrySpendBudgetAsync("c-1", "qj-1", double.PositiveInfinity, 0, Ct),
    };

    public static TheoryData<string> BadCohortCallNames => [.. BadCohortCalls.Keys];

    [Theory]
    [MemberData(nameof(BadCohortCallNames))]
    public async Task BadArgument_ThrowsArgumentExceptionAndChangesNothing(string call)
    {
        var store = await StoreWithCohortAsync();

        var exception = await Assert.ThrowsAnyAsync<ArgumentException>(() => BadCohortCalls[call](store));

        Assert.False(string.IsNullOrWhiteSpace(exception.Message));
        Assert.False(string.IsNullOrEmpty(exception.ParamName), "the exception names the bad parameter");
        AssertCohort(Cohort(), Assert.Single(await store.ListCohortsAsync(Ct)), version: 1);
        Assert.Empty(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
        Assert.Null(await store.GetCohortAggregateAsync("c-1", Ct));
    }

    [Fact]
    public async Task Cancellation_CancelledToken_ThrowsAndAppendsNothing()
    {
        var store = await StoreWithCohortAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => store.AddContributionAsync("c-1", "p-1", [1], "cid", T0, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.TrySpendBudgetAsync("c-1", "qj-1", 0.1, 0, cancelled.Token));

        Assert.Empty(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
        Assert.Equal(0, (await store.GetCohortAsync("c-1", Ct))!.EpsilonSpent);
    }
}
