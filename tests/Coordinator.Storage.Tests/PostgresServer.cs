using System.Diagnostics;
using Npgsql;
using PrivateHealth.Networking;

namespace PrivateHealth.Testing;

/// <summary>
/// The PostgreSQL server that tests run against, one per test process (<see cref="SharedAsync"/>).
/// </summary>
/// <remarks>
/// <para>
/// If the environment variable <c>PRIVATEHEALTH_PG</c> is set it is used as is: an Npgsql connection string to a
/// server where the tests may create and drop schemas (scripts/services/postgres.sh prints one). Otherwise a
/// throwaway cluster is created in a temporary directory (<c>initdb</c>, then <c>pg_ctl start</c> on a free loopback
/// port, unix socket in the same directory, with <c>fsync</c>, <c>synchronous_commit</c> and
/// <c>full_page_writes</c> off: nothing in it needs to survive a crash) and stopped (<c>pg_ctl stop -m immediate</c>)
/// and deleted when the process exits. As root, initdb and postgres run as the <c>postgres</c> user (they refuse
/// to run as root). Without PostgreSQL binaries every test that needs the server fails with a message saying how to
/// install them: they are never skipped.
/// </para>
/// <para>
/// Tests isolate themselves with a fresh schema each (<see cref="CreateSchemaAsync"/>, <see cref="DropSchemaAsync"/>).
/// This file depends on Npgsql only, so other test projects can link it
/// (<c>&lt;Compile Include="../Coordinator.Storage.Tests/PostgresServer.cs" /&gt;</c>).
/// </para>
/// </remarks>
public sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>The environment variable holding the connection string of an existing server.</summary>
    public const string EnvironmentVariable = "PRIVATEHEALTH_PG";

    private static readonly Lazy<Task<PostgresServer>> Shared = new(StartSharedAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly string? _baseDirectory;
    private readonly string? _pgCtl;
    private readonly bool _asPostgresUser;
    private int _stopped;

    private PostgresServer(string connectionString, string? baseDirectory = null, string? pgCtl = null, bool asPostgresUser = false)
    {
        ConnectionString = connectionString;
        _baseDirectory = baseDirectory;
        _pgCtl = pgCtl;
        _asPostgresUser = asPostgresUser;
    }

    /// <summary>Connection string of the server (administrative: may create and drop schemas).</summary>
    public string ConnectionString { get; }

    /// <summary>True when this process started the cluster (false with <c>PRIVATEHEALTH_PG</c>).</summary>
    public bool IsThrowaway => _baseDirectory is not null;

    /// <summary>The server shared by every test of this process (started on first use).</summary>
    public static Task<PostgresServer> SharedAsync() => Shared.Value;

    /// <summary><see cref="ConnectionString"/> with other pool limits (each store has its own pool).</summary>
    public string ConnectionStringWith(int maxPoolSize) =>
        new NpgsqlConnectionStringBuilder(ConnectionString) { MaxPoolSize = maxPoolSize }.ConnectionString;

    /// <summary>Creates an empty schema <c>&lt;prefix&gt;_&lt;guid&gt;</c> and returns its name.</summary>
    public async Task<string> CreateSchemaAsync(string prefix = "ph_test", CancellationToken cancellationToken = default)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}";
        await ExecuteAsync($"CREATE SCHEMA \"{name}\";", cancellationToken).ConfigureAwait(false);
        return name;
    }

    /// <summary>A new schema name (<c>&lt;prefix&gt;_&lt;guid&gt;</c>) without creating it.</summary>
    public static string NewSchemaName(string prefix = "ph_test") => $"{prefix}_{Guid.NewGuid():N}";

    /// <summary>Drops the schema and everything in it (no error if it does not exist).</summary>
    public Task DropSchemaAsync(string schema, CancellationToken cancellationToken = default) =>
        ExecuteAsync($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE;", cancellationToken);

    /// <summary>Runs SQL on the server (optionally in <paramref name="schema"/>: then on an unpooled connection).</summary>
    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken = default, string? schema = null)
    {
        await using var connection = await OpenAsync(schema, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a query and returns the first column of the first row (null if none or SQL NULL).</summary>
    public async Task<T?> ScalarAsync<T>(string sql, string? schema = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(schema, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is null or DBNull ? default : (T)value;
    }

    /// <summary>Runs a query and returns its first column.</summary>
    public async Task<List<T>> ColumnAsync<T>(string sql, string? schema = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(schema, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var values = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }

    private async Task<NpgsqlConnection> OpenAsync(string? schema, CancellationToken cancellationToken)
    {
        // Schema-less administration (create/drop schema) shares one small pool; a per-schema pool would never be reused.
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { MaxPoolSize = 4 };
        if (schema is not null)
        {
            builder.SearchPath = schema;
            builder.Pooling = false;
        }

        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops a throwaway cluster and deletes its directory (nothing for <c>PRIVATEHEALTH_PG</c>). Idempotent.</summary>
    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    private void Stop()
    {
        if (_baseDirectory is null || Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        try
        {
            string[] stop = [_pgCtl!, "-D", Path.Combine(_baseDirectory, "data"), "-m", "immediate", "-w", "stop"];
            if (_asPostgresUser)
            {
                Run("runuser", ["-u", "postgres", "--", .. stop], _baseDirectory, TimeSpan.FromSeconds(30));
            }
            else
            {
                Run(stop[0], stop[1..], _baseDirectory, TimeSpan.FromSeconds(30));
            }
        }
        catch (InvalidOperationException)
        {
            // Already stopped (or never started): nothing to do.
        }

        try
        {
            Directory.Delete(_baseDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static async Task<PostgresServer> StartSharedAsync()
    {
        var server = await Task.Run(Start).ConfigureAwait(false);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop();
        // Fail early (and clearly) if the server does not answer.
        await server.ScalarAsync<int>("SELECT 1;").ConfigureAwait(false);
        return server;
    }

    private static PostgresServer Start() =>
        Start(Environment.GetEnvironmentVariable(EnvironmentVariable), Environment.GetEnvironmentVariable("PATH"), "/usr/lib/postgresql");

    /// <summary>Uses <paramref name="existing"/> if set, else starts a cluster with binaries from <paramref name="path"/> or <paramref name="debianRoot"/>.</summary>
    internal static PostgresServer Start(string? existing, string? path, string debianRoot)
    {
        if (!string.IsNullOrWhiteSpace(existing))
        {
            return new PostgresServer(existing);
        }

        var initdb = FindBinary("initdb", path, debianRoot);
        var pgCtl = FindBinary("pg_ctl", path, debianRoot);
        if (initdb is null || pgCtl is null)
        {
            throw new InvalidOperationException(
                "PostgreSQL is needed by these tests but its server binaries (initdb, pg_ctl) were not found on PATH or in "
                + "/usr/lib/postgresql/*/bin. Install PostgreSQL (apt-get install postgresql), or set "
                + $"{EnvironmentVariable} to the connection string of a server where the tests may create schemas "
                + "(eval \"$(scripts/services/postgres.sh start <dir>)\").");
        }

        var baseDirectory = Path.Combine(Path.GetTempPath(), "ph-pg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(baseDirectory);
        var asRoot = IsRoot();
        if (asRoot)
        {
            // initdb and postgres refuse to run as root: hand the directory to the postgres user.
            Run("chown", ["postgres:postgres", baseDirectory], baseDirectory, TimeSpan.FromSeconds(30));
        }

        var data = Path.Combine(baseDirectory, "data");
        var server = (string Binary, string[] Arguments) => asRoot
            ? ("runuser", ["-u", "postgres", "--", Binary, .. Arguments])
            : (Binary, Arguments);

        var (initBinary, initArguments) = server(initdb, ["-D", data, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"]);
        Run(initBinary, initArguments, baseDirectory, TimeSpan.FromMinutes(2));

        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var port = LoopbackPort.Free();
            var options = $"-c listen_addresses=127.0.0.1 -p {port} -k {baseDirectory} -c fsync=off -c synchronous_commit=off "
                + "-c full_page_writes=off -c max_connections=300";
            var (startBinary, startArguments) = server(
                pgCtl, ["-D", data, "-l", Path.Combine(baseDirectory, "postgres.log"), "-o", options, "-w", "-t", "60", "start"]);
            try
            {
                Run(startBinary, startArguments, baseDirectory, TimeSpan.FromSeconds(90));
                var connectionString = new NpgsqlConnectionStringBuilder
                {
                    Host = "127.0.0.1",
                    Port = port,
                    Username = "postgres",
                    Database = "postgres",
                }.ConnectionString;
                return new PostgresServer(connectionString, baseDirectory, pgCtl, asRoot);
            }
            catch (InvalidOperationException ex)
            {
                last = ex; // most likely the port was taken in between: try another
            }
        }

        throw new InvalidOperationException($"Could not start the throwaway PostgreSQL cluster in {baseDirectory}.", last);
    }

    private static bool IsRoot()
    {
        try
        {
            return Run("id", ["-u"], Path.GetTempPath(), TimeSpan.FromSeconds(10)).Trim() == "0";
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string? FindBinary(string name, string? path, string debianRoot)
    {
        foreach (var directory in (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        if (Directory.Exists(debianRoot))
        {
            return Directory.EnumerateDirectories(debianRoot)
                .Select(d => (Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0, Binary: Path.Combine(d, "bin", name)))
                .Where(c => File.Exists(c.Binary))
                .OrderByDescending(c => c.Version)
                .Select(c => c.Binary)
                .FirstOrDefault();
        }

        return null;
    }

    /// <summary>Runs a program to completion; throws <see cref="InvalidOperationException"/> with its output on failure.</summary>
    private static string Run(string fileName, string[] arguments, string workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{fileName} {string.Join(' ', arguments)} failed (exit {process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        }

        return stdout.Result;
    }
}
