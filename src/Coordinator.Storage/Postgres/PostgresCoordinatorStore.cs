using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using static PrivateHealth.Coordinator.Storage.SqliteEncoding;
using static PrivateHealth.Coordinator.Storage.StoreValidation;

namespace PrivateHealth.Coordinator.Storage.Postgres;

/// <summary>
/// <see cref="ICoordinatorStore"/>, <see cref="ICohortStore"/> and <see cref="IQueryJobStore"/> on PostgreSQL (Npgsql),
/// for a coordinator that runs on several nodes; the same contract as <see cref="SqliteCoordinatorStore"/> (see
/// docs/decisions/0015-postgres-store.md).
/// </summary>
/// <remarks>
/// <para>
/// Every interface method is one READ COMMITTED transaction on a pooled connection (<see cref="NpgsqlDataSource"/>).
/// Exactly-once rules are enforced by the database, so they hold across processes: unique constraints with
/// <c>INSERT … ON CONFLICT</c>, compare-and-set as a single <c>UPDATE … WHERE version = @v</c>, and
/// <c>SELECT … FOR UPDATE</c> (or <c>FOR SHARE</c>) on the row that a read-modify-write depends on: the round while an
/// upload is added (shared) or the round is closed (exclusive, so the frozen upload count includes every upload that
/// was accepted), the task while it is answered, the quote while a job takes it, the cohort while its ledger is
/// appended to (which also keeps a cohort's event sequences in commit order). A deadlock or serialization failure
/// retries the transaction.
/// </para>
/// <para>
/// Ciphertexts of uploads, accumulators and contributions are stored once per content in <c>blobs</c> (SHA-256 key)
/// and referenced by hash. Timestamps are <c>timestamptz</c> truncated to milliseconds and read back in UTC, as with
/// SQLite. <see cref="InitializeAsync"/> applies the versioned migrations in one transaction under
/// <c>pg_advisory_xact_lock</c>, so nodes that start together migrate once. Text values cannot contain U+0000
/// (PostgreSQL rejects them).
/// </para>
/// <para>
/// The store-managed fields and the additional rules are those of <see cref="SqliteCoordinatorStore"/>.
/// </para>
/// </remarks>
public sealed partial class PostgresCoordinatorStore : ICoordinatorStore, ICohortStore, IQueryJobStore
{
    private const string JobColumns =
        "job_id, key_set_id, spec, state, current_round, global_model, strategy_state, message, idempotency_key, created_at, updated_at, version";

    private const string RoundColumns =
        "job_id, round, state, selected, opened_at, deadline, minimum_reached_at, extensions, included_uploads, message, data, version";

    private const string TaskColumns =
        "task_id, scope, party, payload, answer, created_at, answered_at, withdrawn";

    private const string KeySetColumns =
        "key_set_id, preset, members, threshold, state, phase, data, message, created_at, version";

    private static readonly Regex SchemaName = new("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant);

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _timeProvider;

    private volatile bool _initialized;
    private volatile bool _disposed;

    /// <summary>Opens (without initializing) a store on the database of <paramref name="connectionString"/>.</summary>
    /// <param name="connectionString">An Npgsql connection string (pooling options apply).</param>
    /// <param name="schema">
    /// Optional schema (lower-case identifier) that holds the tables: created by <see cref="InitializeAsync"/> if
    /// missing and used as the connections' search path. Null: the connection string's search path.
    /// </param>
    /// <param name="timeProvider">Clock for store-assigned timestamps (default: the system clock).</param>
    public PostgresCoordinatorStore(string connectionString, string? schema = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        if (schema is not null && !SchemaName.IsMatch(schema))
        {
            throw new ArgumentException($"'{schema}' is not a valid schema name (lower-case letters, digits and '_').", nameof(schema));
        }

        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (schema is not null)
        {
            builder.SearchPath = schema;
        }

        Schema = schema;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    /// <summary>The schema given to the constructor (null: the connection string's search path).</summary>
    public string? Schema { get; }

    /// <summary>The schema version this code migrates to.</summary>
    public static int LatestSchemaVersion => PostgresMigrations.Scripts.Count;

    /// <summary>Constructs a store and runs <see cref="InitializeAsync"/>.</summary>
    public static async Task<PostgresCoordinatorStore> CreateAsync(
        string connectionString, string? schema = null, CancellationToken cancellationToken = default)
    {
        var store = new PostgresCoordinatorStore(connectionString, schema);
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
    /// <remarks>
    /// One transaction: takes <c>pg_advisory_xact_lock</c> on a key derived from the schema (so concurrent starts
    /// wait for each other), creates the schema if one was configured, then applies the missing migrations and records
    /// each in <c>schema_version</c>. Throws <see cref="InvalidOperationException"/> if the database is newer than
    /// this code.
    /// </remarks>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await WriteAsync(
            async (db, ct) =>
            {
                var scope = Schema ?? (string?)await db.ScalarAsync("SELECT current_schema();", ct).ConfigureAwait(false) ?? "";
                await db.ExecuteAsync(
                    "SELECT pg_advisory_xact_lock(hashtextextended(@k, 0));",
                    ct,
                    ("k", "privatehealth.coordinator.migrations:" + scope)).ConfigureAwait(false);
                // Checked first (not CREATE SCHEMA IF NOT EXISTS), so a role without CREATE on the database can use a
                // schema that an administrator created for it.
                if (Schema is not null
                    && (bool)(await db.ScalarAsync("SELECT to_regnamespace(@s) IS NULL;", ct, ("s", Schema)).ConfigureAwait(false))!)
                {
                    await db.ExecuteAsync($"CREATE SCHEMA \"{Schema}\";", ct).ConfigureAwait(false);
                }

                await db.ExecuteAsync(PostgresMigrations.VersionTable, ct).ConfigureAwait(false);
                var current = Convert.ToInt32(
                    await db.ScalarAsync("SELECT COALESCE(MAX(version), 0) FROM schema_version;", ct).ConfigureAwait(false),
                    CultureInfo.InvariantCulture);
                if (current > PostgresMigrations.Scripts.Count)
                {
                    throw new InvalidOperationException(
                        $"The database (schema '{scope}') has schema version {current}, newer than this code supports ({PostgresMigrations.Scripts.Count}).");
                }

                for (var version = current + 1; version <= PostgresMigrations.Scripts.Count; version++)
                {
                    await db.ExecuteAsync(PostgresMigrations.Scripts[version - 1], ct).ConfigureAwait(false);
                    await db.ExecuteAsync(
                        "INSERT INTO schema_version (version, applied_at) VALUES (@v, @t);",
                        ct,
                        ("v", version),
                        ("t", Ts(_timeProvider.GetUtcNow()))).ConfigureAwait(false);
                }

                return true;
            },
            cancellationToken,
            requireInitialized: false).ConfigureAwait(false);
        _initialized = true;
    }

    /// <summary>The schema version recorded in the database (0 before initialization).</summary>
    internal Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(
            async (db, ct) => (bool)(await db.ScalarAsync("SELECT to_regclass('schema_version') IS NOT NULL;", ct).ConfigureAwait(false))!
                ? Convert.ToInt32(
                    await db.ScalarAsync("SELECT COALESCE(MAX(version), 0) FROM schema_version;", ct).ConfigureAwait(false),
                    CultureInfo.InvariantCulture)
                : 0,
            cancellationToken,
            requireInitialized: false);

    // ---- jobs

    /// <inheritdoc />
    public Task<JobRecord> CreateJobAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ValidateJob(job);
        var key = string.IsNullOrEmpty(job.IdempotencyKey) ? null : job.IdempotencyKey;
        return WriteAsync(
            async (db, ct) =>
            {
                if (key is not null && await GetJobByKeyAsync(db, key, ct).ConfigureAwait(false) is { } existing)
                {
                    return existing;
                }

                // ON CONFLICT without a target covers both the job id and the idempotency key.
                var inserted = await db.QuerySingleAsync(
                    $"""
                    INSERT INTO jobs ({JobColumns})
                    VALUES (@id, @ks, @spec, @state, @cr, @gm, @ss, @msg, @key, @ca, @ua, 1)
                    ON CONFLICT DO NOTHING
                    RETURNING {JobColumns};
                    """,
                    ReadJob,
                    ct,
                    ("id", job.JobId),
                    ("ks", job.KeySetId),
                    ("spec", job.Spec),
                    ("state", job.State.ToString()),
                    ("cr", job.CurrentRound),
                    ("gm", EncodeDoubles(job.GlobalModel)),
                    ("ss", job.StrategyState),
                    ("msg", job.Message),
                    ("key", key),
                    ("ca", Ts(job.CreatedAt)),
                    ("ua", Ts(job.UpdatedAt))).ConfigureAwait(false);
                if (inserted is not null)
                {
                    return inserted;
                }

                // A concurrent call with the same key committed first: return its job.
                if (key is not null && await GetJobByKeyAsync(db, key, ct).ConfigureAwait(false) is { } raced)
                {
                    return raced;
                }

                throw new StoreConflictException($"A job with id '{job.JobId}' already exists.");
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<JobRecord?> GetJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return ReadAsync((db, ct) => GetJobAsync(db, jobId, ct), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>In creation order.</remarks>
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<JobRecord>>(
            async (db, ct) => await db.QueryAsync($"SELECT {JobColumns} FROM jobs ORDER BY seq;", ReadJob, ct).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>Returns null also when the job does not exist.</remarks>
    public Task<JobRecord?> UpdateJobAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ValidateJob(job);
        return WriteFencedAsync(
            (db, ct) => db.QuerySingleAsync(
                $"""
                UPDATE jobs SET key_set_id = @ks, spec = @spec, state = @state, current_round = @cr,
                    global_model = @gm, strategy_state = @ss, message = @msg, updated_at = @ua, version = version + 1
                WHERE job_id = @id AND version = @v
                RETURNING {JobColumns};
                """,
                ReadJob,
                ct,
                ("id", job.JobId),
                ("v", job.Version),
                ("ks", job.KeySetId),
                ("spec", job.Spec),
                ("state", job.State.ToString()),
                ("cr", job.CurrentRound),
                ("gm", EncodeDoubles(job.GlobalModel)),
                ("ss", job.StrategyState),
                ("msg", job.Message),
                ("ua", Ts(job.UpdatedAt))),
            cancellationToken);
    }

    // ---- rounds

    /// <inheritdoc />
    /// <remarks>Throws <see cref="InvalidOperationException"/> if the job does not exist.</remarks>
    public Task<bool> CreateRoundAsync(RoundRecord round, CancellationToken cancellationToken = default)
    {
        ValidateRound(round);
        return WriteAsync(
            async (db, ct) =>
            {
                if (!await db.ExistsAsync("SELECT 1 FROM jobs WHERE job_id = @id;", ct, ("id", round.JobId)).ConfigureAwait(false))
                {
                    throw new InvalidOperationException($"Cannot create round {round.Round}: job '{round.JobId}' does not exist.");
                }

                var inserted = await db.ExecuteAsync(
                    $"""
                    INSERT INTO rounds ({RoundColumns})
                    VALUES (@job, @round, @state, @sel, @oa, @dl, @mra, @ext, 0, @msg, @data, 1)
                    ON CONFLICT (job_id, round) DO NOTHING;
                    """,
                    ct,
                    ("job", round.JobId),
                    ("round", round.Round),
                    ("state", round.State.ToString()),
                    ("sel", round.Selected.ToArray()),
                    ("oa", Ts(round.OpenedAt)),
                    ("dl", Ts(round.Deadline)),
                    ("mra", Ts(round.MinimumReachedAt)),
                    ("ext", round.Extensions),
                    ("msg", round.Message),
                    ("data", round.Data)).ConfigureAwait(false);
                return inserted == 1;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<RoundRecord?> GetRoundAsync(string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return ReadAsync((db, ct) => GetRoundAsync(db, jobId, round, lockMode: "", ct), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return ReadAsync<IReadOnlyList<RoundRecord>>(
            async (db, ct) => await db.QueryAsync(
                $"SELECT {RoundColumns} FROM rounds WHERE job_id = @job ORDER BY round;", ReadRound, ct, ("job", jobId)).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Locks the round row (<c>FOR UPDATE</c>): closing waits for uploads in flight (they hold it <c>FOR SHARE</c>),
    /// so the frozen count includes every upload that was reported Stored, and no upload is accepted after it.
    /// </remarks>
    public Task<RoundRecord?> UpdateRoundAsync(RoundRecord round, CancellationToken cancellationToken = default)
    {
        ValidateRound(round);
        return WriteFencedAsync(
            async (db, ct) =>
            {
                var stored = await GetRoundAsync(db, round.JobId, round.Round, lockMode: "FOR UPDATE", ct).ConfigureAwait(false);
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
                        await db.ScalarAsync(
                            "SELECT COUNT(*) FROM uploads WHERE job_id = @job AND round = @round;", ct, ("job", round.JobId), ("round", round.Round))
                            .ConfigureAwait(false),
                        CultureInfo.InvariantCulture)
                    : stored.IncludedUploads;

                return await db.QuerySingleAsync(
                    $"""
                    UPDATE rounds SET state = @state, selected = @sel, opened_at = @oa, deadline = @dl,
                        minimum_reached_at = @mra, extensions = @ext, included_uploads = @inc, message = @msg, data = @data,
                        version = version + 1
                    WHERE job_id = @job AND round = @round AND version = @v
                    RETURNING {RoundColumns};
                    """,
                    ReadRound,
                    ct,
                    ("job", round.JobId),
                    ("round", round.Round),
                    ("v", round.Version),
                    ("state", round.State.ToString()),
                    ("sel", round.Selected.ToArray()),
                    ("oa", Ts(round.OpenedAt)),
                    ("dl", Ts(round.Deadline)),
                    ("mra", Ts(round.MinimumReachedAt)),
                    ("ext", round.Extensions),
                    ("inc", included),
                    ("msg", round.Message),
                    ("data", round.Data)).ConfigureAwait(false);
            },
            cancellationToken);
    }

    // ---- received-update ledger

    /// <inheritdoc />
    /// <remarks>
    /// <para>
    /// One transaction: (1) an existing row for (job, round, participant) → Duplicate/Conflict; (2) the round, locked
    /// <c>FOR SHARE</c>, must be Open (else the row is looked up once more, for a retry that raced with the close,
    /// then RoundNotOpen); (3) the ciphertexts go to <c>blobs</c> (once per content); (4) <c>INSERT … ON CONFLICT
    /// DO NOTHING</c>: if another node inserted the row first, the transaction is rolled back and its row decides
    /// Duplicate/Conflict. The unique constraint makes acceptance exactly-once across processes.
    /// </para>
    /// <para>
    /// A cancelled token is honoured before anything is written; an upload that reached the database commits
    /// (Stored is acknowledged only after COMMIT).
    /// </para>
    /// </remarks>
    public Task<UploadOutcome> AddUploadAsync(UploadRecord upload, CancellationToken cancellationToken = default)
    {
        ValidateUpload(upload);
        cancellationToken.ThrowIfCancellationRequested();
        var contentIds = upload.ContentIds.ToArray();
        return WriteAsync(
            async (db, ct) =>
            {
                if (await ExistingUploadAsync(db, upload, contentIds, ct).ConfigureAwait(false) is { } existing)
                {
                    return existing;
                }

                var state = (string?)await db.ScalarAsync(
                    "SELECT state FROM rounds WHERE job_id = @job AND round = @round FOR SHARE;",
                    ct,
                    ("job", upload.JobId),
                    ("round", upload.Round)).ConfigureAwait(false);
                if (state is null || ParseEnum<RoundState>(state) != RoundState.Open)
                {
                    return await ExistingUploadAsync(db, upload, contentIds, ct).ConfigureAwait(false) ?? UploadOutcome.RoundNotOpen;
                }

                var hashes = await PutBlobsAsync(db, upload.Ciphertexts, ct).ConfigureAwait(false);
                var inserted = await db.ExecuteAsync(
                    """
                    INSERT INTO uploads (job_id, round, participant_id, ciphertexts, content_ids, bytes, received_at)
                    VALUES (@job, @round, @p, @ct, @ids, @bytes, @ra)
                    ON CONFLICT (job_id, round, participant_id) DO NOTHING;
                    """,
                    ct,
                    ("job", upload.JobId),
                    ("round", upload.Round),
                    ("p", upload.ParticipantId),
                    ("ct", hashes),
                    ("ids", contentIds),
                    ("bytes", upload.Bytes),
                    ("ra", Ts(upload.ReceivedAt))).ConfigureAwait(false);
                if (inserted == 1)
                {
                    return UploadOutcome.Stored;
                }

                // Another transaction stored this participant's upload first and committed (ON CONFLICT waited for it):
                // drop our blobs with the transaction and answer from its row.
                var after = await db.RollbackAsync().ConfigureAwait(false);
                return await ExistingUploadAsync(after, upload, contentIds, ct).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("An upload that conflicted on insert is not in the ledger.");
            },
            cancellationToken);
    }

    private static async Task<UploadOutcome?> ExistingUploadAsync(Db db, UploadRecord upload, string[] contentIds, CancellationToken ct)
    {
        var existing = await db.QuerySingleAsync(
            "SELECT content_ids FROM uploads WHERE job_id = @job AND round = @round AND participant_id = @p;",
            r => r.GetFieldValue<string[]>(0),
            ct,
            ("job", upload.JobId),
            ("round", upload.Round),
            ("p", upload.ParticipantId)).ConfigureAwait(false);
        return existing is null
            ? null
            : existing.AsSpan().SequenceEqual(contentIds) ? UploadOutcome.Duplicate : UploadOutcome.Conflict;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<UploadRecord>> ListUploadsAsync(string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return ReadAsync<IReadOnlyList<UploadRecord>>(
            async (db, ct) => await db.QueryAsync(
                $"""
                SELECT u.job_id, u.round, u.participant_id, u.sequence, {BlobArray("u.ciphertexts")}, u.content_ids, u.bytes, u.received_at
                FROM uploads u
                WHERE u.job_id = @job AND u.round = @round
                ORDER BY u.sequence;
                """,
                r =>
                {
                    var contentIds = r.GetFieldValue<string[]>(5);
                    return new UploadRecord
                    {
                        JobId = r.GetString(0),
                        Round = r.GetInt32(1),
                        ParticipantId = r.GetString(2),
                        Sequence = r.GetInt64(3),
                        Ciphertexts = ReadBlobs(r, 4, contentIds.Length),
                        ContentIds = contentIds,
                        Bytes = r.GetInt64(6),
                        ReceivedAt = ReadTs(r, 7),
                    };
                },
                ct,
                ("job", jobId),
                ("round", round)).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<(IReadOnlyList<string> Participants, long Bytes)> GetUploadSummaryAsync(
        string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return ReadAsync<(IReadOnlyList<string>, long)>(
            async (db, ct) =>
            {
                var rows = await db.QueryAsync(
                    "SELECT participant_id, bytes FROM uploads WHERE job_id = @job AND round = @round ORDER BY sequence;",
                    r => (Participant: r.GetString(0), Bytes: r.GetInt64(1)),
                    ct,
                    ("job", jobId),
                    ("round", round)).ConfigureAwait(false);
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
            async (db, ct) =>
            {
                if (!await db.ExistsAsync(
                        "SELECT 1 FROM rounds WHERE job_id = @job AND round = @round;", ct, ("job", accumulator.JobId), ("round", accumulator.Round))
                    .ConfigureAwait(false))
                {
                    throw new InvalidOperationException(
                        $"Cannot save the accumulator: round {accumulator.Round} of job '{accumulator.JobId}' does not exist.");
                }

                if (await db.ExistsAsync(
                        "SELECT 1 FROM accumulators WHERE job_id = @job AND round = @round;", ct, ("job", accumulator.JobId), ("round", accumulator.Round))
                    .ConfigureAwait(false))
                {
                    return false;
                }

                var hashes = await PutBlobsAsync(db, accumulator.Ciphertexts, ct).ConfigureAwait(false);
                var inserted = await db.ExecuteAsync(
                    """
                    INSERT INTO accumulators (job_id, round, ciphertexts, upload_count) VALUES (@job, @round, @ct, @n)
                    ON CONFLICT (job_id, round) DO NOTHING;
                    """,
                    ct,
                    ("job", accumulator.JobId),
                    ("round", accumulator.Round),
                    ("ct", hashes),
                    ("n", accumulator.UploadCount)).ConfigureAwait(false);
                if (inserted == 0)
                {
                    await db.RollbackAsync().ConfigureAwait(false); // a concurrent save won; keep no blobs of ours
                }

                return inserted == 1;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<AccumulatorRecord?> GetAccumulatorAsync(string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return ReadAsync(
            (db, ct) => db.QuerySingleAsync(
                $"""
                SELECT job_id, round, {BlobArray("ciphertexts")}, cardinality(ciphertexts), upload_count
                FROM accumulators WHERE job_id = @job AND round = @round;
                """,
                r => new AccumulatorRecord
                {
                    JobId = r.GetString(0),
                    Round = r.GetInt32(1),
                    Ciphertexts = ReadBlobs(r, 2, r.GetInt32(3)),
                    UploadCount = r.GetInt32(4),
                },
                ct,
                ("job", jobId),
                ("round", round)),
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
            async (db, ct) => await db.ExecuteAsync(
                $"""
                INSERT INTO custodian_tasks ({TaskColumns}) VALUES (@id, @scope, @party, @payload, @answer, @ca, @aa, @w)
                ON CONFLICT (task_id) DO NOTHING;
                """,
                ct,
                ("id", task.TaskId),
                ("scope", task.Scope),
                ("party", task.Party),
                ("payload", task.Payload),
                ("answer", task.Answer),
                ("ca", Ts(task.CreatedAt)),
                ("aa", Ts(task.AnsweredAt)),
                ("w", task.Withdrawn)).ConfigureAwait(false) == 1,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<CustodianTaskRecord?> GetTaskAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(taskId);
        return ReadAsync((db, ct) => GetTaskAsync(db, taskId, lockMode: "", ct), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CustodianTaskRecord>> ListTasksAsync(string scope, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        return ReadAsync<IReadOnlyList<CustodianTaskRecord>>(
            async (db, ct) => await db.QueryAsync(
                $"SELECT {TaskColumns} FROM custodian_tasks WHERE scope = @scope ORDER BY seq;", ReadTask, ct, ("scope", scope)).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CustodianTaskRecord>> ListPendingTasksAsync(int party, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<CustodianTaskRecord>>(
            async (db, ct) => await db.QueryAsync(
                $"SELECT {TaskColumns} FROM custodian_tasks WHERE party = @party AND answer IS NULL AND NOT withdrawn ORDER BY seq;",
                ReadTask,
                ct,
                ("party", party)).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Locks the task row (<c>FOR UPDATE</c>), then checks in this order: UnknownTask, WrongParty, an existing answer
    /// (Duplicate when byte-equal, else Conflict), Withdrawn, then stores the answer with AnsweredAt = now.
    /// </remarks>
    public Task<AnswerOutcome> SaveAnswerAsync(string taskId, int party, byte[] answer, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(taskId);
        ArgumentNullException.ThrowIfNull(answer);
        return WriteAsync(
            async (db, ct) =>
            {
                var task = await GetTaskAsync(db, taskId, lockMode: "FOR UPDATE", ct).ConfigureAwait(false);
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

                await db.ExecuteAsync(
                    "UPDATE custodian_tasks SET answer = @answer, answered_at = @aa WHERE task_id = @id AND answer IS NULL;",
                    ct,
                    ("id", taskId),
                    ("answer", answer),
                    ("aa", Ts(_timeProvider.GetUtcNow()))).ConfigureAwait(false);
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
            (db, ct) => db.ExecuteAsync(
                "UPDATE custodian_tasks SET withdrawn = true WHERE scope = @scope AND answer IS NULL AND NOT withdrawn;",
                ct,
                ("scope", scope)),
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
            (db, ct) => db.ExecuteAsync(
                """
                INSERT INTO enrollments (cohort_id, participant_id, training, analytics, updated_at)
                VALUES (@cohort, @p, @training, @analytics, @ua)
                ON CONFLICT (cohort_id, participant_id) DO UPDATE SET
                    training = excluded.training, analytics = excluded.analytics, updated_at = excluded.updated_at;
                """,
                ct,
                ("cohort", enrollment.CohortId),
                ("p", enrollment.ParticipantId),
                ("training", enrollment.Training),
                ("analytics", enrollment.Analytics),
                ("ua", Ts(enrollment.UpdatedAt))),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Ordered by participant id (ordinal: <c>COLLATE "C"</c>).</remarks>
    public Task<IReadOnlyList<EnrollmentRecord>> ListEnrollmentsAsync(string cohortId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        return ReadAsync<IReadOnlyList<EnrollmentRecord>>(
            async (db, ct) => await db.QueryAsync(
                """
                SELECT participant_id, cohort_id, training, analytics, updated_at FROM enrollments
                WHERE cohort_id = @cohort ORDER BY participant_id COLLATE "C";
                """,
                r => new EnrollmentRecord
                {
                    ParticipantId = r.GetString(0),
                    CohortId = r.GetString(1),
                    Training = r.GetBoolean(2),
                    Analytics = r.GetBoolean(3),
                    UpdatedAt = ReadTs(r, 4),
                },
                ct,
                ("cohort", cohortId)).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Re-registering replaces the key and RegisteredAt. Throws <see cref="StoreConflictException"/> when the party
    /// belongs to another id or the id is registered with another party (also when two nodes race: the unique
    /// constraint on the party, and the conditional <c>ON CONFLICT … DO UPDATE … WHERE</c>, decide).
    /// </remarks>
    public Task UpsertCustodianAsync(CustodianRecord custodian, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(custodian);
        ArgumentException.ThrowIfNullOrEmpty(custodian.CustodianId);
        ArgumentNullException.ThrowIfNull(custodian.AgreementPublicKey);
        return WriteAsync(
            async (db, ct) =>
            {
                var holder = (string?)await db.ScalarAsync(
                    "SELECT custodian_id FROM custodians WHERE party = @party;", ct, ("party", custodian.Party)).ConfigureAwait(false);
                if (holder is not null && !string.Equals(holder, custodian.CustodianId, StringComparison.Ordinal))
                {
                    throw new StoreConflictException($"Party {custodian.Party} is already registered by custodian '{holder}'.");
                }

                var party = (int?)await db.ScalarAsync(
                    "SELECT party FROM custodians WHERE custodian_id = @id;", ct, ("id", custodian.CustodianId)).ConfigureAwait(false);
                if (party is { } p && p != custodian.Party)
                {
                    throw new StoreConflictException($"Custodian '{custodian.CustodianId}' is already registered as party {p}.");
                }

                int changed;
                try
                {
                    changed = await db.ExecuteAsync(
                        """
                        INSERT INTO custodians (custodian_id, party, agreement_public_key, registered_at) VALUES (@id, @party, @key, @ra)
                        ON CONFLICT (custodian_id) DO UPDATE SET
                            agreement_public_key = excluded.agreement_public_key, registered_at = excluded.registered_at
                        WHERE custodians.party = excluded.party;
                        """,
                        ct,
                        ("id", custodian.CustodianId),
                        ("party", custodian.Party),
                        ("key", custodian.AgreementPublicKey),
                        ("ra", Ts(custodian.RegisteredAt))).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    throw new StoreConflictException($"Party {custodian.Party} is already registered by another custodian.");
                }

                return changed == 1
                    ? true
                    : throw new StoreConflictException($"Custodian '{custodian.CustodianId}' is already registered with another party.");
            },
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Ordered by party.</remarks>
    public Task<IReadOnlyList<CustodianRecord>> ListCustodiansAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<CustodianRecord>>(
            async (db, ct) => await db.QueryAsync(
                "SELECT custodian_id, party, agreement_public_key, registered_at FROM custodians ORDER BY party;",
                r => new CustodianRecord
                {
                    CustodianId = r.GetString(0),
                    Party = r.GetInt32(1),
                    AgreementPublicKey = Bytes(r, 2),
                    RegisteredAt = ReadTs(r, 3),
                },
                ct).ConfigureAwait(false),
            cancellationToken);

    // ---- key sets and artifacts

    /// <inheritdoc />
    public Task CreateKeySetAsync(KeySetRecord keySet, CancellationToken cancellationToken = default)
    {
        ValidateKeySet(keySet);
        return WriteAsync(
            async (db, ct) =>
            {
                var inserted = await db.ExecuteAsync(
                    $"""
                    INSERT INTO key_sets ({KeySetColumns})
                    VALUES (@id, @preset, @members, @threshold, @state, @phase, @data, @msg, @ca, 1)
                    ON CONFLICT (key_set_id) DO NOTHING;
                    """,
                    ct,
                    ("id", keySet.KeySetId),
                    ("preset", keySet.Preset),
                    ("members", keySet.Members),
                    ("threshold", keySet.Threshold),
                    ("state", keySet.State),
                    ("phase", keySet.Phase),
                    ("data", keySet.Data),
                    ("msg", keySet.Message),
                    ("ca", Ts(keySet.CreatedAt))).ConfigureAwait(false);
                return inserted == 1
                    ? true
                    : throw new StoreConflictException($"A key set with id '{keySet.KeySetId}' already exists.");
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<KeySetRecord?> GetKeySetAsync(string keySetId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(keySetId);
        return ReadAsync(
            (db, ct) => db.QuerySingleAsync($"SELECT {KeySetColumns} FROM key_sets WHERE key_set_id = @id;", ReadKeySet, ct, ("id", keySetId)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>In creation order.</remarks>
    public Task<IReadOnlyList<KeySetRecord>> ListKeySetsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<KeySetRecord>>(
            async (db, ct) => await db.QueryAsync($"SELECT {KeySetColumns} FROM key_sets ORDER BY seq;", ReadKeySet, ct).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>Returns null also when the key set does not exist.</remarks>
    public Task<KeySetRecord?> UpdateKeySetAsync(KeySetRecord keySet, CancellationToken cancellationToken = default)
    {
        ValidateKeySet(keySet);
        return WriteFencedAsync(
            (db, ct) => db.QuerySingleAsync(
                $"""
                UPDATE key_sets SET preset = @preset, members = @members, threshold = @threshold, state = @state,
                    phase = @phase, data = @data, message = @msg, version = version + 1
                WHERE key_set_id = @id AND version = @v
                RETURNING {KeySetColumns};
                """,
                ReadKeySet,
                ct,
                ("id", keySet.KeySetId),
                ("v", keySet.Version),
                ("preset", keySet.Preset),
                ("members", keySet.Members),
                ("threshold", keySet.Threshold),
                ("state", keySet.State),
                ("phase", keySet.Phase),
                ("data", keySet.Data),
                ("msg", keySet.Message)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Artifacts (key material, written once per name) are stored inline, not in <c>blobs</c>.</remarks>
    public Task<bool> PutArtifactAsync(string scope, string name, byte[] data, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(data);
        return WriteAsync(
            async (db, ct) => await db.ExecuteAsync(
                "INSERT INTO artifacts (scope, name, data) VALUES (@scope, @name, @data) ON CONFLICT (scope, name) DO NOTHING;",
                ct,
                ("scope", scope),
                ("name", name),
                ("data", data)).ConfigureAwait(false) == 1,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]?> GetArtifactAsync(string scope, string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return ReadAsync(
            (db, ct) => db.QuerySingleAsync(
                "SELECT data FROM artifacts WHERE scope = @scope AND name = @name;", r => Bytes(r, 0), ct, ("scope", scope), ("name", name)),
            cancellationToken);
    }

    /// <summary>Waits for calls in flight, then closes the connection pool. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var waited = TimeSpan.Zero;
        while (Volatile.Read(ref _inFlight) > 0 && waited < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(5).ConfigureAwait(false);
            waited += TimeSpan.FromMilliseconds(5);
        }

        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    // ---- row mapping

    private static Task<JobRecord?> GetJobAsync(Db db, string jobId, CancellationToken ct) =>
        db.QuerySingleAsync($"SELECT {JobColumns} FROM jobs WHERE job_id = @id;", ReadJob, ct, ("id", jobId));

    private static Task<JobRecord?> GetJobByKeyAsync(Db db, string key, CancellationToken ct) =>
        db.QuerySingleAsync($"SELECT {JobColumns} FROM jobs WHERE idempotency_key = @k;", ReadJob, ct, ("k", key));

    private static Task<RoundRecord?> GetRoundAsync(Db db, string jobId, int round, string lockMode, CancellationToken ct) =>
        db.QuerySingleAsync(
            $"SELECT {RoundColumns} FROM rounds WHERE job_id = @job AND round = @round {lockMode};", ReadRound, ct, ("job", jobId), ("round", round));

    private static Task<CustodianTaskRecord?> GetTaskAsync(Db db, string taskId, string lockMode, CancellationToken ct) =>
        db.QuerySingleAsync($"SELECT {TaskColumns} FROM custodian_tasks WHERE task_id = @id {lockMode};", ReadTask, ct, ("id", taskId));

    private static JobRecord ReadJob(NpgsqlDataReader r) => new()
    {
        JobId = r.GetString(0),
        KeySetId = r.GetString(1),
        Spec = Bytes(r, 2),
        State = ParseEnum<JobState>(r.GetString(3)),
        CurrentRound = r.GetInt32(4),
        GlobalModel = DecodeDoubles(Bytes(r, 5)),
        StrategyState = BytesOrNull(r, 6),
        Message = StringOrNull(r, 7),
        IdempotencyKey = StringOrNull(r, 8),
        CreatedAt = ReadTs(r, 9),
        UpdatedAt = ReadTs(r, 10),
        Version = r.GetInt64(11),
    };

    private static RoundRecord ReadRound(NpgsqlDataReader r) => new()
    {
        JobId = r.GetString(0),
        Round = r.GetInt32(1),
        State = ParseEnum<RoundState>(r.GetString(2)),
        Selected = r.GetFieldValue<string[]>(3),
        OpenedAt = ReadTs(r, 4),
        Deadline = ReadTs(r, 5),
        MinimumReachedAt = ReadTsOrNull(r, 6),
        Extensions = r.GetInt32(7),
        IncludedUploads = r.GetInt32(8),
        Message = StringOrNull(r, 9),
        Data = StringOrNull(r, 10),
        Version = r.GetInt64(11),
    };

    private static CustodianTaskRecord ReadTask(NpgsqlDataReader r) => new()
    {
        TaskId = r.GetString(0),
        Scope = r.GetString(1),
        Party = r.GetInt32(2),
        Payload = Bytes(r, 3),
        Answer = BytesOrNull(r, 4),
        CreatedAt = ReadTs(r, 5),
        AnsweredAt = ReadTsOrNull(r, 6),
        Withdrawn = r.GetBoolean(7),
    };

    private static KeySetRecord ReadKeySet(NpgsqlDataReader r) => new()
    {
        KeySetId = r.GetString(0),
        Preset = r.GetString(1),
        Members = r.GetInt32(2),
        Threshold = r.GetInt32(3),
        State = r.GetString(4),
        Phase = r.GetString(5),
        Data = StringOrNull(r, 6),
        Message = StringOrNull(r, 7),
        CreatedAt = ReadTs(r, 8),
        Version = r.GetInt64(9),
    };
}
