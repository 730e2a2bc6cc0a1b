using PrivateHealth.Coordinator.Storage.Postgres;

namespace PrivateHealth.Coordinator.Storage;

/// <summary>
/// Opens the coordinator's store by provider name. The returned object implements <see cref="ICoordinatorStore"/>,
/// <see cref="ICohortStore"/> and <see cref="IQueryJobStore"/> (register the one instance for all three).
/// </summary>
public static class CoordinatorStores
{
    /// <summary>The embedded SQLite store (default).</summary>
    public const string Sqlite = "sqlite";

    /// <summary>The PostgreSQL store.</summary>
    public const string Postgres = "postgres";

    /// <summary>Constructs (without initializing) the store; call <see cref="ICoordinatorStore.InitializeAsync"/> before use.</summary>
    /// <param name="provider"><c>"sqlite"</c> or <c>"postgres"</c> (<c>"postgresql"</c>), case-insensitive.</param>
    /// <param name="connectionOrPath">SQLite: the database file path (or <c>":memory:"</c>). PostgreSQL: an Npgsql connection string.</param>
    /// <param name="schema">PostgreSQL only: optional schema for the tables (created if missing); null uses the connection's search path.</param>
    /// <param name="timeProvider">Clock for store-assigned timestamps (default: the system clock).</param>
    /// <exception cref="ArgumentException">Unknown provider, an empty path or connection string, or a schema given for SQLite.</exception>
    public static ICoordinatorStore Open(string provider, string connectionOrPath, string? schema = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionOrPath);
        switch (provider.Trim().ToLowerInvariant())
        {
            case Sqlite:
                if (schema is not null)
                {
                    throw new ArgumentException("A schema applies to the PostgreSQL store only.", nameof(schema));
                }

                return new SqliteCoordinatorStore(connectionOrPath, timeProvider ?? TimeProvider.System);
            case Postgres:
            case "postgresql":
                return new PostgresCoordinatorStore(connectionOrPath, schema, timeProvider);
            default:
                throw new ArgumentException($"Unknown store provider '{provider}' (expected '{Sqlite}' or '{Postgres}').", nameof(provider));
        }
    }

    /// <summary><see cref="Open"/> followed by <see cref="ICoordinatorStore.InitializeAsync"/> (disposed if that fails).</summary>
    public static async Task<ICoordinatorStore> OpenAsync(
        string provider, string connectionOrPath, string? schema = null, CancellationToken cancellationToken = default)
    {
        var store = Open(provider, connectionOrPath, schema);
        try
        {
            await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
