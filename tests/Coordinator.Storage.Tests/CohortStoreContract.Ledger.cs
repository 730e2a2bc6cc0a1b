using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CohortStoreContract
{
    [Fact]
    public async Task AddContribution_First_StoredWithOneAddEvent()
    {
        var store = await StoreWithCohortAsync();

        Assert.Equal(ContributionOutcome.Stored, await AddAsync(store, "p-1", 10, second: 1));

        var e = Assert.Single(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
        AssertEvent(e, ContributionEventKind.Add, "p-1", Ciphertext(10), T0.AddSeconds(1));
        Assert.Equal(1, await store.CountActiveContributionsAsync("c-1", Ct));
    }

    [Fact]
    public async Task AddContribution_EmptyCiphertext_RoundTrips()
    {
        var store = await StoreWithCohortAsync();

        Assert.Equal(ContributionOutcome.Stored, await store.AddContributionAsync("c-1", "p-1", [], "empty", T0, Ct));
        Assert.True(await store.RevokeContributionAsync("c-1", "p-1", T0, Ct));

        var events = await store.ListContributionEventsAsync("c-1", 0, 10, Ct);
        Assert.Equal([ContributionEventKind.Add, ContributionEventKind.Subtract], events.Select(e => e.Kind));
        Assert.All(events, e => Assert.Empty(e.Ciphertext));
    }

    [Fact]
    public async Task AddContribution_SameContent_DuplicateAndNothingAppended()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);

        Assert.Equal(ContributionOutcome.Duplicate, await AddAsync(store, "p-1", 10, second: 5));
        // Same content id is what counts (the bytes are identified by it).
        Assert.Equal(ContributionOutcome.Duplicate, await store.AddContributionAsync("c-1", "p-1", [9, 9], ContentId(Ciphertext(10)), T0, Ct));

        var e = Assert.Single(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
        AssertEvent(e, ContributionEventKind.Add, "p-1", Ciphertext(10), T0);
        Assert.Equal(1, await store.CountActiveContributionsAsync("c-1", Ct));
    }

    [Fact]
    public async Task AddContribution_DifferentContent_ReplacedWithSubtractOldThenAddNew()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);

        Assert.Equal(ContributionOutcome.Replaced, await AddAsync(store, "p-1", 20, second: 2));

        var events = await store.ListContributionEventsAsync("c-1", 0, 10, Ct);
        Assert.Equal(3, events.Count);
        AssertEvent(events[0], ContributionEventKind.Add, "p-1", Ciphertext(10), T0);
        AssertEvent(events[1], ContributionEventKind.Subtract, "p-1", Ciphertext(10), T0.AddSeconds(2));
        AssertEvent(events[2], ContributionEventKind.Add, "p-1", Ciphertext(20), T0.AddSeconds(2));
        Assert.Equal(events[1].Sequence + 1, events[2].Sequence);
        Assert.Equal(1, await store.CountActiveContributionsAsync("c-1", Ct));
        Assert.Equal(new Dictionary<string, string> { ["p-1"] = ContentId(Ciphertext(20)) }, Fold(events));
    }

    [Fact]
    public async Task AddContribution_BackToEarlierContent_ReplacedAgain()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        await AddAsync(store, "p-1", 20);

        Assert.Equal(ContributionOutcome.Replaced, await AddAsync(store, "p-1", 10));

        var events = await store.ListContributionEventsAsync("c-1", 0, 10, Ct);
        Assert.Equal(5, events.Count);
        AssertEvent(events[3], ContributionEventKind.Subtract, "p-1", Ciphertext(20), T0);
        Assert.Equal(new Dictionary<string, string> { ["p-1"] = ContentId(Ciphertext(10)) }, Fold(events));
    }

    [Fact]
    public async Task RevokeContribution_Active_AppendsSubtractOfActiveBytes()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        await AddAsync(store, "p-1", 20);
        await AddAsync(store, "p-2", 30);

        Assert.True(await store.RevokeContributionAsync("c-1", "p-1", T0.AddSeconds(9), Ct));

        var events = await store.ListContributionEventsAsync("c-1", 0, 10, Ct);
        Assert.Equal(5, events.Count);
        AssertEvent(events[^1], ContributionEventKind.Subtract, "p-1", Ciphertext(20), T0.AddSeconds(9));
        Assert.Equal(1, await store.CountActiveContributionsAsync("c-1", Ct));
        Assert.Equal(new Dictionary<string, string> { ["p-2"] = ContentId(Ciphertext(30)) }, Fold(events));
    }

    [Fact]
    public async Task RevokeContribution_Twice_SecondReturnsFalseAndAppendsNothing()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        Assert.True(await store.RevokeContributionAsync("c-1", "p-1", T0, Ct));

        Assert.False(await store.RevokeContributionAsync("c-1", "p-1", T0, Ct));

        Assert.Equal(2, (await store.ListContributionEventsAsync("c-1", 0, 10, Ct)).Count);
        Assert.Equal(0, await store.CountActiveContributionsAsync("c-1", Ct));
    }

    [Fact]
    public async Task RevokeContribution_NoContributionOrUnknownCohort_ReturnsFalse()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);

        Assert.False(await store.RevokeContributionAsync("c-1", "p-2", T0, Ct));
        Assert.False(await store.RevokeContributionAsync("c-x", "p-1", T0, Ct));

        Assert.Single(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
    }

    [Fact]
    public async Task AddContribution_AfterRevoke_StoredAgain()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        await store.RevokeContributionAsync("c-1", "p-1", T0, Ct);

        // Even the same content is a new contribution once the old one was revoked.
        Assert.Equal(ContributionOutcome.Stored, await AddAsync(store, "p-1", 10));

        var events = await store.ListContributionEventsAsync("c-1", 0, 10, Ct);
        Assert.Equal([ContributionEventKind.Add, ContributionEventKind.Subtract, ContributionEventKind.Add], events.Select(e => e.Kind));
        Assert.Equal(1, await store.CountActiveContributionsAsync("c-1", Ct));
        Assert.Equal(new Dictionary<string, string> { ["p-1"] = ContentId(Ciphertext(10)) }, Fold(events));
    }

    [Fact]
    public async Task AddContribution_ClosedCohort_CohortClosedAndNothingAppended()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        var open = await store.GetCohortAsync("c-1", Ct);
        await store.UpdateCohortAsync(open! with { State = "closed" }, Ct);

        Assert.Equal(ContributionOutcome.CohortClosed, await AddAsync(store, "p-2", 20));
        Assert.Equal(ContributionOutcome.CohortClosed, await AddAsync(store, "p-1", 11));

        Assert.Single(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
        Assert.Equal(1, await store.CountActiveContributionsAsync("c-1", Ct));
    }

    [Fact]
    public async Task AddContribution_ClosedCohortSameContent_DuplicateSoARetryLearnsItIsCounted()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        var open = await store.GetCohortAsync("c-1", Ct);
        await store.UpdateCohortAsync(open! with { State = "closed" }, Ct);

        Assert.Equal(ContributionOutcome.Duplicate, await AddAsync(store, "p-1", 10));

        Assert.Single(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
    }

    [Fact]
    public async Task AddContribution_CohortCreatedClosed_CohortClosed()
    {
        var store = await NewStoreAsync();
        await store.CreateCohortAsync(Cohort(state: "closed"), Ct);

        Assert.Equal(ContributionOutcome.CohortClosed, await AddAsync(store, "p-1", 10));

        Assert.Empty(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
    }

    [Fact]
    public async Task RevokeContribution_ClosedCohort_StillSubtracts()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        var open = await store.GetCohortAsync("c-1", Ct);
        await store.UpdateCohortAsync(open! with { State = "closed" }, Ct);

        Assert.True(await store.RevokeContributionAsync("c-1", "p-1", T0, Ct));

        Assert.Equal(0, await store.CountActiveContributionsAsync("c-1", Ct));
    }

    [Fact]
    public async Task AddContribution_UnknownCohort_UnknownCohortAndNothingAppended()
    {
        var store = await StoreWithCohortAsync();

        Assert.Equal(ContributionOutcome.UnknownCohort, await AddAsync(store, "p-1", 10, cohort: "c-x"));

        Assert.Empty(await store.ListContributionEventsAsync("c-x", 0, 10, Ct));
        Assert.Empty(await store.ListContributionEventsAsync("c-1", 0, 10, Ct));
        Assert.Equal(0, await store.CountActiveContributionsAsync("c-x", Ct));
    }

    [Fact]
    public async Task CountActiveContributions_PerCohort_AddsMinusRevokes()
    {
        var store = await StoreWithCohortAsync();
        await store.CreateCohortAsync(Cohort("c-2"), Ct);
        Assert.Equal(0, await store.CountActiveContributionsAsync("c-1", Ct));
        for (var i = 0; i < 5; i++)
        {
            await AddAsync(store, $"p-{i}", i);
        }

        await AddAsync(store, "p-0", 100);
        await AddAsync(store, "p-1", 1);
        await store.RevokeContributionAsync("c-1", "p-2", T0, Ct);
        await AddAsync(store, "p-0", 7, cohort: "c-2");

        Assert.Equal(4, await store.CountActiveContributionsAsync("c-1", Ct));
        Assert.Equal(1, await store.CountActiveContributionsAsync("c-2", Ct));
        Assert.Equal(0, await store.CountActiveContributionsAsync("c-x", Ct));
    }

    [Fact]
    public async Task ListContributionEvents_Pages_ConcatenateToTheOrderedLedgerOfTheCohort()
    {
        var store = await StoreWithCohortAsync();
        await store.CreateCohortAsync(Cohort("c-2"), Ct);
        for (var i = 0; i < 10; i++)
        {
            await AddAsync(store, $"p-{i % 4}", i);
            await AddAsync(store, $"q-{i % 3}", 1000 + i, cohort: "c-2");
        }

        var all = await store.ListContributionEventsAsync("c-1", 0, 1000, Ct);
        var other = await store.ListContributionEventsAsync("c-2", 0, 1000, Ct);

        Assert.Equal(16, all.Count); // 10 adds and 6 subtracts (4 first contributions, 6 replacements)
        Assert.All(all, e => Assert.Equal("c-1", e.CohortId));
        Assert.All(other, e => Assert.Equal("c-2", e.CohortId));
        Assert.Equal(all.Select(e => e.Sequence).Order(), all.Select(e => e.Sequence));
        Assert.Empty(all.Select(e => e.Sequence).Intersect(other.Select(e => e.Sequence)));
        Assert.Equal(all.Select(e => e.Sequence), (await AllEventsAsync(store, pageSize: 3)).Select(e => e.Sequence));
        Assert.Equal(all.Select(e => e.Sequence), (await AllEventsAsync(store, pageSize: 1)).Select(e => e.Sequence));

        var middle = await store.ListContributionEventsAsync("c-1", all[4].Sequence, 5, Ct);
        Assert.Equal(all.Skip(5).Take(5).Select(e => e.Sequence), middle.Select(e => e.Sequence));
        // afterSequence need not be a sequence of this cohort.
        var fromOther = await store.ListContributionEventsAsync("c-1", other[0].Sequence, 1000, Ct);
        Assert.Equal(all.Where(e => e.Sequence > other[0].Sequence).Select(e => e.Sequence), fromOther.Select(e => e.Sequence));
        Assert.Empty(await store.ListContributionEventsAsync("c-1", all[^1].Sequence, 10, Ct));
        Assert.Empty(await store.ListContributionEventsAsync("c-1", long.MaxValue, 10, Ct));
        Assert.Empty(await store.ListContributionEventsAsync("c-x", 0, 10, Ct));
    }

    [Fact]
    public async Task Sequence_StrictlyIncreasingAcrossTheStore()
    {
        var store = await StoreWithCohortAsync();
        await store.CreateCohortAsync(Cohort("c-2"), Ct);
        await AddAsync(store, "p-1", 1);
        await AddAsync(store, "p-1", 1, cohort: "c-2");
        await AddAsync(store, "p-1", 2);
        await store.RevokeContributionAsync("c-2", "p-1", T0, Ct);
        await AddAsync(store, "p-2", 3);

        var sequences = (await store.ListContributionEventsAsync("c-1", 0, 100, Ct))
            .Concat(await store.ListContributionEventsAsync("c-2", 0, 100, Ct))
            .Select(e => e.Sequence)
            .Order()
            .ToList();

        Assert.Equal(6, sequences.Distinct().Count());
        Assert.All(sequences, s => Assert.True(s > 0));
    }

    [Fact]
    public async Task AddContribution_SameParticipantConcurrently_LedgerStaysConsistent()
    {
        var store = await StoreWithCohortAsync();

        var outcomes = await InParallelAsync(40, i => AddAsync(store, "p-1", i % 5));

        Assert.Equal(1, outcomes.Count(o => o == ContributionOutcome.Stored));
        Assert.All(outcomes, o => Assert.Contains(o, new[] { ContributionOutcome.Stored, ContributionOutcome.Replaced, ContributionOutcome.Duplicate }));
        var events = await AllEventsAsync(store);
        var replaced = outcomes.Count(o => o == ContributionOutcome.Replaced);
        Assert.Equal(1 + (2 * replaced), events.Count);
        var lastAdd = events.Last(e => e.Kind == ContributionEventKind.Add);
        Assert.Equal(new Dictionary<string, string> { ["p-1"] = lastAdd.ContentId }, Fold(events));
        Assert.Equal(1, await store.CountActiveContributionsAsync("c-1", Ct));
        Assert.Equal(ContributionOutcome.Duplicate, await store.AddContributionAsync("c-1", "p-1", lastAdd.Ciphertext, lastAdd.ContentId, T0, Ct));
    }

    [Fact]
    public async Task AddAndRevoke_ManyParticipantsConcurrently_FoldEqualsActiveSet()
    {
        var store = await StoreWithCohortAsync();

        await InParallelAsync(
            120,
            async i =>
            {
                var participant = $"p-{i % 12}";
                if (i % 7 == 3)
                {
                    await store.RevokeContributionAsync("c-1", participant, T0, Ct);
                }
                else
                {
                    await AddAsync(store, participant, i % 3);
                }

                return 0;
            });

        var active = Fold(await AllEventsAsync(store, pageSize: 7));
        Assert.Equal(active.Count, await store.CountActiveContributionsAsync("c-1", Ct));
        foreach (var (participant, contentId) in active)
        {
            var bytes = Ciphertext(Enumerable.Range(0, 3).Single(v => ContentId(Ciphertext(v)) == contentId));
            Assert.Equal(ContributionOutcome.Duplicate, await store.AddContributionAsync("c-1", participant, bytes, contentId, T0, Ct));
        }
    }

    public static TheoryData<int> FoldSeeds => [1, 2, 3, 4, 5];

    /// <summary>
    /// Property: for a random sequence of adds, replacements, duplicates and revokes (checked one by one against a
    /// model), the fold of the ledger equals the model's active set, and an incremental fold of the encrypted sum
    /// (pages, CAS-saved aggregate with watermark) equals the sum of the active contributions.
    /// </summary>
    [Theory]
    [MemberData(nameof(FoldSeeds))]
    public async Task Ledger_RandomOperations_FoldEqualsActiveContributions(int seed)
    {
        var random = new Random(seed);
        var store = await StoreWithCohortAsync();
        await store.CreateCohortAsync(Cohort("c-noise"), Ct);
        var model = new Dictionary<string, long>();
        for (var step = 0; step < 150; step++)
        {
            var participant = $"p-{random.Next(6)}";
            var value = (random.Next(4) * 1000) + random.Next(6); // a few distinct contents per participant
            switch (random.Next(10))
            {
                case < 6:
                    var expected = !model.TryGetValue(participant, out var current) ? ContributionOutcome.Stored
                        : current == value ? ContributionOutcome.Duplicate
                        : ContributionOutcome.Replaced;
                    Assert.Equal(expected, await AddAsync(store, participant, value, second: step));
                    model[participant] = value;
                    break;
                case < 8:
                    Assert.Equal(model.Remove(participant), await store.RevokeContributionAsync("c-1", participant, T0.AddSeconds(step), Ct));
                    break;
                case 8:
                    await AddAsync(store, participant, value, cohort: "c-noise");
                    break;
                default:
                    await FoldIncrementallyAsync(store, pageSize: 1 + random.Next(5));
                    break;
            }
        }

        var events = await AllEventsAsync(store, pageSize: 1 + random.Next(7));
        Assert.Equal(model.ToDictionary(kv => kv.Key, kv => ContentId(Ciphertext(kv.Value))), Fold(events));
        Assert.Equal(model.Count, await store.CountActiveContributionsAsync("c-1", Ct));

        var aggregate = await FoldIncrementallyAsync(store, pageSize: 4);
        Assert.Equal(events.Count == 0 ? 0 : events[^1].Sequence, aggregate.ThroughSequence);
        Assert.Equal(model.Count, aggregate.Contributors);
        Assert.Equal(model.Values.Sum(), aggregate.Ciphertext is null ? 0 : ValueOf(aggregate.Ciphertext));
    }

    /// <summary>
    /// What an aggregator does: reads the events after the stored watermark, folds them into the toy sum and saves
    /// by compare-and-set; returns the saved aggregate.
    /// </summary>
    private static async Task<CohortAggregateRecord> FoldIncrementallyAsync(ICohortStore store, int pageSize)
    {
        var aggregate = await store.GetCohortAggregateAsync("c-1", Ct) ?? new CohortAggregateRecord { CohortId = "c-1" };
        while (true)
        {
            var page = await store.ListContributionEventsAsync("c-1", aggregate.ThroughSequence, pageSize, Ct);
            if (page.Count == 0)
            {
                return aggregate;
            }

            var sum = aggregate.Ciphertext is null ? 0 : ValueOf(aggregate.Ciphertext);
            var contributors = aggregate.Contributors;
            foreach (var e in page)
            {
                var sign = e.Kind == ContributionEventKind.Add ? 1 : -1;
                sum += sign * ValueOf(e.Ciphertext);
                contributors += sign;
            }

            var saved = await store.SaveCohortAggregateAsync(
                aggregate with { Ciphertext = contributors == 0 ? null : Ciphertext(sum, tail: 0), Contributors = contributors, ThroughSequence = page[^1].Sequence },
                Ct);
            Assert.NotNull(saved);
            Assert.Equal(aggregate.Version + 1, saved.Version);
            aggregate = saved;
        }
    }
}
