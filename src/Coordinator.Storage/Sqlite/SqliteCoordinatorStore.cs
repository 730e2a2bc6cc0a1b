using System.Globalization;
using Microsoft.Data.Sqlite;
using static PrivateHealth.Coordinator.Storage.SqliteEncoding;
using static PrivateHealth.Coordinator.Storage.StoreValidation;

namespace PrivateHealth.Coordinator.Storage;

/// <summary>
/// <see cref="ICoordinatorStore"/>, <see cref="ICohortStore"/> and <see cref="IQueryJobStore"/> on an embedded SQLite database
/// (Microsoft.Data.Sqlite).
/// </summary>
/// <remarks>
/// <para>
/// Durability: the database runs in WAL journal mode with <c>synchronous=FULL</c>, foreign keys on and a busy
/// timeout, so a committed call survives a process or power failure. Every interface method is one transaction;
/// writes use <c>BEGIN IMMEDIATE</c> (so a read-then-write is atomic, also against other processes) and are
/// serialized in-process by a semaphore, reads use pooled connections and see a consistent snapshot.
/// The path <c>":memory:"</c> opens a private in-memory database on a single connection (tests only; nothing
/// survives <see cref="DisposeAsync"/>).
/// </para>
/// <para>
/// Timestamps are stored as Unix milliseconds: every <see cref="DateTimeOffset"/> read back is in UTC
/// (offset zero) and truncated to millisecond precision. <see cref="JobRecord.GlobalModel"/> is stored as
/// little-endian IEEE 754 doubles, so NaN payloads and negative zero round-trip exactly.
/// </para>
/// <para>
/// Store-managed fields: <c>Version</c> (1 on insert, +1 per successful compare-and-set),
/// <see cref="UploadRecord.Sequence"/>, <see cref="RoundRecord.IncludedUploads"/> (0 while the round is open, the
/// ledger count once it leaves <see cref="RoundState.Open"/>; the value passed in is always ignored) and
/// <see cref="CustodianTaskRecord.AnsweredAt"/> (set by <see cref="SaveAnswerAsync"/>). Updates never change
/// <see cref="JobRecord.CreatedAt"/>, <see cref="JobRecord.IdempotencyKey"/> or <see cref="KeySetRecord.CreatedAt"/>.
/// An empty <see cref="JobRecord.IdempotencyKey"/> means "no key".
/// </para>
/// <para>
/// Additional rules: a round that left <see cref="RoundState.Open"/> cannot be re-opened
/// (<see cref="InvalidOperationException"/>), rounds need an existing job and accumulators an existing round
/// (<see cref="InvalidOperationException"/>), a custodian id cannot change its party
/// (<see cref="StoreConflictException"/>), and <see cref="AddUploadAsync"/> reports Duplicate/Conflict for an
/// existing ledger row even after the round closed (a retried upload learns it was included).
/// </para>
/// </remarks>
public sealed partial class SqliteCoordinatorStore : ICoordinatorStore, ICohortStore
{
    private const string JobColumns =
        "job_id, key_set_id, spec, state, current_round, global_model, strategy_state, message, idempotency_key, created_at, updated_at, version";

    private const string RoundColumns =
        "job_id, round, state, selected, opened_at, deadline, minimum_reached_at, extensions, included_uploads, message, data, version";

    private const string UploadColumns =
        "job_id, round, participant_id, sequence, ciphertexts, content_ids, bytes, received_at";

    private const string TaskColumns =
        "task_id, scope, party, payload, answer, created_at, answered_at, withdrawn";

    private const string KeySetColumns =
        "key_set_id, preset, members, threshold, state, phase, data, message, created_at, version";

    private readonly string _connectionString;
    private readonly string? _directory;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly List<PendingUpload> _uploadQueue = [];

    // In-memory mode only: the single connection that holds the database (all calls are serialized).
    private readonly SqliteConnection? _memoryConnection;

    private volatile bool _initialized;
    private volatile bool _disposed;

    /// <summary>Opens (without initializing) the database at <paramref name="databasePath"/>.</summary>
    /// <param name="databasePath">A file path (created with its directory if missing) or <c>":memory:"</c>.</param>
    public SqliteCoordinatorStore(string databasePath)
        : this(databasePath, TimeProvider.System)
    {
    }

    /// <summary>Opens (without initializing) the database at <paramref name="databasePath"/>.</summary>
    /// <param name="databasePath">A file path (created with its directory if missing) or <c>":memory:"</c>.</param>
    /// <param name="timeProvider">Clock for store-assigned timestamps (<see cref="CustodianTaskRecord.AnsweredAt"/>).</param>
    public SqliteCoordinatorStore(string databasePath, TimeProvider timeProvider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
        if (string.Equals(databasePath, ":memory:", StringComparison.Ordinal))
        {
            _connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = ":memory:",
                Pooling = false,
            }.ToString();
            _memoryConnection = new SqliteConnection(_connectionString);
        }
        else
        {
            var fullPath = Path.GetFullPath(databasePath);
            _directory = Path.GetDirectoryName(fullPath);
            _connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = fullPath,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Cache = SqliteCacheMode.Private,
                Pooling = true,
                DefaultTimeout = 30,
            }.ToString();
        }

        DatabasePath = databasePath;
    }

    /// <summary>The path this store was opened with.</summary>
    public string DatabasePath { get; }

    /// <summary>The schema version this code migrates to.</summary>
    public static int LatestSchemaVersion => SqliteMigrations.Scripts.Count;

    /// <summary>Constructs a store and runs <see cref="InitializeAsync"/>.</summary>
    public static Task<SqliteCoordinatorStore> CreateAsync(string databasePath, CancellationToken cancellationToken = default) =>
        CreateAsync(databasePath, TimeProvider.System, cancellationToken);

    /// <summary>Constructs a store on <paramref name="timeProvider"/>'s clock and runs <see cref="InitializeAsync"/>.</summary>
    public static async Task<SqliteCoordinatorStore> CreateAsync(string databasePath, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        var store = new SqliteCoordinatorStore(databasePath, timeProvider);
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

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_directory is not null)
            {
                Directory.CreateDirectory(_directory);
            }

            var connection = OpenConnection();
            try
            {
                if (_memoryConnection is null)
                {
                    // Persistent in the file; must run outside a transaction.
                    var mode = Convert.ToString(Scalar(connection, null, "PRAGMA journal_mode=WAL;"), CultureInfo.InvariantCulture);
                    if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new InvalidOperationException($"Could not enable WAL journal mode on '{DatabasePath}' (got '{mode}').");
                    }
                }

                using var transaction = connection.BeginTransaction(deferred: false);
                Execute(connection, transaction, SqliteMigrations.VersionTable);
                var current = Convert.ToInt32(
                    Scalar(connection, transaction, "SELECT COALESCE(MAX(version), 0) FROM schema_version;"),
                    CultureInfo.InvariantCulture);
                if (current > SqliteMigrations.Scripts.Count)
                {
                    throw new InvalidOperationException(
                        $"The database '{DatabasePath}' has schema version {current}, newer than this code supports ({SqliteMigrations.Scripts.Count}).");
                }

                for (var version = current + 1; version <= SqliteMigrations.Scripts.Count; version++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Execute(connection, transaction, SqliteMigrations.Scripts[version - 1]);
                    Execute(
                        connection,
                        transaction,
                        "INSERT INTO schema_version (version, applied_at) VALUES (@v, @t);",
                        ("@v", version),
                        ("@t", ToUnixMilliseconds(_timeProvider.GetUtcNow())));
                }

                transaction.Commit();
            }
            finally
            {
                ReleaseConnection(connection);
            }

            _initialized = true;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>The schema version recorded in the database (0 before initialization).</summary>
    internal Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(
            (c, t) =>
            {
                var exists = Convert.ToInt64(
                    Scalar(c, t, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version';"),
                    CultureInfo.InvariantCulture);
                return exists == 0
                    ? 0
                    : Convert.ToInt32(Scalar(c, t, "SELECT COALESCE(MAX(version), 0) FROM schema_version;"), CultureInfo.InvariantCulture);
            },
            cancellationToken,
            requireInitialized: false);

    // ---- jobs

    /// <inheritdoc />
    public Task<JobRecord> CreateJobAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ValidateJob(job);
        var key = string.IsNullOrEmpty(job.IdempotencyKey) ? null : job.IdempotencyKey;
        return WriteAsync(
            (c, t) =>
            {
                if (key is not null)
                {
                    var existing = QuerySingle(c, t, $"SELECT {JobColumns} FROM jobs WHERE idempotency_key = @k;", ReadJob, ("@k", key));
                    if (existing is not null)
                    {
                        return existing;
                    }
                }

                if (Exists(c, t, "SELECT 1 FROM jobs WHERE job_id = @id;", ("@id", job.JobId)))
                {
                    throw new StoreConflictException($"A job with id '{job.JobId}' already exists.");
                }

                Execute(
                    c,
                    t,
                    $"""
                    INSERT INTO jobs ({JobColumns})
                    VALUES (@id, @ks, @spec, @state, @cr, @gm, @ss, @msg, @key, @ca, @ua, 1);
                    """,
                    ("@id", job.JobId),
                    ("@ks", job.KeySetId),
                    ("@spec", job.Spec),
                    ("@state", job.State.ToString()),
                    ("@cr", job.CurrentRound),
                    ("@gm", EncodeDoubles(job.GlobalModel)),
                    ("@ss", job.StrategyState),
                    ("@msg", job.Message),
                    ("@key", key),
                    ("@ca", ToUnixMilliseconds(job.CreatedAt)),
                    ("@ua", ToUnixMilliseconds(job.UpdatedAt)));
                return GetJob(c, t, job.JobId)!;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<JobRecord?> GetJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return ReadAsync((c, t) => GetJob(c, t, jobId), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>In creation order.</remarks>
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<JobRecord>>(
            (c, t) => Query(c, t, $"SELECT {JobColumns} FROM jobs ORDER BY seq;", ReadJob),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>Returns null also when the job does not exist.</remarks>
    public Task<JobRecord?> UpdateJobAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ValidateJob(job);
        return WriteFencedAsync(
            (c, t) =>
            {
                var changed = Execute(
                    c,
                    t,
                    """
                    UPDATE jobs SET key_set_id = @ks, spec = @spec, state = @state, current_round = @cr,
                        global_model = @gm, strategy_state = @ss, message = @msg, updated_at = @ua, version = version + 1
                    WHERE job_id = @id AND version = @v;
                    """,
                    ("@id", job.JobId),
                    ("@v", job.Version),
                    ("@ks", job.KeySetId),
                    ("@spec", job.Spec),
                    ("@state", job.State.ToString()),
                    ("@cr", job.CurrentRound),
                    ("@gm", EncodeDoubles(job.GlobalModel)),
                    ("@ss", job.StrategyState),
                    ("@msg", job.Message),
                    ("@ua", ToUnixMilliseconds(job.UpdatedAt)));
                return changed == 0 ? null : GetJob(c, t, job.JobId);
            },
            cancellationToken);
    }

    // ---- rounds

    /// <inheritdoc />
    /// <remarks>
    /// <see cref="RoundRecord.IncludedUploads"/> starts at 0 (store-managed). Throws
    /// <see cref="InvalidOperationException"/> if the job does not exist.
    /// </remarks>
    public Task<bool> CreateRoundAsync(RoundRecord round, CancellationToken cancellationToken = default)
    {
        ValidateRound(round);
        return WriteAsync(
            (c, t) =>
            {
                if (!Exists(c, t, "SELECT 1 FROM jobs WHERE job_id = @id;", ("@id", round.JobId)))
                {
                    throw new InvalidOperationException($"Cannot create round {round.Round}: job '{round.JobId}' does not exist.");
                }

                var inserted = Execute(
                    c,
                    t,
                    $"""
                    INSERT INTO rounds ({RoundColumns})
                    VALUES (@job, @round, @state, @sel, @oa, @dl, @mra, @ext, 0, @msg, @data, 1)
                    ON CONFLICT (job_id, round) DO NOTHING;
                    """,
                    ("@job", round.JobId),
                    ("@round", round.Round),
                    ("@state", round.State.ToString()),
                    ("@sel", EncodeStrings(round.Selected)),
                    ("@oa", ToUnixMilliseconds(round.OpenedAt)),
                    ("@dl", ToUnixMilliseconds(round.Deadline)),
                    ("@mra", round.MinimumReachedAt is { } m ? ToUnixMilliseconds(m) : null),
                    ("@ext", round.Extensions),
                    ("@msg", round.Message),
                    ("@data", round.Data));
                return inserted == 1;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<RoundRecord?> GetRoundAsync(string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return ReadAsync((c, t) => GetRound(c, t, jobId, round), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return ReadAsync<IReadOnlyList<RoundRecord>>(
            (c, t) => Query(c, t, $"SELECT {RoundColumns} FROM rounds WHERE job_id = @job ORDER BY round;", ReadRound, ("@job", jobId)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Returns null also when the round does not exist. Throws <see cref="InvalidOperationException"/> when a round
    /// that left <see cref="RoundState.Open"/> would be set back to Open (the upload set is frozen).
    /// </remarks>
    public Task<RoundRecord?> UpdateRoundAsync(RoundRecord round, CancellationToken cancellationToken = default)
    {
        ValidateRound(round);
        return WriteFencedAsync(
            (c, t) =>
            {
                var stored = GetRound(c, t, round.JobId, round.Round);
                if (stored is null || stored.Version != round.Version)
                {
                    return null;
                }

                if (stored.State != RoundState.Open && round.State == RoundState.Open)
                {
                    throw new InvalidOperationException(
                        $"Round {round.Round} of job '{round.JobId}' is {stored.State}: its upload set is frozen and it cannot be re-opened.");
                }

                var included = stored.State == RoundState.Open && round.State != RoundState.Open
                    ? Convert.ToInt32(
                        Scalar(c, t, "SELECT COUNT(*) FROM uploads WHERE job_id = @job AND round = @round;", ("@job", round.JobId), ("@round", round.Round)),
                        CultureInfo.InvariantCulture)
                    : stored.IncludedUploads;

                var changed = Execute(
                    c,
                    t,
                    """
                    UPDATE rounds SET state = @state, selected = @sel, opened_at = @oa, deadline = @dl,
                        minimum_reached_at = @mra, extensions = @ext, included_uploads = @inc, message = @msg, data = @data,
                        version = version + 1
                    WHERE job_id = @job AND round = @round AND version = @v;
                    """,
                    ("@job", round.JobId),
                    ("@round", round.Round),
                    ("@v", round.Version),
                    ("@state", round.State.ToString()),
                    ("@sel", EncodeStrings(round.Selected)),
                    ("@oa", ToUnixMilliseconds(round.OpenedAt)),
                    ("@dl", ToUnixMilliseconds(round.Deadline)),
                    ("@mra", round.MinimumReachedAt is { } m ? ToUnixMilliseconds(m) : null),
                    ("@ext", round.Extensions),
                    ("@inc", included),
                    ("@msg", round.Message),
                    ("@data", round.Data));
                return changed == 0 ? null : GetRound(c, t, round.JobId, round.Round);
            },
            cancellationToken);
    }

    // ---- received-update ledger

    /// <inheritdoc />
    /// <remarks>
    /// An existing ledger row is reported (Duplicate when its content ids are equal, ordinal and in order, else
    /// Conflict) before the round state is checked; <see cref="UploadRecord.Sequence"/> passed in is ignored and
    /// <see cref="UploadRecord.Bytes"/> and <see cref="UploadRecord.ReceivedAt"/> are stored as given.
    /// </remarks>
    public async Task<UploadOutcome> AddUploadAsync(UploadRecord upload, CancellationToken cancellationToken = default)
    {
        ValidateUpload(upload);
        ThrowIfNotReady();
        cancellationToken.ThrowIfCancellationRequested(); // once queued, the upload is written whatever the token says
        var pending = new PendingUpload(upload);
        lock (_uploadQueue)
        {
            _uploadQueue.Add(pending);
        }

        // Group commit: whoever holds the write lock writes every queued upload in one transaction (one fsync),
        // each under its own savepoint, and completes them after COMMIT. An upload is acknowledged only once durable.
        await _writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (!pending.Completion.Task.IsCompleted)
            {
                WriteUploadBatch();
            }
        }
        finally
        {
            _writeLock.Release();
        }

        return await pending.Completion.Task.ConfigureAwait(false);
    }

    private sealed class PendingUpload(UploadRecord upload)
    {
        public UploadRecord Upload { get; } = upload;

        public TaskCompletionSource<UploadOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public UploadOutcome Outcome { get; set; }

        public Exception? Error { get; set; }
    }

    private void WriteUploadBatch()
    {
        PendingUpload[] batch;
        lock (_uploadQueue)
        {
            batch = [.. _uploadQueue];
            _uploadQueue.Clear();
        }

        try
        {
            ThrowIfNotReady();
            var connection = OpenConnection();
            try
            {
                using var transaction = connection.BeginTransaction(deferred: false);
                for (int i = 0; i < batch.Length; i++)
                {
                    string savepoint = "u" + i.ToString(CultureInfo.InvariantCulture);
                    transaction.Save(savepoint);
                    try
                    {
                        batch[i].Outcome = AddUpload(connection, transaction, batch[i].Upload);
                        transaction.Release(savepoint);
                    }
                    catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
                    {
                        transaction.Rollback(savepoint);
                        transaction.Release(savepoint);
                        batch[i].Error = ex;
                    }
                }

                transaction.Commit();
            }
            finally
            {
                ReleaseConnection(connection);
            }
        }
        catch (Exception ex)
        {
            foreach (var p in batch)
            {
                p.Completion.TrySetException(ex);
            }

            return;
        }

        foreach (var p in batch)
        {
            if (p.Error is not null)
            {
                p.Completion.TrySetException(p.Error);
            }
            else
            {
                p.Completion.TrySetResult(p.Outcome);
            }
        }
    }

    private static UploadOutcome AddUpload(SqliteConnection c, SqliteTransaction t, UploadRecord upload)
    {
        var existing = QuerySingle(
            c,
            t,
            "SELECT content_ids FROM uploads WHERE job_id = @job AND round = @round AND participant_id = @p;",
            r => r.GetString(0),
            ("@job", upload.JobId),
            ("@round", upload.Round),
            ("@p", upload.ParticipantId));
        if (existing is not null)
        {
            return DecodeStrings(existing).AsSpan().SequenceEqual([.. upload.ContentIds])
                ? UploadOutcome.Duplicate
                : UploadOutcome.Conflict;
        }

        var state = QuerySingle(
            c,
            t,
            "SELECT state FROM rounds WHERE job_id = @job AND round = @round;",
            r => r.GetString(0),
            ("@job", upload.JobId),
            ("@round", upload.Round));
        if (state is null || ParseEnum<RoundState>(state) != RoundState.Open)
        {
            return UploadOutcome.RoundNotOpen;
        }

        Execute(
            c,
            t,
            """
            INSERT INTO uploads (job_id, round, participant_id, ciphertexts, content_ids, bytes, received_at)
            VALUES (@job, @round, @p, @ct, @ids, @bytes, @ra);
            """,
            ("@job", upload.JobId),
            ("@round", upload.Round),
            ("@p", upload.ParticipantId),
            ("@ct", EncodeBlobs(upload.Ciphertexts)),
            ("@ids", EncodeStrings(upload.ContentIds)),
            ("@bytes", upload.Bytes),
            ("@ra", ToUnixMilliseconds(upload.ReceivedAt)));
        return UploadOutcome.Stored;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<UploadRecord>> ListUploadsAsync(string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return ReadAsync<IReadOnlyList<UploadRecord>>(
            (c, t) => Query(
                c,
                t,
                $"SELECT {UploadColumns} FROM uploads WHERE job_id = @job AND round = @round ORDER BY sequence;",
                ReadUpload,
                ("@job", jobId),
                ("@round", round)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<(IReadOnlyList<string> Participants, long Bytes)> GetUploadSummaryAsync(
        string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return ReadAsync<(IReadOnlyList<string>, long)>(
            (c, t) =>
            {
                var rows = Query(
                    c,
                    t,
                    "SELECT participant_id, bytes FROM uploads WHERE job_id = @job AND round = @round ORDER BY sequence;",
                    r => (Participant: r.GetString(0), Bytes: r.GetInt64(1)),
                    ("@job", jobId),
                    ("@round", round));
                return (rows.Select(row => row.Participant).ToArray(), rows.Sum(row => row.Bytes));
            },
            cancellationToken);
    }

    // ---- accumulators

    /// <inheritdoc />
    /// <remarks>Throws <see cref="InvalidOperationException"/> if the round does not exist.</remarks>
    public Task<bool> SaveAccumulatorAsync(AccumulatorRecord accumulator, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(accumulator);
        ArgumentException.ThrowIfNullOrEmpty(accumulator.JobId);
        ArgumentOutOfRangeException.ThrowIfNegative(accumulator.Round);
        ValidateBlobs(accumulator.Ciphertexts, nameof(accumulator));
        return WriteAsync(
            (c, t) =>
            {
                if (!Exists(c, t, "SELECT 1 FROM rounds WHERE job_id = @job AND round = @round;", ("@job", accumulator.JobId), ("@round", accumulator.Round)))
                {
                    throw new InvalidOperationException(
                        $"Cannot save the accumulator: round {accumulator.Round} of job '{accumulator.JobId}' does not exist.");
                }

                return Execute(
                    c,
                    t,
                    """
                    INSERT INTO accumulators (job_id, round, ciphertexts, upload_count) VALUES (@job, @round, @ct, @n)
                    ON CONFLICT (job_id, round) DO NOTHING;
                    """,
                    ("@job", accumulator.JobId),
                    ("@round", accumulator.Round),
                    ("@ct", EncodeBlobs(accumulator.Ciphertexts)),
                    ("@n", accumulator.UploadCount)) == 1;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<AccumulatorRecord?> GetAccumulatorAsync(string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return ReadAsync(
            (c, t) => QuerySingle(
                c,
                t,
                "SELECT job_id, round, ciphertexts, upload_count FROM accumulators WHERE job_id = @job AND round = @round;",
                r => new AccumulatorRecord
                {
                    JobId = r.GetString(0),
                    Round = r.GetInt32(1),
                    Ciphertexts = DecodeBlobs(GetBytes(r, 2)),
                    UploadCount = r.GetInt32(3),
                },
                ("@job", jobId),
                ("@round", round)),
            cancellationToken);
    }

    // ---- custodian tasks

    /// <inheritdoc />
    /// <remarks>The record is stored as given (including any Answer, AnsweredAt and Withdrawn).</remarks>
    public Task<bool> AddTaskAsync(CustodianTaskRecord task, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentException.ThrowIfNullOrEmpty(task.TaskId);
        ArgumentException.ThrowIfNullOrEmpty(task.Scope);
        ArgumentNullException.ThrowIfNull(task.Payload);
        return WriteAsync(
            (c, t) => Execute(
                c,
                t,
                $"""
                INSERT INTO custodian_tasks ({TaskColumns}) VALUES (@id, @scope, @party, @payload, @answer, @ca, @aa, @w)
                ON CONFLICT (task_id) DO NOTHING;
                """,
                ("@id", task.TaskId),
                ("@scope", task.Scope),
                ("@party", task.Party),
                ("@payload", task.Payload),
                ("@answer", task.Answer),
                ("@ca", ToUnixMilliseconds(task.CreatedAt)),
                ("@aa", task.AnsweredAt is { } a ? ToUnixMilliseconds(a) : null),
                ("@w", task.Withdrawn)) == 1,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<CustodianTaskRecord?> GetTaskAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(taskId);
        return ReadAsync((c, t) => GetTask(c, t, taskId), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CustodianTaskRecord>> ListTasksAsync(string scope, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        return ReadAsync<IReadOnlyList<CustodianTaskRecord>>(
            (c, t) => Query(c, t, $"SELECT {TaskColumns} FROM custodian_tasks WHERE scope = @scope ORDER BY seq;", ReadTask, ("@scope", scope)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CustodianTaskRecord>> ListPendingTasksAsync(int party, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<CustodianTaskRecord>>(
            (c, t) => Query(
                c,
                t,
                $"SELECT {TaskColumns} FROM custodian_tasks WHERE party = @party AND answer IS NULL AND withdrawn = 0 ORDER BY seq;",
                ReadTask,
                ("@party", party)),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Checks in this order: UnknownTask, WrongParty, an existing answer (Duplicate when byte-equal, else Conflict),
    /// Withdrawn, then stores the answer with <see cref="CustodianTaskRecord.AnsweredAt"/> = now.
    /// </remarks>
    public Task<AnswerOutcome> SaveAnswerAsync(string taskId, int party, byte[] answer, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(taskId);
        ArgumentNullException.ThrowIfNull(answer);
        return WriteAsync(
            (c, t) =>
            {
                var task = GetTask(c, t, taskId);
                if (task is null)
                {
                    return AnswerOutcome.UnknownTask;
                }

                if (task.Party != party)
                {
                    return AnswerOutcome.WrongParty;
                }

                if (task.Answer is not null)
                {
                    return task.Answer.AsSpan().SequenceEqual(answer) ? AnswerOutcome.Duplicate : AnswerOutcome.Conflict;
                }

                if (task.Withdrawn)
                {
                    return AnswerOutcome.Withdrawn;
                }

                Execute(
                    c,
                    t,
                    "UPDATE custodian_tasks SET answer = @answer, answered_at = @aa WHERE task_id = @id AND answer IS NULL;",
                    ("@id", taskId),
                    ("@answer", answer),
                    ("@aa", ToUnixMilliseconds(_timeProvider.GetUtcNow())));
                return AnswerOutcome.Stored;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Counts only tasks withdrawn by this call (not answered, not already withdrawn).</remarks>
    public Task<int> WithdrawTasksAsync(string scope, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        return WriteAsync(
            (c, t) => Execute(
                c,
                t,
                "UPDATE custodian_tasks SET withdrawn = 1 WHERE scope = @scope AND answer IS NULL AND withdrawn = 0;",
                ("@scope", scope)),
            cancellationToken);
    }

    // ---- participants and custodians

    /// <inheritdoc />
    /// <remarks>Keyed by (cohort, participant); the last call wins.</remarks>
    public Task UpsertEnrollmentAsync(EnrollmentRecord enrollment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(enrollment);
        ArgumentException.ThrowIfNullOrEmpty(enrollment.ParticipantId);
        ArgumentException.ThrowIfNullOrEmpty(enrollment.CohortId);
        return WriteAsync(
            (c, t) => Execute(
                c,
                t,
                """
                INSERT INTO enrollments (cohort_id, participant_id, training, analytics, updated_at)
                VALUES (@cohort, @p, @training, @analytics, @ua)
                ON CONFLICT (cohort_id, participant_id) DO UPDATE SET
                    training = excluded.training, analytics = excluded.analytics, updated_at = excluded.updated_at;
                """,
                ("@cohort", enrollment.CohortId),
                ("@p", enrollment.ParticipantId),
                ("@training", enrollment.Training),
                ("@analytics", enrollment.Analytics),
                ("@ua", ToUnixMilliseconds(enrollment.UpdatedAt))),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Ordered by participant id (ordinal).</remarks>
    public Task<IReadOnlyList<EnrollmentRecord>> ListEnrollmentsAsync(string cohortId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        return ReadAsync<IReadOnlyList<EnrollmentRecord>>(
            (c, t) => Query(
                c,
                t,
                "SELECT participant_id, cohort_id, training, analytics, updated_at FROM enrollments WHERE cohort_id = @cohort ORDER BY participant_id;",
                r => new EnrollmentRecord
                {
                    ParticipantId = r.GetString(0),
                    CohortId = r.GetString(1),
                    Training = r.GetInt64(2) != 0,
                    Analytics = r.GetInt64(3) != 0,
                    UpdatedAt = FromUnixMilliseconds(r.GetInt64(4)),
                },
                ("@cohort", cohortId)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Re-registering replaces the key and <see cref="CustodianRecord.RegisteredAt"/>. Throws
    /// <see cref="StoreConflictException"/> when the party belongs to another id or the id is registered with
    /// another party.
    /// </remarks>
    public Task UpsertCustodianAsync(CustodianRecord custodian, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(custodian);
        ArgumentException.ThrowIfNullOrEmpty(custodian.CustodianId);
        ArgumentNullException.ThrowIfNull(custodian.AgreementPublicKey);
        return WriteAsync(
            (c, t) =>
            {
                var holder = QuerySingle(c, t, "SELECT custodian_id FROM custodians WHERE party = @party;", r => r.GetString(0), ("@party", custodian.Party));
                if (holder is not null && !string.Equals(holder, custodian.CustodianId, StringComparison.Ordinal))
                {
                    throw new StoreConflictException($"Party {custodian.Party} is already registered by custodian '{holder}'.");
                }

                var party = QuerySingle(c, t, "SELECT party FROM custodians WHERE custodian_id = @id;", r => (int?)r.GetInt32(0), ("@id", custodian.CustodianId));
                if (party is { } p && p != custodian.Party)
                {
                    throw new StoreConflictException($"Custodian '{custodian.CustodianId}' is already registered as party {p}.");
                }

                return Execute(
                    c,
                    t,
                    """
                    INSERT INTO custodians (custodian_id, party, agreement_public_key, registered_at) VALUES (@id, @party, @key, @ra)
                    ON CONFLICT (custodian_id) DO UPDATE SET
                        agreement_public_key = excluded.agreement_public_key, registered_at = excluded.registered_at;
                    """,
                    ("@id", custodian.CustodianId),
                    ("@party", custodian.Party),
                    ("@key", custodian.AgreementPublicKey),
                    ("@ra", ToUnixMilliseconds(custodian.RegisteredAt)));
            },
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Ordered by party.</remarks>
    public Task<IReadOnlyList<CustodianRecord>> ListCustodiansAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<CustodianRecord>>(
            (c, t) => Query(
                c,
                t,
                "SELECT custodian_id, party, agreement_public_key, registered_at FROM custodians ORDER BY party;",
                r => new CustodianRecord
                {
                    CustodianId = r.GetString(0),
                    Party = r.GetInt32(1),
                    AgreementPublicKey = GetBytes(r, 2),
                    RegisteredAt = FromUnixMilliseconds(r.GetInt64(3)),
                }),
            cancellationToken);

    // ---- key sets and artifacts

    /// <inheritdoc />
    public Task CreateKeySetAsync(KeySetRecord keySet, CancellationToken cancellationToken = default)
    {
        ValidateKeySet(keySet);
        return WriteAsync(
            (c, t) =>
            {
                if (Exists(c, t, "SELECT 1 FROM key_sets WHERE key_set_id = @id;", ("@id", keySet.KeySetId)))
                {
                    throw new StoreConflictException($"A key set with id '{keySet.KeySetId}' already exists.");
                }

                return Execute(
                    c,
                    t,
                    $"""
                    INSERT INTO key_sets ({KeySetColumns})
                    VALUES (@id, @preset, @members, @threshold, @state, @phase, @data, @msg, @ca, 1);
                    """,
                    ("@id", keySet.KeySetId),
                    ("@preset", keySet.Preset),
                    ("@members", keySet.Members),
                    ("@threshold", keySet.Threshold),
                    ("@state", keySet.State),
                    ("@phase", keySet.Phase),
                    ("@data", keySet.Data),
                    ("@msg", keySet.Message),
                    ("@ca", ToUnixMilliseconds(keySet.CreatedAt)));
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<KeySetRecord?> GetKeySetAsync(string keySetId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(keySetId);
        return ReadAsync((c, t) => GetKeySet(c, t, keySetId), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>In creation order.</remarks>
    public Task<IReadOnlyList<KeySetRecord>> ListKeySetsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<KeySetRecord>>(
            (c, t) => Query(c, t, $"SELECT {KeySetColumns} FROM key_sets ORDER BY seq;", ReadKeySet),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>Returns null also when the key set does not exist.</remarks>
    public Task<KeySetRecord?> UpdateKeySetAsync(KeySetRecord keySet, CancellationToken cancellationToken = default)
    {
        ValidateKeySet(keySet);
        return WriteFencedAsync(
            (c, t) =>
            {
                var changed = Execute(
                    c,
                    t,
                    """
                    UPDATE key_sets SET preset = @preset, members = @members, threshold = @threshold, state = @state,
                        phase = @phase, data = @data, message = @msg, version = version + 1
                    WHERE key_set_id = @id AND version = @v;
                    """,
                    ("@id", keySet.KeySetId),
                    ("@v", keySet.Version),
                    ("@preset", keySet.Preset),
                    ("@members", keySet.Members),
                    ("@threshold", keySet.Threshold),
                    ("@state", keySet.State),
                    ("@phase", keySet.Phase),
                    ("@data", keySet.Data),
                    ("@msg", keySet.Message));
                return changed == 0 ? null : GetKeySet(c, t, keySet.KeySetId);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> PutArtifactAsync(string scope, string name, byte[] data, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(data);
        return WriteAsync(
            (c, t) => Execute(
                c,
                t,
                "INSERT INTO artifacts (scope, name, data) VALUES (@scope, @name, @data) ON CONFLICT (scope, name) DO NOTHING;",
                ("@scope", scope),
                ("@name", name),
                ("@data", data)) == 1,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]?> GetArtifactAsync(string scope, string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return ReadAsync(
            (c, t) => QuerySingle(
                c,
                t,
                "SELECT data FROM artifacts WHERE scope = @scope AND name = @name;",
                r => GetBytes(r, 0),
                ("@scope", scope),
                ("@name", name)),
            cancellationToken);
    }

    /// <summary>Closes the database (pooled connections included). Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        // Wait for an in-flight write so that it commits before the connections close.
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_memoryConnection is not null)
            {
                await _memoryConnection.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                using var connection = new SqliteConnection(_connectionString);
                SqliteConnection.ClearPool(connection);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // ---- transaction plumbing

    private async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> body, CancellationToken cancellationToken)
    {
        ThrowIfNotReady();
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfNotReady();
            cancellationToken.ThrowIfCancellationRequested();
            var connection = OpenConnection();
            try
            {
                // Serializable + not deferred = BEGIN IMMEDIATE: the write lock is taken before the first read.
                using var transaction = connection.BeginTransaction(deferred: false);
                var result = body(connection, transaction);
                transaction.Commit();
                return result;
            }
            finally
            {
                ReleaseConnection(connection);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task<T> ReadAsync<T>(
        Func<SqliteConnection, SqliteTransaction, T> body, CancellationToken cancellationToken, bool requireInitialized = true)
    {
        if (requireInitialized)
        {
            ThrowIfNotReady();
        }
        else
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
        }

        // A file database allows concurrent readers (WAL); the single in-memory connection does not.
        var locked = _memoryConnection is not null;
        if (locked)
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            var connection = OpenConnection();
            try
            {
                using var transaction = connection.BeginTransaction(deferred: true);
                var result = body(connection, transaction);
                transaction.Commit();
                return result;
            }
            finally
            {
                ReleaseConnection(connection);
            }
        }
        finally
        {
            if (locked)
            {
                _writeLock.Release();
            }
        }
    }

    private void ThrowIfNotReady()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_initialized)
        {
            throw new InvalidOperationException("The store is not initialized: call InitializeAsync (or use CreateAsync) first.");
        }
    }

    private SqliteConnection OpenConnection()
    {
        if (_memoryConnection is not null)
        {
            if (_memoryConnection.State != System.Data.ConnectionState.Open)
            {
                _memoryConnection.Open();
                Execute(_memoryConnection, null, "PRAGMA foreign_keys = ON;");
            }

            return _memoryConnection;
        }

        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            // Per-connection settings (re-applied to pooled connections; cheap).
            Execute(connection, null, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void ReleaseConnection(SqliteConnection connection)
    {
        if (!ReferenceEquals(connection, _memoryConnection))
        {
            connection.Dispose();
        }
    }

    private static SqliteCommand Command(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value switch
            {
                null => DBNull.Value,
                bool b => b ? 1L : 0L,
                _ => value,
            });
        }

        return command;
    }

    private static int Execute(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private static object? Scalar(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteScalar();
    }

    private static bool Exists(
        SqliteConnection connection, SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters) =>
        Scalar(connection, transaction, sql, parameters) is not null;

    private static List<T> Query<T>(
        SqliteConnection connection, SqliteTransaction transaction, string sql, Func<SqliteDataReader, T> read,
        params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        using var reader = command.ExecuteReader();
        var results = new List<T>();
        while (reader.Read())
        {
            results.Add(read(reader));
        }

        return results;
    }

    private static T? QuerySingle<T>(
        SqliteConnection connection, SqliteTransaction transaction, string sql, Func<SqliteDataReader, T> read,
        params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        using var reader = command.ExecuteReader();
        return reader.Read() ? read(reader) : default;
    }

    // ---- row mapping

    private static JobRecord? GetJob(SqliteConnection c, SqliteTransaction t, string jobId) =>
        QuerySingle(c, t, $"SELECT {JobColumns} FROM jobs WHERE job_id = @id;", ReadJob, ("@id", jobId));

    private static RoundRecord? GetRound(SqliteConnection c, SqliteTransaction t, string jobId, int round) =>
        QuerySingle(c, t, $"SELECT {RoundColumns} FROM rounds WHERE job_id = @job AND round = @round;", ReadRound, ("@job", jobId), ("@round", round));

    private static CustodianTaskRecord? GetTask(SqliteConnection c, SqliteTransaction t, string taskId) =>
        QuerySingle(c, t, $"SELECT {TaskColumns} FROM custodian_tasks WHERE task_id = @id;", ReadTask, ("@id", taskId));

    private static KeySetRecord? GetKeySet(SqliteConnection c, SqliteTransaction t, string keySetId) =>
        QuerySingle(c, t, $"SELECT {KeySetColumns} FROM key_sets WHERE key_set_id = @id;", ReadKeySet, ("@id", keySetId));

    private static JobRecord ReadJob(SqliteDataReader r) => new()
    {
        JobId = r.GetString(0),
        KeySetId = r.GetString(1),
        Spec = GetBytes(r, 2),
        State = ParseEnum<JobState>(r.GetString(3)),
        CurrentRound = r.GetInt32(4),
        GlobalModel = DecodeDoubles(GetBytes(r, 5)),
        StrategyState = r.IsDBNull(6) ? null : GetBytes(r, 6),
        Message = r.IsDBNull(7) ? null : r.GetString(7),
        IdempotencyKey = r.IsDBNull(8) ? null : r.GetString(8),
        CreatedAt = FromUnixMilliseconds(r.GetInt64(9)),
        UpdatedAt = FromUnixMilliseconds(r.GetInt64(10)),
        Version = r.GetInt64(11),
    };

    private static RoundRecord ReadRound(SqliteDataReader r) => new()
    {
        JobId = r.GetString(0),
        Round = r.GetInt32(1),
        State = ParseEnum<RoundState>(r.GetString(2)),
        Selected = DecodeStrings(r.GetString(3)),
        OpenedAt = FromUnixMilliseconds(r.GetInt64(4)),
        Deadline = FromUnixMilliseconds(r.GetInt64(5)),
        MinimumReachedAt = r.IsDBNull(6) ? null : FromUnixMilliseconds(r.GetInt64(6)),
        Extensions = r.GetInt32(7),
        IncludedUploads = r.GetInt32(8),
        Message = r.IsDBNull(9) ? null : r.GetString(9),
        Data = r.IsDBNull(10) ? null : r.GetString(10),
        Version = r.GetInt64(11),
    };

    private static UploadRecord ReadUpload(SqliteDataReader r) => new()
    {
        JobId = r.GetString(0),
        Round = r.GetInt32(1),
        ParticipantId = r.GetString(2),
        Sequence = r.GetInt64(3),
        Ciphertexts = DecodeBlobs(GetBytes(r, 4)),
        ContentIds = DecodeStrings(r.GetString(5)),
        Bytes = r.GetInt64(6),
        ReceivedAt = FromUnixMilliseconds(r.GetInt64(7)),
    };

    private static CustodianTaskRecord ReadTask(SqliteDataReader r) => new()
    {
        TaskId = r.GetString(0),
        Scope = r.GetString(1),
        Party = r.GetInt32(2),
        Payload = GetBytes(r, 3),
        Answer = r.IsDBNull(4) ? null : GetBytes(r, 4),
        CreatedAt = FromUnixMilliseconds(r.GetInt64(5)),
        AnsweredAt = r.IsDBNull(6) ? null : FromUnixMilliseconds(r.GetInt64(6)),
        Withdrawn = r.GetInt64(7) != 0,
    };

    private static KeySetRecord ReadKeySet(SqliteDataReader r) => new()
    {
        KeySetId = r.GetString(0),
        Preset = r.GetString(1),
        Members = r.GetInt32(2),
        Threshold = r.GetInt32(3),
        State = r.GetString(4),
        Phase = r.GetString(5),
        Data = r.IsDBNull(6) ? null : r.GetString(6),
        Message = r.IsDBNull(7) ? null : r.GetString(7),
        CreatedAt = FromUnixMilliseconds(r.GetInt64(8)),
        Version = r.GetInt64(9),
    };

    /// <summary>Reads a NOT NULL BLOB column (zero-length BLOBs read back as empty arrays).</summary>
    private static byte[] GetBytes(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? [] : reader.GetFieldValue<byte[]>(ordinal);
}
