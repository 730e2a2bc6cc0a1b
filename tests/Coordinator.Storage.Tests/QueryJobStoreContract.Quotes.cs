using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class QueryJobStoreContract
{
    [Fact]
    public async Task CreateQuote_New_RoundTripsUnused()
    {
        var store = await NewStoreAsync();
        await SeedCohortAsync(store, "c-1");
        var quote = Quote() with { JobId = "ignored", Kind = "training", Request = """{"model":"logreg"}""" };

        await store.CreateQuoteAsync(quote, Ct);

        AssertQuote(quote, await store.GetQuoteAsync("q-1", Ct));
    }

    [Fact]
    public async Task CreateQuote_ExistingId_ThrowsStoreConflictAndKeepsFirst()
    {
        var store = await StoreWithQuoteAsync();

        await Assert.ThrowsAsync<StoreConflictException>(
            () => store.CreateQuoteAsync(Quote(cohort: "c-2", researcher: "r-2", request: "other") with { PriceMicros = 1 }, Ct));

        AssertQuote(Quote(), await store.GetQuoteAsync("q-1", Ct));
    }

    [Fact]
    public async Task CreateQuote_UnknownCohort_ThrowsInvalidOperationAndStoresNothing()
    {
        var store = await NewStoreAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateQuoteAsync(Quote(cohort: "c-x"), Ct));

        Assert.Contains("c-x", error.Message, StringComparison.Ordinal);
        Assert.Null(await store.GetQuoteAsync("q-1", Ct));
    }

    [Fact]
    public async Task GetQuote_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.GetQuoteAsync("q-x", Ct));
    }

    [Fact]
    public async Task Quote_InvalidArguments_Throw()
    {
        var store = await NewStoreAsync();
        await SeedCohortAsync(store, "c-1");

        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.GetQuoteAsync("", Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQuoteAsync(Quote(id: ""), Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQuoteAsync(Quote(cohort: ""), Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQuoteAsync(Quote(researcher: ""), Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQuoteAsync(Quote() with { Epsilon = -0.1 }, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQuoteAsync(Quote() with { Delta = double.NaN }, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateQuoteAsync(Quote() with { PriceMicros = -1 }, Ct));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.CreateQuoteAsync(null!, Ct));

        Assert.Null(await store.GetQuoteAsync("q-1", Ct));
    }
}
