using PrivateHealth.Coordinator.Storage.Postgres;
using PrivateHealth.Testing;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The "databases" of one Postgres test class instance: each created store gets a fresh schema on the shared
/// <see cref="PostgresServer"/>; reopening uses the last one; every schema is dropped on dispose.
/// </summary>
internal sealed class PostgresTestSchemas : IAsyncDisposable
{
    /// <summary>Pool limit per store instance (tests run 200 calls at once; the server allows 300 connections).</summary>
    private const int MaxPoolSize = 16;

    private readonly List<string> _schemas = [];
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("No store was created yet.");

    /// <summary>The schema of the last created store.</summary>
    public string Current => _schemas.Count > 0 ? _schemas[^1] : throw new InvalidOperationException("No store was created yet.");

    public string ConnectionString => Server.ConnectionStringWith(MaxPoolSize);

    /// <summary>Reserves a new schema (not created: the store creates it) and makes it current.</summary>
    public async Task<string> NewSchemaAsync()
    {
        _server ??= await PostgresServer.SharedAsync();
        var schema = PostgresServer.NewSchemaName();
        _schemas.Add(schema);
        return schema;
    }

    /// <summary>A store on a new, empty schema (created by the test, as an administrator would), initialized.</summary>
    public async Task<PostgresCoordinatorStore> CreateStoreAsync(CancellationToken cancellationToken)
    {
        var schema = await NewSchemaAsync();
        await Server.ExecuteAsync($"CREATE SCHEMA \"{schema}\";", cancellationToken);
        return await PostgresCoordinatorStore.CreateAsync(ConnectionString, schema, cancellationToken);
    }

    /// <summary>A new, initialized instance on the current schema.</summary>
    public Task<PostgresCoordinatorStore> ReopenStoreAsync(CancellationToken cancellationToken) =>
        PostgresCoordinatorStore.CreateAsync(ConnectionString, Current, cancellationToken);

    /// <summary>A new, not initialized instance on the current schema.</summary>
    public PostgresCoordinatorStore Open(TimeProvider? timeProvider = null) => new(ConnectionString, Current, timeProvider);

    public Task<T?> ScalarAsync<T>(string sql) => Server.ScalarAsync<T>(sql, Current);

    public Task<List<T>> ColumnAsync<T>(string sql) => Server.ColumnAsync<T>(sql, Current);

    public Task ExecuteAsync(string sql) => Server.ExecuteAsync(sql, schema: Current);

    public async ValueTask DisposeAsync()
    {
        if (_server is null)
        {
            return;
        }

        foreach (var schema in _schemas)
        {
            await _server.DropSchemaAsync(schema);
        }
    }
}
