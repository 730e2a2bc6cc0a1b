using System.Data;
using System.Security.Cryptography;
using Npgsql;

namespace PrivateHealth.Coordinator.Storage.Postgres;

/// <remarks>Connections, transactions, commands, parameters and row mapping helpers.</remarks>
public sealed partial class PostgresCoordinatorStore
{
    /// <summary>How often a transaction that hit a deadlock or serialization failure is retried.</summary>
    private const int MaxAttempts = 5;

    private int _inFlight;

    /// <summary>
    /// Runs <paramref name="body"/> in one READ COMMITTED transaction and commits it (unless the body rolled it back).
    /// A deadlock (40P01) or serialization failure (40001) rolls back and retries the whole body.
    /// </summary>
    private async Task<T> WriteAsync<T>(
        Func<Db, CancellationToken, Task<T>> body, CancellationToken cancellationToken, bool requireInitialized = true)
    {
        Enter(requireInitialized);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
                var db = new Db(connection, transaction);
                try
                {
                    var result = await body(db, cancellationToken).ConfigureAwait(false);
                    if (!db.RolledBack)
                    {
                        // Not cancellable: once the body ran, the outcome is committed or the call fails.
                        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                    }

                    return result;
                }
                catch (PostgresException ex) when (attempt < MaxAttempts && ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
                {
                    // The transaction is rolled back when it is disposed; try again.
                }
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Runs <paramref name="body"/> on a pooled connection without an explicit transaction (single statements).</summary>
    private async Task<T> ReadAsync<T>(Func<Db, CancellationToken, Task<T>> body, CancellationToken cancellationToken, bool requireInitialized = true)
    {
        Enter(requireInitialized);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            return await body(new Db(connection, null), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Exit();
        }
    }

    private void Enter(bool requireInitialized = true)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (requireInitialized && !_initialized)
            {
                throw new InvalidOperationException("The store is not initialized: call InitializeAsync (or use CreateAsync) first.");
            }
        }
        catch
        {
            Interlocked.Decrement(ref _inFlight);
            throw;
        }
    }

    private void Exit() => Interlocked.Decrement(ref _inFlight);

    /// <summary>A connection and (for writes) its transaction.</summary>
    private sealed class Db(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        public bool RolledBack { get; private set; }

        /// <summary>
        /// Rolls the transaction back (the call still returns its result; nothing is committed) and returns the same
        /// connection without a transaction, for reads that decide the result.
        /// </summary>
        public async Task<Db> RollbackAsync()
        {
            await transaction!.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            RolledBack = true;
            return new Db(connection, null);
        }

        public NpgsqlCommand Command(string sql, (string Name, object? Value)[] parameters)
        {
            var command = new NpgsqlCommand(sql, connection, transaction);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
            }

            return command;
        }

        public async Task<int> ExecuteAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
        {
            await using var command = Command(sql, parameters);
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        public async Task<object?> ScalarAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
        {
            await using var command = Command(sql, parameters);
            var value = await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
            return value is DBNull ? null : value;
        }

        public async Task<bool> ExistsAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] parameters) =>
            await ScalarAsync(sql, ct, parameters).ConfigureAwait(false) is not null;

        public async Task<List<T>> QueryAsync<T>(
            string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct, params (string Name, object? Value)[] parameters)
        {
            await using var command = Command(sql, parameters);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var results = new List<T>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                results.Add(read(reader));
            }

            return results;
        }

        public async Task<T?> QuerySingleAsync<T>(
            string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct, params (string Name, object? Value)[] parameters)
        {
            await using var command = Command(sql, parameters);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? read(reader) : default;
        }
    }

    // ---- blobs

    /// <summary>
    /// Writes the ciphertexts to <c>blobs</c> (each distinct content once; existing ones are left alone) and returns the
    /// SHA-256 of each, in the order given. Rows are inserted in hash order so that two transactions writing overlapping
    /// sets wait for each other instead of deadlocking.
    /// </summary>
    private static async Task<byte[][]> PutBlobsAsync(Db db, IReadOnlyList<byte[]> items, CancellationToken ct)
    {
        var hashes = new byte[items.Count][];
        var distinct = new SortedDictionary<byte[], byte[]>(HashComparer.Instance);
        for (var i = 0; i < items.Count; i++)
        {
            hashes[i] = SHA256.HashData(items[i]);
            distinct.TryAdd(hashes[i], items[i]);
        }

        if (distinct.Count > 0)
        {
            await db.ExecuteAsync(
                """
                INSERT INTO blobs (hash, data)
                SELECT h, d FROM unnest(@h::bytea[], @d::bytea[]) WITH ORDINALITY AS t (h, d, i) ORDER BY i
                ON CONFLICT (hash) DO NOTHING;
                """,
                ct,
                ("h", distinct.Keys.ToArray()),
                ("d", distinct.Values.ToArray())).ConfigureAwait(false);
        }

        return hashes;
    }

    /// <summary>SQL for the ciphertexts of a row's hash array <paramref name="column"/>, in order.</summary>
    private static string BlobArray(string column) =>
        $"ARRAY(SELECT b.data FROM unnest({column}) WITH ORDINALITY AS h (hash, i) JOIN blobs b ON b.hash = h.hash ORDER BY h.i)";

    /// <summary>Reads a ciphertext array produced by <see cref="BlobArray"/>; fails if a referenced blob is missing.</summary>
    private static byte[][] ReadBlobs(NpgsqlDataReader r, int ordinal, int expectedCount)
    {
        var blobs = r.GetFieldValue<byte[][]>(ordinal);
        return blobs.Length == expectedCount
            ? blobs
            : throw new InvalidDataException("A stored coordinator record references a missing ciphertext blob.");
    }

    private sealed class HashComparer : IComparer<byte[]>
    {
        public static readonly HashComparer Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }

    // ---- values

    /// <summary>A timestamp as stored: UTC, truncated to whole milliseconds.</summary>
    private static DateTime Ts(DateTimeOffset value) =>
        new(value.UtcTicks - (value.UtcTicks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    private static object? Ts(DateTimeOffset? value) => value is { } v ? Ts(v) : null;

    private static DateTimeOffset ReadTs(NpgsqlDataReader r, int ordinal) =>
        new(DateTime.SpecifyKind(r.GetFieldValue<DateTime>(ordinal), DateTimeKind.Utc), TimeSpan.Zero);

    private static DateTimeOffset? ReadTsOrNull(NpgsqlDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? null : ReadTs(r, ordinal);

    private static string? StringOrNull(NpgsqlDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);

    private static byte[] Bytes(NpgsqlDataReader r, int ordinal) => r.GetFieldValue<byte[]>(ordinal);

    private static byte[]? BytesOrNull(NpgsqlDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : Bytes(r, ordinal);
}
