using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The cohort contract plus durability: data written by one instance is read by the next instance over the same
/// database (<see cref="ReopenStoreAsync"/>). Every production store (SQLite file, PostgreSQL) derives from this.
/// </summary>
public abstract class DurableCohortStoreContract : CohortStoreContract
{
    /// <summary>Opens and initializes a new instance over the database of the last <see cref="CohortStoreContract.CreateStoreAsync"/>.</summary>
    protected abstract Task<ICohortStore> ReopenStoreAsync();

    /// <summary><see cref="ReopenStoreAsync"/>, disposed after the test.</summary>
    protected async Task<ICohortStore> ReopenAsync() => Track(await ReopenStoreAsync());

    [Fact]
    public async Task Reopen_AfterDispose_CohortLedgerAggregateAndBudgetSurvive()
    {
        var store = await StoreWithCohortAsync(epsilon: 1.0, delta: 1e-5);
        await store.CreateCohortAsync(Cohort("c-2", state: "closed"), Ct);
        await AddAsync(store, "p-1", 10);
        await AddAsync(store, "p-2", 20);
        await AddAsync(store, "p-1", 11);
        await store.RevokeContributionAsync("c-1", "p-2", T0.AddSeconds(3), Ct);
        var events = await store.ListContributionEventsAsync("c-1", 0, 100, Ct);
        var aggregate = await store.SaveCohortAggregateAsync(
            new CohortAggregateRecord { CohortId = "c-1", Ciphertext = [4, 2], Contributors = 1, ThroughSequence = events[^1].Sequence },
            Ct);
        Assert.True(await store.TrySpendBudgetAsync("c-1", "qj-1", 0.75, 1e-6, Ct));
        var cohort = await store.GetCohortAsync("c-1", Ct);
        await DisposeStoreAsync(store);

        var reopened = await ReopenAsync();

        Assert.Equal(cohort, await reopened.GetCohortAsync("c-1", Ct));
        Assert.Equal(["c-1", "c-2"], (await reopened.ListCohortsAsync(Ct)).Select(c => c.CohortId));
        Assert.Equal(events, await reopened.ListContributionEventsAsync("c-1", 0, 100, Ct), ContributionEventComparer.Instance);
        Assert.Equal(1, await reopened.CountActiveContributionsAsync("c-1", Ct));
        Assert.Equal(ContributionOutcome.Duplicate, await AddAsync(reopened, "p-1", 11));
        Assert.Equal(ContributionOutcome.CohortClosed, await AddAsync(reopened, "p-1", 11, cohort: "c-2"));
        var stored = await reopened.GetCohortAggregateAsync("c-1", Ct);
        Assert.Equal([4, 2], stored!.Ciphertext);
        Assert.Equal(aggregate!.ThroughSequence, stored.ThroughSequence);
        Assert.Equal(1, stored.Version);
        Assert.Null(await reopened.SaveCohortAggregateAsync(stored with { Version = 0 }, Ct));
        Assert.True(await reopened.TrySpendBudgetAsync("c-1", "qj-1", 0.75, 1e-6, Ct)); // spent before the reopen: not again
        Assert.False(await reopened.TrySpendBudgetAsync("c-1", "qj-2", 0.3, 0, Ct));
        Assert.True(await reopened.TrySpendBudgetAsync("c-1", "qj-3", 0.25, 0, Ct));
    }

    [Fact]
    public async Task Reopen_SequenceKeepsIncreasingAndReplaceSubtractsTheStoredBytes()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        await AddAsync(store, "p-2", 20);
        await store.RevokeContributionAsync("c-1", "p-2", T0, Ct);
        var last = (await store.ListContributionEventsAsync("c-1", 0, 100, Ct))[^1].Sequence;
        await DisposeStoreAsync(store);

        var reopened = await ReopenAsync();
        Assert.Equal(ContributionOutcome.Replaced, await AddAsync(reopened, "p-1", 12));

        var events = await reopened.ListContributionEventsAsync("c-1", last, 100, Ct);
        Assert.Equal(2, events.Count);
        Assert.True(events[0].Sequence > last);
        AssertEvent(events[0], ContributionEventKind.Subtract, "p-1", Ciphertext(10), T0);
        AssertEvent(events[1], ContributionEventKind.Add, "p-1", Ciphertext(12), T0);
        Assert.Equal(new Dictionary<string, string> { ["p-1"] = ContentId(Ciphertext(12)) }, Fold(await AllEventsAsync(reopened)));
    }

    private sealed class ContributionEventComparer : IEqualityComparer<ContributionEvent>
    {
        public static readonly ContributionEventComparer Instance = new();

        public bool Equals(ContributionEvent? x, ContributionEvent? y) =>
            x is not null && y is not null
            && x.CohortId == y.CohortId
            && x.Sequence == y.Sequence
            && x.ParticipantId == y.ParticipantId
            && x.Kind == y.Kind
            && x.Ciphertext.AsSpan().SequenceEqual(y.Ciphertext)
            && x.ContentId == y.ContentId
            && x.At == y.At;

        public int GetHashCode(ContributionEvent obj) => obj.Sequence.GetHashCode();
    }
}
