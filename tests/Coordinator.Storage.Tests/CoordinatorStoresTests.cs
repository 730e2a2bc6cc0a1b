using PrivateHealth.Coordinator.Storage.Postgres;
using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>The provider factory <see cref="CoordinatorStores"/>.</summary>
public sealed class CoordinatorStoresTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("SQLite")]
    public async Task Open_Sqlite_ReturnsTheSqliteStoreImplementingAllThreeInterfaces(string provider)
    {
        await using var store = CoordinatorStores.Open(provider, ":memory:");

        Assert.IsType<SqliteCoordinatorStore>(store);
        Assert.IsAssignableFrom<ICohortStore>(store);
        Assert.IsAssignableFrom<IQueryJobStore>(store);
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("PostgreSQL")]
    public async Task Open_Postgres_ReturnsThePostgresStoreImplementingAllThreeInterfaces(string provider)
    {
        await using var store = CoordinatorStores.Open(provider, "Host=127.0.0.1;Username=postgres", schema: "ph_coordinator");

        var postgres = Assert.IsType<PostgresCoordinatorStore>(store);
        Assert.Equal("ph_coordinator", postgres.Schema);
        Assert.IsAssignableFrom<ICohortStore>(store);
        Assert.IsAssignableFrom<IQueryJobStore>(store);
    }

    [Fact]
    public async Task OpenAsync_Sqlite_Initializes()
    {
        await using var store = await CoordinatorStores.OpenAsync("sqlite", ":memory:", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Empty(await store.ListJobsAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("mysql", "x")]
    [InlineData("", "x")]
    [InlineData("sqlite", "")]
    [InlineData("postgres", " ")]
    public void Open_BadArguments_ThrowArgumentException(string provider, string connectionOrPath) =>
        Assert.ThrowsAny<ArgumentException>(() => CoordinatorStores.Open(provider, connectionOrPath));

    [Fact]
    public void Open_SqliteWithSchema_ThrowsArgumentException() =>
        Assert.Throws<ArgumentException>(() => CoordinatorStores.Open("sqlite", ":memory:", schema: "s"));
}
