using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class QueryJobStoreContract
{
    [Fact]
    public async Task CreateQueryJob_TwentyParallelJobsOnOneQuote_ExactlyOneCreatedRestQuoteUsed()
    {
        var store = await StoreWithQuoteAsync();

        var results = await InParallelAsync(20, i => store.CreateQueryJobAsync(Job($"qj-{i}"), Now, Ct));

        var created = Assert.Single(results, r => r.Outcome == CreateQueryJobOutcome.Created);
        Assert.Equal(19, results.Count(r => r.Outcome == CreateQueryJobOutcome.QuoteUsed && r.Job is null));
        var stored = Assert.Single(await store.ListQueryJobsAsync(cancellationToken: Ct));
        Assert.Equal(created.Job!.JobId, stored.JobId);
        Assert.Equal(created.Job.JobId, (await store.GetQuoteAsync("q-1", Ct))!.JobId);
    }

    [Fact]
    public async Task CreateQueryJob_TwentyParallelWithOneIdempotencyKey_OneCreatedRestExistingWithItsId()
    {
        var store = await StoreWithQuoteAsync();

        var results = await InParallelAsync(20, i => store.CreateQueryJobAsync(Job($"qj-{i}", key: "k-1"), Now, Ct));

        var created = Assert.Single(results, r => r.Outcome == CreateQueryJobOutcome.Created);
        Assert.Equal(19, results.Count(r => r.Outcome == CreateQueryJobOutcome.Existing));
        Assert.All(results, r => Assert.Equal(created.Job!.JobId, r.Job!.JobId));
        Assert.Single(await store.ListQueryJobsAsync(cancellationToken: Ct));
        Assert.Equal(created.Job!.JobId, (await store.GetQuoteAsync("q-1", Ct))!.JobId);
    }

    [Fact]
    public async Task CreateQueryJob_ParallelOnDistinctQuotes_AllCreated()
    {
        var store = await StoreWithQuoteAsync();
        for (var i = 0; i < 20; i++)
        {
            await store.CreateQuoteAsync(Quote($"q-p{i}"), Ct);
        }

        var results = await InParallelAsync(20, i => store.CreateQueryJobAsync(Job($"qj-{i}", quote: $"q-p{i}", key: $"k-{i}"), Now, Ct));

        Assert.All(results, r => Assert.Equal(CreateQueryJobOutcome.Created, r.Outcome));
        Assert.Equal(20, (await store.ListQueryJobsAsync("c-1", Ct)).Count);
    }

    [Fact]
    public async Task UpdateQueryJob_ParallelOnOneVersion_ExactlyOneWins()
    {
        var store = await StoreWithQuoteAsync();
        var (v1, _) = await store.CreateQueryJobAsync(Job(), Now, Ct);

        var results = await InParallelAsync(20, i => store.UpdateQueryJobAsync(v1! with { State = "counting", Message = $"m-{i}" }, Ct));

        var winner = Assert.Single(results, r => r is not null);
        AssertJob(winner!, await store.GetQueryJobAsync("qj-1", Ct), version: 2);
    }
}
