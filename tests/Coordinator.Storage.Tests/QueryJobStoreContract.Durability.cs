using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The query-job contract plus durability: data written by one instance is read by the next instance over the same
/// database (<see cref="ReopenStoreAsync"/>). Every production store (SQLite file, PostgreSQL) derives from this.
/// </summary>
public abstract class DurableQueryJobStoreContract : QueryJobStoreContract
{
    /// <summary>Opens and initializes a new instance over the database of the last <see cref="QueryJobStoreContract.CreateStoreAsync"/>.</summary>
    protected abstract Task<IQueryJobStore> ReopenStoreAsync();

    /// <summary><see cref="ReopenStoreAsync"/>, disposed after the test.</summary>
    protected async Task<IQueryJobStore> ReopenAsync() => Track(await ReopenStoreAsync());

    [Fact]
    public async Task Reopen_AfterDispose_QuotesJobsUseAndIdempotencySurvive()
    {
        var store = await StoreWithQuoteAsync();
        await store.CreateQuoteAsync(Quote("q-2", cohort: "c-2"), Ct);
        var (v1, _) = await store.CreateQueryJobAsync(Job("qj-1", key: "k-1") with { ResearcherPublicKey = [7, 0, 255] }, Now, Ct);
        var v2 = await store.UpdateQueryJobAsync(v1! with { State = "computing", Data = """{"n":42}""", UpdatedAt = Now.AddSeconds(30) }, Ct);
        await DisposeStoreAsync(store);

        var reopened = await ReopenAsync();

        AssertQuote(Quote(), await reopened.GetQuoteAsync("q-1", Ct), jobId: "qj-1");
        AssertQuote(Quote("q-2", cohort: "c-2"), await reopened.GetQuoteAsync("q-2", Ct));
        AssertJob(v2!, await reopened.GetQueryJobAsync("qj-1", Ct), version: 2);
        Assert.Equal([7, 0, 255], (await reopened.GetQueryJobAsync("qj-1", Ct))!.ResearcherPublicKey);
        Assert.Equal(["qj-1"], (await reopened.ListQueryJobsAsync(cancellationToken: Ct)).Select(j => j.JobId));

        var existing = await reopened.CreateQueryJobAsync(Job("qj-9", key: "k-1"), Now, Ct);
        Assert.Equal(CreateQueryJobOutcome.Existing, existing.Outcome);
        AssertJob(v2!, existing.Job, version: 2);
        Assert.Equal(CreateQueryJobOutcome.QuoteUsed, (await reopened.CreateQueryJobAsync(Job("qj-9"), Now, Ct)).Outcome);
        Assert.Null(await reopened.UpdateQueryJobAsync(v1 with { State = "cancelled" }, Ct));
        Assert.Equal(3, (await reopened.UpdateQueryJobAsync(v2! with { State = "completed" }, Ct))!.Version);
        Assert.Equal(
            CreateQueryJobOutcome.Created,
            (await reopened.CreateQueryJobAsync(Job("qj-2", quote: "q-2", cohort: "c-2"), Now, Ct)).Outcome);
        Assert.Equal(["qj-1", "qj-2"], (await reopened.ListQueryJobsAsync(cancellationToken: Ct)).Select(j => j.JobId));
    }
}
