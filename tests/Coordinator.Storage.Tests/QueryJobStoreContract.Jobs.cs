using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class QueryJobStoreContract
{
    // ---- CreateQueryJob outcomes

    [Fact]
    public async Task CreateQueryJob_ValidQuote_CreatedWithVersionOneAndQuoteUsed()
    {
        var store = await StoreWithQuoteAsync();
        var job = Job(key: "k-1") with { Version = 9, Message = "queued", Data = """{"step":0}""", UpdatedAt = Now.AddSeconds(1) };

        var (created, outcome) = await store.CreateQueryJobAsync(job, Now, Ct);

        Assert.Equal(CreateQueryJobOutcome.Created, outcome);
        AssertJob(job, created, version: 1);
        AssertJob(job, await store.GetQueryJobAsync("qj-1", Ct), version: 1);
        AssertQuote(Quote(), await store.GetQuoteAsync("q-1", Ct), jobId: "qj-1");
    }

    [Fact]
    public async Task CreateQueryJob_UnknownQuote_ReturnsUnknownQuoteAndStoresNothing()
    {
        var store = await StoreWithQuoteAsync();

        var (job, outcome) = await store.CreateQueryJobAsync(Job(quote: "q-x", key: "k-1"), Now, Ct);

        Assert.Equal(CreateQueryJobOutcome.UnknownQuote, outcome);
        Assert.Null(job);
        await AssertNothingChangedAsync(store);
        // The idempotency key was not consumed.
        Assert.Equal(CreateQueryJobOutcome.Created, (await store.CreateQueryJobAsync(Job(key: "k-1"), Now, Ct)).Outcome);
    }

    [Theory]
    [InlineData("researcher")]
    [InlineData("cohort")]
    [InlineData("text")]
    [InlineData("text-case")]
    public async Task CreateQueryJob_QuoteOfAnotherResearcherCohortOrQuery_ReturnsQuoteMismatch(string differs)
    {
        var store = await StoreWithQuoteAsync();
        var job = differs switch
        {
            "researcher" => Job(researcher: "r-2"),
            "cohort" => Job(cohort: "c-2"),
            "text" => Job(text: QueryText + " AND age > 40"),
            _ => Job(text: QueryText.ToLowerInvariant()),
        };

        var (created, outcome) = await store.CreateQueryJobAsync(job, Now, Ct);

        Assert.Equal(CreateQueryJobOutcome.QuoteMismatch, outcome);
        Assert.Null(created);
        await AssertNothingChangedAsync(store);
    }

    [Fact]
    public async Task CreateQueryJob_AtExpiry_ReturnsQuoteExpiredButOneMillisecondBefore_Created()
    {
        var store = await StoreWithQuoteAsync();

        var atExpiry = await store.CreateQueryJobAsync(Job(), Expires, Ct);
        var after = await store.CreateQueryJobAsync(Job(), Expires.AddDays(1), Ct);

        Assert.Equal((null, CreateQueryJobOutcome.QuoteExpired), atExpiry);
        Assert.Equal((null, CreateQueryJobOutcome.QuoteExpired), after);
        await AssertNothingChangedAsync(store);

        var (job, outcome) = await store.CreateQueryJobAsync(Job(), Expires.AddMilliseconds(-1), Ct);
        Assert.Equal(CreateQueryJobOutcome.Created, outcome);
        Assert.Equal("qj-1", job!.JobId);
    }

    [Fact]
    public async Task CreateQueryJob_QuoteUsedByJobA_JobBGetsQuoteUsedAndAIsUnchanged()
    {
        var store = await StoreWithQuoteAsync();
        var a = (await store.CreateQueryJobAsync(Job("qj-a", key: "k-a"), Now, Ct)).Job;

        var (b, outcome) = await store.CreateQueryJobAsync(Job("qj-b", key: "k-b"), Now, Ct);
        var again = await store.CreateQueryJobAsync(Job("qj-a"), Now, Ct);

        Assert.Equal(CreateQueryJobOutcome.QuoteUsed, outcome);
        Assert.Null(b);
        Assert.Equal((null, CreateQueryJobOutcome.QuoteUsed), again);
        Assert.Null(await store.GetQueryJobAsync("qj-b", Ct));
        AssertJob(Job("qj-a", key: "k-a"), await store.GetQueryJobAsync("qj-a", Ct), version: 1);
        AssertJob(a!, Assert.Single(await store.ListQueryJobsAsync(cancellationToken: Ct)), version: 1);
        Assert.Equal("qj-a", (await store.GetQuoteAsync("q-1", Ct))!.JobId);
    }

    [Fact]
    public async Task CreateQueryJob_ChecksInOrder_IdempotencyQuoteMismatchExpiryUse()
    {
        var store = await StoreWithQuoteAsync();
        await store.CreateQueryJobAsync(Job("qj-a", key: "k-a"), Now, Ct);
        var late = Expires.AddSeconds(1);

        // Existing wins over everything: another (unknown) quote, another cohort, another text, after expiry.
        var existing = await store.CreateQueryJobAsync(Job("qj-z", quote: "q-x", cohort: "c-2", key: "k-a", text: "x"), late, Ct);
        Assert.Equal(CreateQueryJobOutcome.Existing, existing.Outcome);
        Assert.Equal("qj-a", existing.Job!.JobId);

        // q-1 is used and expired at `late`: a mismatching request is reported first, then the expiry, then the use.
        Assert.Equal(CreateQueryJobOutcome.QuoteMismatch, (await store.CreateQueryJobAsync(Job("qj-b", researcher: "r-2"), late, Ct)).Outcome);
        Assert.Equal(CreateQueryJobOutcome.QuoteExpired, (await store.CreateQueryJobAsync(Job("qj-b"), late, Ct)).Outcome);
        Assert.Equal(CreateQueryJobOutcome.QuoteUsed, (await store.CreateQueryJobAsync(Job("qj-b"), Now, Ct)).Outcome);
        Assert.Single(await store.ListQueryJobsAsync(cancellationToken: Ct));
    }

    // ---- idempotency

    [Fact]
    public async Task CreateQueryJob_SameIdempotencyKeyTwice_SecondReturnsExistingAndQuoteUsedOnce()
    {
        var store = await StoreWithQuoteAsync();
        var (first, firstOutcome) = await store.CreateQueryJobAsync(Job("qj-1", key: "k-1"), Now, Ct);

        var (second, secondOutcome) = await store.CreateQueryJobAsync(Job("qj-2", key: "k-1") with { State = "counting" }, Now.AddSeconds(5), Ct);

        Assert.Equal(CreateQueryJobOutcome.Created, firstOutcome);
        Assert.Equal(CreateQueryJobOutcome.Existing, secondOutcome);
        AssertJob(first!, second, version: 1);
        Assert.Null(await store.GetQueryJobAsync("qj-2", Ct));
        Assert.Single(await store.ListQueryJobsAsync(cancellationToken: Ct));
        Assert.Equal("qj-1", (await store.GetQuoteAsync("q-1", Ct))!.JobId);
    }

    [Fact]
    public async Task CreateQueryJob_ExistingAfterUpdate_ReturnsTheCurrentRecord()
    {
        var store = await StoreWithQuoteAsync();
        var (first, _) = await store.CreateQueryJobAsync(Job(key: "k-1"), Now, Ct);
        var updated = await store.UpdateQueryJobAsync(first! with { State = "completed", Data = "{}" }, Ct);

        var (again, outcome) = await store.CreateQueryJobAsync(Job(key: "k-1"), Now, Ct);

        Assert.Equal(CreateQueryJobOutcome.Existing, outcome);
        AssertJob(updated!, again, version: 2);
    }

    [Fact]
    public async Task CreateQueryJob_SameKeyOfAnotherResearcher_IsIndependent()
    {
        var store = await StoreWithQuoteAsync();
        await store.CreateQuoteAsync(Quote("q-2", researcher: "r-2"), Ct);
        await store.CreateQueryJobAsync(Job("qj-1", key: "k"), Now, Ct);

        var (job, outcome) = await store.CreateQueryJobAsync(Job("qj-2", quote: "q-2", researcher: "r-2", key: "k"), Now, Ct);

        Assert.Equal(CreateQueryJobOutcome.Created, outcome);
        Assert.Equal("qj-2", job!.JobId);
        Assert.Equal(2, (await store.ListQueryJobsAsync(cancellationToken: Ct)).Count);
    }

    [Fact]
    public async Task CreateQueryJob_WithoutKeys_JobsOnDifferentQuotesAreAllCreated()
    {
        var store = await StoreWithQuoteAsync();
        await store.CreateQuoteAsync(Quote("q-2"), Ct);
        await store.CreateQuoteAsync(Quote("q-3"), Ct);

        var outcomes = new[]
        {
            (await store.CreateQueryJobAsync(Job("qj-1", quote: "q-1"), Now, Ct)).Outcome,
            (await store.CreateQueryJobAsync(Job("qj-2", quote: "q-2"), Now, Ct)).Outcome,
            (await store.CreateQueryJobAsync(Job("qj-3", quote: "q-3"), Now, Ct)).Outcome,
        };

        Assert.All(outcomes, o => Assert.Equal(CreateQueryJobOutcome.Created, o));
        Assert.All(await store.ListQueryJobsAsync(cancellationToken: Ct), j => Assert.Null(j.IdempotencyKey));
    }

    [Fact]
    public async Task CreateQueryJob_ExistingJobIdOnAnotherQuote_ThrowsStoreConflictAndKeepsTheQuoteUnused()
    {
        var store = await StoreWithQuoteAsync();
        await store.CreateQuoteAsync(Quote("q-2"), Ct);
        await store.CreateQueryJobAsync(Job("qj-1"), Now, Ct);

        await Assert.ThrowsAsync<StoreConflictException>(() => store.CreateQueryJobAsync(Job("qj-1", quote: "q-2"), Now, Ct));

        Assert.Null((await store.GetQuoteAsync("q-2", Ct))!.JobId);
        Assert.Equal("q-1", (await store.GetQueryJobAsync("qj-1", Ct))!.QuoteId);
    }

    // ---- get, list

    [Fact]
    public async Task GetQueryJob_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.GetQueryJobAsync("qj-x", Ct));
    }

    [Fact]
    public async Task ListQueryJobs_SeveralCohorts_CreationOrderAndCohortFilter()
    {
        var store = await StoreWithQuoteAsync();
        Assert.Empty(await store.ListQueryJobsAsync(cancellationToken: Ct));
        (string Job, string Cohort)[] jobs = [("qj-c", "c-2"), ("qj-a", "c-1"), ("qj-d", "c-2"), ("qj-b", "c-1")];
        foreach (var (id, cohort) in jobs)
        {
            await CreateJobWithQuoteAsync(store, Quote("q-" + id, cohort: cohort), Job(id, quote: "q-" + id, cohort: cohort));
        }

        Assert.Equal(jobs.Select(j => j.Job), (await store.ListQueryJobsAsync(cancellationToken: Ct)).Select(j => j.JobId));
        Assert.Equal(["qj-a", "qj-b"], (await store.ListQueryJobsAsync("c-1", Ct)).Select(j => j.JobId));
        Assert.Equal(["qj-c", "qj-d"], (await store.ListQueryJobsAsync("c-2", Ct)).Select(j => j.JobId));
        Assert.Empty(await store.ListQueryJobsAsync("c-x", Ct));
    }

    // ---- update

    [Fact]
    public async Task UpdateQueryJob_MatchingVersion_ChangesStateMessageDataUpdatedAtOnly()
    {
        var store = await StoreWithQuoteAsync();
        var (v1, _) = await store.CreateQueryJobAsync(Job(key: "k-1"), Now, Ct);
        var changed = v1! with
        {
            State = "failed",
            Message = "too few contributors",
            Data = """{"count":3}""",
            UpdatedAt = Now.AddMinutes(2),
            QuoteId = "q-other",
            CohortId = "c-2",
            ResearcherId = "r-2",
            IdempotencyKey = "k-other",
            QueryText = "other",
            ResearcherPublicKey = [9, 9],
            CreatedAt = T0.AddDays(3),
        };

        var updated = await store.UpdateQueryJobAsync(changed, Ct);

        var expected = v1 with { State = "failed", Message = "too few contributors", Data = """{"count":3}""", UpdatedAt = Now.AddMinutes(2) };
        AssertJob(expected, updated, version: 2);
        AssertJob(expected, await store.GetQueryJobAsync("qj-1", Ct), version: 2);
        Assert.Equal(["qj-1"], (await store.ListQueryJobsAsync("c-1", Ct)).Select(j => j.JobId));
        Assert.Equal("qj-1", (await store.GetQuoteAsync("q-1", Ct))!.JobId);
    }

    [Fact]
    public async Task UpdateQueryJob_MessageAndDataBackToNull_Stored()
    {
        var store = await StoreWithQuoteAsync();
        var (v1, _) = await store.CreateQueryJobAsync(Job() with { Message = "m", Data = "d" }, Now, Ct);

        var updated = await store.UpdateQueryJobAsync(v1! with { State = "counting", Message = null, Data = null }, Ct);

        Assert.Null(updated!.Message);
        Assert.Null(updated.Data);
        Assert.Equal("counting", updated.State);
    }

    [Fact]
    public async Task UpdateQueryJob_StaleVersion_ReturnsNullAndChangesNothing()
    {
        var store = await StoreWithQuoteAsync();
        var (v1, _) = await store.CreateQueryJobAsync(Job(), Now, Ct);
        var v2 = await store.UpdateQueryJobAsync(v1! with { State = "counting" }, Ct);

        Assert.Null(await store.UpdateQueryJobAsync(v1 with { State = "cancelled" }, Ct));
        Assert.Null(await store.UpdateQueryJobAsync(v1 with { State = "cancelled", Version = 3 }, Ct));

        AssertJob(v2!, await store.GetQueryJobAsync("qj-1", Ct), version: 2);
        var v3 = await store.UpdateQueryJobAsync(v2! with { State = "computing" }, Ct);
        Assert.Equal(3, v3!.Version);
    }

    [Fact]
    public async Task UpdateQueryJob_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.UpdateQueryJobAsync(Job("qj-x") with { Version = 1 }, Ct));
        Assert.Empty(await store.ListQueryJobsAsync(cancellationToken: Ct));
    }

    // ---- arguments

    [Fact]
    public async Task QueryJob_InvalidArguments_Throw()
    {
        var store = await StoreWithQuoteAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.GetQueryJobAsync("", Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQueryJobAsync(Job(id: ""), Now, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQueryJobAsync(Job(quote: ""), Now, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQueryJobAsync(Job(cohort: ""), Now, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQueryJobAsync(Job(researcher: ""), Now, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQueryJobAsync(Job() with { State = "" }, Now, Ct));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.CreateQueryJobAsync(Job() with { ResearcherPublicKey = null! }, Now, Ct));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.CreateQueryJobAsync(null!, Now, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.UpdateQueryJobAsync(Job(id: "") with { Version = 1 }, Ct));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.UpdateQueryJobAsync(null!, Ct));

        await AssertNothingChangedAsync(store);
    }
}
