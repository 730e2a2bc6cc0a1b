using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CohortStoreContract
{
    private static CohortAggregateRecord Aggregate(long version, long through, int contributors = 1, byte[]? ciphertext = null) => new()
    {
        CohortId = "c-1",
        Ciphertext = ciphertext ?? [1, 2, (byte)through],
        Contributors = contributors,
        ThroughSequence = through,
        Version = version,
    };

    private static void AssertAggregate(CohortAggregateRecord expected, CohortAggregateRecord? actual, long version)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.CohortId, actual.CohortId);
        Assert.Equal(expected.Ciphertext, actual.Ciphertext);
        Assert.Equal(expected.Contributors, actual.Contributors);
        Assert.Equal(expected.ThroughSequence, actual.ThroughSequence);
        Assert.Equal(version, actual.Version);
    }

    // ---- aggregate

    [Fact]
    public async Task GetCohortAggregate_BeforeFirstSave_ReturnsNull()
    {
        var store = await StoreWithCohortAsync();

        Assert.Null(await store.GetCohortAggregateAsync("c-1", Ct));
        Assert.Null(await store.GetCohortAggregateAsync("c-x", Ct));
    }

    [Fact]
    public async Task SaveCohortAggregate_FirstWithVersionZero_StoredWithVersionOne()
    {
        var store = await StoreWithCohortAsync();

        var saved = await store.SaveCohortAggregateAsync(Aggregate(version: 0, through: 3, contributors: 2), Ct);

        AssertAggregate(Aggregate(0, 3, 2), saved, version: 1);
        AssertAggregate(Aggregate(0, 3, 2), await store.GetCohortAggregateAsync("c-1", Ct), version: 1);
    }

    [Fact]
    public async Task SaveCohortAggregate_FirstWithNonZeroVersion_ReturnsNull()
    {
        var store = await StoreWithCohortAsync();

        Assert.Null(await store.SaveCohortAggregateAsync(Aggregate(version: 1, through: 3), Ct));

        Assert.Null(await store.GetCohortAggregateAsync("c-1", Ct));
    }

    [Fact]
    public async Task SaveCohortAggregate_VersionZeroWhenOneIsStored_ReturnsNullAndKeepsStored()
    {
        var store = await StoreWithCohortAsync();
        await store.SaveCohortAggregateAsync(Aggregate(0, 3), Ct);

        Assert.Null(await store.SaveCohortAggregateAsync(Aggregate(0, 9), Ct));

        AssertAggregate(Aggregate(0, 3), await store.GetCohortAggregateAsync("c-1", Ct), version: 1);
    }

    [Fact]
    public async Task SaveCohortAggregate_MatchingVersion_ReplacesAndIncrementsVersion()
    {
        var store = await StoreWithCohortAsync();
        var v1 = await store.SaveCohortAggregateAsync(Aggregate(0, 3), Ct);

        var v2 = await store.SaveCohortAggregateAsync(v1! with { ThroughSequence = 8, Contributors = 5, Ciphertext = [7, 7] }, Ct);

        AssertAggregate(Aggregate(0, 8, 5, [7, 7]), v2, version: 2);
        AssertAggregate(Aggregate(0, 8, 5, [7, 7]), await store.GetCohortAggregateAsync("c-1", Ct), version: 2);
    }

    [Fact]
    public async Task SaveCohortAggregate_StaleVersion_ReturnsNullAndKeepsStored()
    {
        var store = await StoreWithCohortAsync();
        var v1 = await store.SaveCohortAggregateAsync(Aggregate(0, 3), Ct);
        await store.SaveCohortAggregateAsync(v1! with { ThroughSequence = 5 }, Ct);

        Assert.Null(await store.SaveCohortAggregateAsync(v1 with { ThroughSequence = 9 }, Ct));

        var stored = await store.GetCohortAggregateAsync("c-1", Ct);
        Assert.Equal(5, stored!.ThroughSequence);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task SaveCohortAggregate_LowerThroughSequence_ReturnsNullEqualAccepted()
    {
        var store = await StoreWithCohortAsync();
        var v1 = await store.SaveCohortAggregateAsync(Aggregate(0, 5), Ct);

        Assert.Null(await store.SaveCohortAggregateAsync(v1! with { ThroughSequence = 4 }, Ct));
        AssertAggregate(Aggregate(0, 5), await store.GetCohortAggregateAsync("c-1", Ct), version: 1);

        var same = await store.SaveCohortAggregateAsync(v1 with { Contributors = 0, Ciphertext = null }, Ct);
        Assert.NotNull(same);
        Assert.Equal(5, same.ThroughSequence);
        Assert.Null(same.Ciphertext);
        Assert.Equal(0, same.Contributors);
        Assert.Equal(2, same.Version);
    }

    [Fact]
    public async Task SaveCohortAggregate_NullCiphertext_RoundTrips()
    {
        var store = await StoreWithCohortAsync();

        var saved = await store.SaveCohortAggregateAsync(new CohortAggregateRecord { CohortId = "c-1" }, Ct);

        Assert.NotNull(saved);
        Assert.Null(saved.Ciphertext);
        Assert.Equal(0, saved.ThroughSequence);
        Assert.Equal(0, saved.Contributors);
        Assert.Equal(1, saved.Version);
    }

    [Fact]
    public async Task SaveCohortAggregate_PerCohort_Independent()
    {
        var store = await StoreWithCohortAsync();
        await store.CreateCohortAsync(Cohort("c-2"), Ct);
        await store.SaveCohortAggregateAsync(Aggregate(0, 3), Ct);

        var other = await store.SaveCohortAggregateAsync(Aggregate(0, 1) with { CohortId = "c-2" }, Ct);

        Assert.Equal(1, other!.Version);
        Assert.Equal(3, (await store.GetCohortAggregateAsync("c-1", Ct))!.ThroughSequence);
        Assert.Equal(1, (await store.GetCohortAggregateAsync("c-2", Ct))!.ThroughSequence);
    }

    [Fact]
    public async Task SaveCohortAggregate_UnknownCohort_ThrowsAndStoresNothing()
    {
        var store = await StoreWithCohortAsync();

        await Assert.ThrowsAnyAsync<InvalidOperationException>(
            () => store.SaveCohortAggregateAsync(Aggregate(0, 1) with { CohortId = "c-x" }, Ct));

        Assert.Null(await store.GetCohortAggregateAsync("c-x", Ct));
    }

    [Fact]
    public async Task SaveCohortAggregate_ConcurrentSavesOfOneVersion_ExactlyOneWins()
    {
        var store = await StoreWithCohortAsync();
        var v1 = await store.SaveCohortAggregateAsync(Aggregate(0, 1), Ct);

        var results = await InParallelAsync(20, i => store.SaveCohortAggregateAsync(v1! with { ThroughSequence = 2 + i }, Ct));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(2, winner!.Version);
        Assert.Equal(winner.ThroughSequence, (await store.GetCohortAggregateAsync("c-1", Ct))!.ThroughSequence);
    }

    [Fact]
    public async Task SaveCohortAggregate_ConcurrentFirstSaves_ExactlyOneWins()
    {
        var store = await StoreWithCohortAsync();

        var results = await InParallelAsync(20, i => store.SaveCohortAggregateAsync(Aggregate(0, i), Ct));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(1, winner!.Version);
    }

    // ---- privacy budget

    [Fact]
    public async Task TrySpendBudget_SpendsUntilExhausted()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0, delta: 4e-6);

        for (var i = 0; i < 4; i++)
        {
            Assert.True(await store.TrySpendBudgetAsync("c-1", $"qj-{i}", 0.25, 1e-6, Ct), $"spend {i}");
        }

        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-5", 0.25, 1e-6, Ct));
        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-6", 0.01, 0, Ct));
        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-7", 0, 0, Ct));
        AssertCohort(Cohort(epsilon: 1.0, delta: 4e-6), await store.GetCohortAsync("c-1", Ct), version: 1, epsilonSpent: 1.0, deltaSpent: 4e-6);
    }

    [Fact]
    public async Task TrySpendBudget_Refused_SpendsNothingOfEither()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0, delta: 1e-5);
        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.5, 0.5e-5, Ct));

        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-2", 0.1, 1e-5, Ct)); // ε fits, δ does not
        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-3", 0.6, 0, Ct)); // δ fits, ε does not

        var cohort = await store.GetCohortAsync("c-1", Ct);
        Assert.Equal(0.5, cohort!.EpsilonSpent, 12);
        Assert.Equal(0.5e-5, cohort.DeltaSpent, 15);
    }

    [Fact]
    public async Task TrySpendBudget_ExactBoundary_Accepted()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0, delta: 1e-5);

        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 1.0, 1e-5, Ct));

        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-2", 1e-9, 0, Ct));
        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-3", 0, 1e-9, Ct));
    }

    [Fact]
    public async Task TrySpendBudget_FloatingPointSumAtBoundary_AcceptedWithinTolerance()
    {
        var store = await StoreWithCohortAsync(epsilon: 0.3, delta: 0);

        // 0.1 + 0.1 + 0.1 = 0.30000000000000004 > 0.3, within the 1e-12 tolerance.
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await store.TrySpendBudgetAsync("c-1", $"qj-{i}", 0.1, 0, Ct), $"spend {i}");
        }

        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-4", 1e-6, 0, Ct));
    }

    [Fact]
    public async Task TrySpendBudget_UnknownCohort_ReturnsFalse()
    {
        var store = await StoreWithCohortAsync();

        Assert.False(await store.TrySpendBudgetAsync("c-x", "qj-1", 0.1, 0, Ct));
        Assert.False(await store.TrySpendBudgetAsync("c-x", "qj-2", 0, 0, Ct));
    }

    [Fact]
    public async Task TrySpendBudget_DoesNotChangeVersion_SoAConcurrentUpdateStillApplies()
    {
        var store = await StoreWithCohortAsync();
        var v1 = await store.GetCohortAsync("c-1", Ct);

        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.5, 0, Ct));

        var updated = await store.UpdateCohortAsync(v1! with { State = "closed" }, Ct);
        Assert.NotNull(updated);
        Assert.Equal(2, updated.Version);
        Assert.Equal(0.5, updated.EpsilonSpent, 12);
    }

    [Fact]
    public async Task TrySpendBudget_LoweredBudgetBelowSpent_Refuses()
    {
        var store = await StoreWithCohortAsync();
        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.8, 0, Ct));
        var current = await store.GetCohortAsync("c-1", Ct);
        await store.UpdateCohortAsync(current! with { EpsilonBudget = 0.5 }, Ct);

        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-2", 0.01, 0, Ct));
        Assert.Equal(0.8, (await store.GetCohortAsync("c-1", Ct))!.EpsilonSpent, 12);
    }

    [Fact]
    public async Task TrySpendBudget_Concurrent_ExactlyTheAffordableNumberSucceed()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0, delta: 1e-5);

        var results = await InParallelAsync(50, i => store.TrySpendBudgetAsync("c-1", $"qj-{i}", 0.1, 1e-7, Ct));

        Assert.Equal(10, results.Count(r => r));
        var cohort = await store.GetCohortAsync("c-1", Ct);
        Assert.Equal(1.0, cohort!.EpsilonSpent, 9);
        Assert.Equal(1e-6, cohort.DeltaSpent, 15);
    }

    [Fact]
    public async Task TrySpendBudget_ConcurrentOnDifferentCohorts_Independent()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0);
        await store.CreateCohortAsync(Cohort("c-2", epsilon: 0.5), Ct);

        var results = await InParallelAsync(40, i => store.TrySpendBudgetAsync(i % 2 == 0 ? "c-1" : "c-2", $"qj-{i}", 0.25, 0, Ct));

        Assert.Equal(6, results.Count(r => r));
        Assert.Equal(1.0, (await store.GetCohortAsync("c-1", Ct))!.EpsilonSpent, 12);
        Assert.Equal(0.5, (await store.GetCohortAsync("c-2", Ct))!.EpsilonSpent, 12);
    }

    [Fact]
    public async Task TrySpendBudget_SameJobAgain_ReturnsTrueAndSpendsOnce()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0, delta: 1e-5);

        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.6, 1e-6, Ct));
        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.6, 1e-6, Ct)); // would not fit a second time

        var cohort = await store.GetCohortAsync("c-1", Ct);
        Assert.Equal(0.6, cohort!.EpsilonSpent, 12);
        Assert.Equal(1e-6, cohort.DeltaSpent, 15);
        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-2", 0.6, 1e-6, Ct)); // another job is debited
    }

    [Fact]
    public async Task TrySpendBudget_SameJobConcurrently_SpendsOnce()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0, delta: 1e-5);

        var results = await InParallelAsync(20, _ => store.TrySpendBudgetAsync("c-1", "qj-1", 0.1, 1e-7, Ct));

        Assert.All(results, Assert.True);
        var cohort = await store.GetCohortAsync("c-1", Ct);
        Assert.Equal(0.1, cohort!.EpsilonSpent, 12);
        Assert.Equal(1e-7, cohort.DeltaSpent, 15);
    }

    [Fact]
    public async Task TrySpendBudget_RefusedSpend_IsNotRecordedForTheJob()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0);

        Assert.False(await store.TrySpendBudgetAsync("c-1", "qj-1", 1.5, 0, Ct));
        Assert.Equal(0, (await store.GetCohortAsync("c-1", Ct))!.EpsilonSpent);

        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.5, 0, Ct)); // a later spend of the job debits
        Assert.Equal(0.5, (await store.GetCohortAsync("c-1", Ct))!.EpsilonSpent, 12);
    }

    [Fact]
    public async Task TrySpendBudget_SameJobIdOnAnotherCohort_SpendsThere()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0);
        await store.CreateCohortAsync(Cohort("c-2", epsilon: 1.0), Ct);

        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.5, 0, Ct));
        Assert.True(await store.TrySpendBudgetAsync("c-2", "qj-1", 0.25, 0, Ct));

        Assert.Equal(0.5, (await store.GetCohortAsync("c-1", Ct))!.EpsilonSpent, 12);
        Assert.Equal(0.25, (await store.GetCohortAsync("c-2", Ct))!.EpsilonSpent, 12);
    }
}
