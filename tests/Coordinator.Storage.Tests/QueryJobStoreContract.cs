using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IQueryJobStore"/> must have. An implementation's test class derives from this (or from
/// <see cref="DurableQueryJobStoreContract"/>) and supplies <see cref="CreateStoreAsync"/> (a fresh, empty, initialized
/// store). Quotes need an existing cohort: <see cref="SeedCohortAsync"/> creates one (by default through
/// <see cref="ICohortStore"/>, which the store must then also implement). Stores that are <see cref="IAsyncDisposable"/>
/// are disposed after the test.
/// </summary>
public abstract partial class QueryJobStoreContract : IAsyncLifetime
{
    /// <summary>A millisecond-precise instant (stores may keep only milliseconds).</summary>
    protected static readonly DateTimeOffset T0 = new(2026, 3, 4, 5, 6, 7, 891, TimeSpan.Zero);

    /// <summary>The default quote expires at T0 + 10 minutes; jobs are created at <see cref="Now"/>.</summary>
    protected static readonly DateTimeOffset Expires = T0.AddMinutes(10);

    protected static readonly DateTimeOffset Now = T0.AddMinutes(1);

    protected const string QueryText = "SELECT COUNT(*), MEAN(age) FROM cohort WHERE sex = 'F'";

    private readonly List<IQueryJobStore> _opened = [];

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Creates a fresh, empty store and initializes it.</summary>
    protected abstract Task<IQueryJobStore> CreateStoreAsync();

    /// <summary>Creates the cohort <paramref name="cohortId"/> (quotes reference it).</summary>
    protected virtual Task SeedCohortAsync(IQueryJobStore store, string cohortId) =>
        ((ICohortStore)store).CreateCohortAsync(
            new CohortRecord
            {
                CohortId = cohortId,
                KeySetId = "ks-1",
                SchemaJson = """{"version":1}""",
                State = "open",
                EpsilonBudget = 1,
                DeltaBudget = 1e-5,
                CreatedAt = T0,
            },
            Ct);

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await DisposeStoreAsync(store);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary><see cref="CreateStoreAsync"/>, disposed after the test.</summary>
    protected async Task<IQueryJobStore> NewStoreAsync()
    {
        var store = await CreateStoreAsync();
        _opened.Add(store);
        return store;
    }

    /// <summary>Disposes <paramref name="store"/> after the test.</summary>
    protected IQueryJobStore Track(IQueryJobStore store)
    {
        _opened.Add(store);
        return store;
    }

    /// <summary>Disposes the store if it is disposable (idempotent for the stores under test).</summary>
    protected static ValueTask DisposeStoreAsync(IQueryJobStore store) =>
        store is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;

    // ---- builders

    protected static QuoteRecord Quote(
        string id = "q-1", string cohort = "c-1", string researcher = "r-1", string request = QueryText, DateTimeOffset? expires = null) => new()
    {
        QuoteId = id,
        CohortId = cohort,
        ResearcherId = researcher,
        Kind = "query",
        Request = request,
        Epsilon = 0.1,
        Delta = 1e-6,
        PriceMicros = 2_500_000,
        CreatedAt = T0,
        ExpiresAt = expires ?? Expires,
    };

    protected static QueryJobRecord Job(
        string id = "qj-1", string quote = "q-1", string cohort = "c-1", string researcher = "r-1", string? key = null, string text = QueryText) => new()
    {
        JobId = id,
        QuoteId = quote,
        CohortId = cohort,
        ResearcherId = researcher,
        IdempotencyKey = key,
        QueryText = text,
        ResearcherPublicKey = [1, 2, 3, (byte)id.Length],
        State = "pending",
        Message = null,
        Data = null,
        CreatedAt = Now,
        UpdatedAt = Now,
        Version = 0,
    };

    /// <summary>A store with the cohorts c-1 and c-2 and the quote q-1 (cohort c-1, researcher r-1).</summary>
    protected async Task<IQueryJobStore> StoreWithQuoteAsync()
    {
        var store = await NewStoreAsync();
        await SeedCohortAsync(store, "c-1");
        await SeedCohortAsync(store, "c-2");
        await store.CreateQuoteAsync(Quote(), Ct);
        return store;
    }

    /// <summary>Creates quote <paramref name="quote"/> and a job on it; asserts Created and returns the job.</summary>
    protected static async Task<QueryJobRecord> CreateJobWithQuoteAsync(IQueryJobStore store, QuoteRecord quote, QueryJobRecord job)
    {
        await store.CreateQuoteAsync(quote, Ct);
        var (created, outcome) = await store.CreateQueryJobAsync(job, Now, Ct);
        Assert.Equal(CreateQueryJobOutcome.Created, outcome);
        return created!;
    }

    // ---- assertions

    protected static void AssertQuote(QuoteRecord expected, QuoteRecord? actual, string? jobId = null)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected with { JobId = jobId }, actual);
    }

    /// <summary>Field by field (records compare byte arrays by reference).</summary>
    protected static void AssertJob(QueryJobRecord expected, QueryJobRecord? actual, long version)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.JobId, actual.JobId);
        Assert.Equal(expected.QuoteId, actual.QuoteId);
        Assert.Equal(expected.CohortId, actual.CohortId);
        Assert.Equal(expected.ResearcherId, actual.ResearcherId);
        Assert.Equal(expected.IdempotencyKey, actual.IdempotencyKey);
        Assert.Equal(expected.QueryText, actual.QueryText);
        Assert.Equal(expected.ResearcherPublicKey, actual.ResearcherPublicKey);
        Assert.Equal(expected.State, actual.State);
        Assert.Equal(expected.Message, actual.Message);
        Assert.Equal(expected.Data, actual.Data);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.UpdatedAt, actual.UpdatedAt);
        Assert.Equal(version, actual.Version);
    }

    /// <summary>The quote exists and is unused, and no job was stored.</summary>
    protected static async Task AssertNothingChangedAsync(IQueryJobStore store, string quoteId = "q-1")
    {
        Assert.Null((await store.GetQuoteAsync(quoteId, Ct))!.JobId);
        Assert.Empty(await store.ListQueryJobsAsync(cancellationToken: Ct));
    }

    /// <summary>Runs <paramref name="count"/> calls on thread-pool threads, released together.</summary>
    protected static async Task<T[]> InParallelAsync<T>(int count, Func<int, Task<T>> call)
    {
        using var start = new ManualResetEventSlim(false);
        var tasks = Enumerable.Range(0, count)
            .Select(i => Task.Run(
                async () =>
                {
                    start.Wait(Ct);
                    return await call(i);
                },
                Ct))
            .ToArray();
        start.Set();
        return await Task.WhenAll(tasks);
    }
}
