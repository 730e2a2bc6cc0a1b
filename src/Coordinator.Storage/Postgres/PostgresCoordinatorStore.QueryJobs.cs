using Npgsql;
using static PrivateHealth.Coordinator.Storage.StoreValidation;

namespace PrivateHealth.Coordinator.Storage.Postgres;

/// <remarks>
/// <see cref="IQueryJobStore"/> (schema migration 3), with the semantics of <see cref="SqliteCoordinatorStore"/>. A job
/// takes its quote under the quote's row lock (<c>SELECT … FOR UPDATE</c>), and the idempotency key is looked up after
/// that lock is held, so concurrent calls on one quote see each other's job (Existing or QuoteUsed); the unique index on
/// (researcher, key) and on the job's quote settle any remaining race.
/// </remarks>
public sealed partial class PostgresCoordinatorStore
{
    private const string QuoteColumns =
        "quote_id, cohort_id, researcher_id, kind, request, epsilon, delta, price_micros, created_at, expires_at, job_id";

    private const string QueryJobColumns =
        "job_id, quote_id, cohort_id, researcher_id, idempotency_key, query_text, researcher_public_key, state, message, data, created_at, updated_at, version";

    // ---- quotes

    /// <inheritdoc />
    /// <remarks>
    /// The record's JobId is ignored (stored as null). Throws <see cref="InvalidOperationException"/> if the cohort does
    /// not exist.
    /// </remarks>
    public Task CreateQuoteAsync(QuoteRecord quote, CancellationToken cancellationToken = default)
    {
        ValidateQuote(quote);
        return WriteAsync(
            async (db, ct) =>
            {
                int inserted;
                try
                {
                    inserted = await db.ExecuteAsync(
                        $"""
                        INSERT INTO quotes ({QuoteColumns})
                        VALUES (@id, @cohort, @researcher, @kind, @request, @e, @d, @price, @ca, @ea, NULL)
                        ON CONFLICT (quote_id) DO NOTHING;
                        """,
                        ct,
                        ("id", quote.QuoteId),
                        ("cohort", quote.CohortId),
                        ("researcher", quote.ResearcherId),
                        ("kind", quote.Kind),
                        ("request", quote.Request),
                        ("e", quote.Epsilon),
                        ("d", quote.Delta),
                        ("price", quote.PriceMicros),
                        ("ca", Ts(quote.CreatedAt)),
                        ("ea", Ts(quote.ExpiresAt))).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
                {
                    throw new InvalidOperationException(
                        $"Cannot create quote '{quote.QuoteId}': cohort '{quote.CohortId}' does not exist.", ex);
                }

                return inserted == 1
                    ? true
                    : throw new StoreConflictException($"A quote with id '{quote.QuoteId}' already exists.");
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<QuoteRecord?> GetQuoteAsync(string quoteId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(quoteId);
        return ReadAsync((db, ct) => GetQuoteAsync(db, quoteId, lockMode: "", ct), cancellationToken);
    }

    // ---- query jobs

    /// <inheritdoc />
    /// <remarks>
    /// One transaction: the quote is locked first (<c>FOR UPDATE</c>), then checked in this order: Existing (same
    /// researcher and non-empty idempotency key), UnknownQuote, QuoteMismatch, QuoteExpired (<c>now &gt;= ExpiresAt</c>,
    /// in milliseconds), QuoteUsed, then the insert. A job id that already exists throws
    /// <see cref="StoreConflictException"/> and changes nothing.
    /// </remarks>
    public Task<(QueryJobRecord? Job, CreateQueryJobOutcome Outcome)> CreateQueryJobAsync(
        QueryJobRecord job, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ValidateQueryJob(job);
        var key = string.IsNullOrEmpty(job.IdempotencyKey) ? null : job.IdempotencyKey;
        var nowMs = now.ToUnixTimeMilliseconds();
        return WriteAsync<(QueryJobRecord?, CreateQueryJobOutcome)>(
            async (db, ct) =>
            {
                var quote = await GetQuoteAsync(db, job.QuoteId, lockMode: "FOR UPDATE", ct).ConfigureAwait(false);
                if (key is not null && await GetQueryJobByKeyAsync(db, job.ResearcherId, key, ct).ConfigureAwait(false) is { } existing)
                {
                    return (existing, CreateQueryJobOutcome.Existing);
                }

                if (quote is null)
                {
                    return (null, CreateQueryJobOutcome.UnknownQuote);
                }

                if (!string.Equals(quote.ResearcherId, job.ResearcherId, StringComparison.Ordinal)
                    || !string.Equals(quote.CohortId, job.CohortId, StringComparison.Ordinal)
                    || !string.Equals(quote.Request, job.QueryText, StringComparison.Ordinal))
                {
                    return (null, CreateQueryJobOutcome.QuoteMismatch);
                }

                if (nowMs >= quote.ExpiresAt.ToUnixTimeMilliseconds())
                {
                    return (null, CreateQueryJobOutcome.QuoteExpired);
                }

                if (quote.JobId is not null)
                {
                    return (null, CreateQueryJobOutcome.QuoteUsed);
                }

                var inserted = await db.QuerySingleAsync(
                    $"""
                    INSERT INTO query_jobs ({QueryJobColumns})
                    VALUES (@id, @quote, @cohort, @researcher, @key, @text, @pk, @state, @msg, @data, @ca, @ua, 1)
                    ON CONFLICT DO NOTHING
                    RETURNING {QueryJobColumns};
                    """,
                    ReadQueryJob,
                    ct,
                    ("id", job.JobId),
                    ("quote", job.QuoteId),
                    ("cohort", job.CohortId),
                    ("researcher", job.ResearcherId),
                    ("key", key),
                    ("text", job.QueryText),
                    ("pk", job.ResearcherPublicKey),
                    ("state", job.State),
                    ("msg", job.Message),
                    ("data", job.Data),
                    ("ca", Ts(job.CreatedAt)),
                    ("ua", Ts(job.UpdatedAt))).ConfigureAwait(false);
                if (inserted is null)
                {
                    // Another call committed a job with this key (on another quote) first, or the job id is taken.
                    if (key is not null && await GetQueryJobByKeyAsync(db, job.ResearcherId, key, ct).ConfigureAwait(false) is { } raced)
                    {
                        return (raced, CreateQueryJobOutcome.Existing);
                    }

                    if (await db.ExistsAsync("SELECT 1 FROM query_jobs WHERE job_id = @id;", ct, ("id", job.JobId)).ConfigureAwait(false))
                    {
                        throw new StoreConflictException($"A query job with id '{job.JobId}' already exists.");
                    }

                    return (null, CreateQueryJobOutcome.QuoteUsed);
                }

                var marked = await db.ExecuteAsync(
                    "UPDATE quotes SET job_id = @job WHERE quote_id = @quote AND job_id IS NULL;",
                    ct,
                    ("job", job.JobId),
                    ("quote", job.QuoteId)).ConfigureAwait(false);
                if (marked != 1)
                {
                    // Unreachable under the quote's row lock; throwing rolls the insert back.
                    throw new InvalidOperationException($"Quote '{job.QuoteId}' was used concurrently.");
                }

                return (inserted, CreateQueryJobOutcome.Created);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<QueryJobRecord?> GetQueryJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return ReadAsync(
            (db, ct) => db.QuerySingleAsync($"SELECT {QueryJobColumns} FROM query_jobs WHERE job_id = @id;", ReadQueryJob, ct, ("id", jobId)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>An empty <paramref name="cohortId"/> throws; null lists every job.</remarks>
    public Task<IReadOnlyList<QueryJobRecord>> ListQueryJobsAsync(string? cohortId = null, CancellationToken cancellationToken = default)
    {
        if (cohortId is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(cohortId);
        }

        return ReadAsync<IReadOnlyList<QueryJobRecord>>(
            async (db, ct) => cohortId is null
                ? await db.QueryAsync($"SELECT {QueryJobColumns} FROM query_jobs ORDER BY seq;", ReadQueryJob, ct).ConfigureAwait(false)
                : await db.QueryAsync(
                    $"SELECT {QueryJobColumns} FROM query_jobs WHERE cohort_id = @cohort ORDER BY seq;",
                    ReadQueryJob,
                    ct,
                    ("cohort", cohortId)).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Returns null also when the job does not exist. Every other field passed in is ignored.</remarks>
    public Task<QueryJobRecord?> UpdateQueryJobAsync(QueryJobRecord job, CancellationToken cancellationToken = default)
    {
        ValidateQueryJob(job);
        return WriteFencedAsync(
            (db, ct) => db.QuerySingleAsync(
                $"""
                UPDATE query_jobs SET state = @state, message = @msg, data = @data, updated_at = @ua, version = version + 1
                WHERE job_id = @id AND version = @v
                RETURNING {QueryJobColumns};
                """,
                ReadQueryJob,
                ct,
                ("id", job.JobId),
                ("v", job.Version),
                ("state", job.State),
                ("msg", job.Message),
                ("data", job.Data),
                ("ua", Ts(job.UpdatedAt))),
            cancellationToken);
    }

    // ---- helpers

    private static Task<QuoteRecord?> GetQuoteAsync(Db db, string quoteId, string lockMode, CancellationToken ct) =>
        db.QuerySingleAsync($"SELECT {QuoteColumns} FROM quotes WHERE quote_id = @id {lockMode};", ReadQuote, ct, ("id", quoteId));

    private static Task<QueryJobRecord?> GetQueryJobByKeyAsync(Db db, string researcherId, string key, CancellationToken ct) =>
        db.QuerySingleAsync(
            $"SELECT {QueryJobColumns} FROM query_jobs WHERE researcher_id = @r AND idempotency_key = @k;",
            ReadQueryJob,
            ct,
            ("r", researcherId),
            ("k", key));

    private static QuoteRecord ReadQuote(NpgsqlDataReader r) => new()
    {
        QuoteId = r.GetString(0),
        CohortId = r.GetString(1),
        ResearcherId = r.GetString(2),
        Kind = r.GetString(3),
        Request = r.GetString(4),
        Epsilon = r.GetDouble(5),
        Delta = r.GetDouble(6),
        PriceMicros = r.GetInt64(7),
        CreatedAt = ReadTs(r, 8),
        ExpiresAt = ReadTs(r, 9),
        JobId = StringOrNull(r, 10),
    };

    private static QueryJobRecord ReadQueryJob(NpgsqlDataReader r) => new()
    {
        JobId = r.GetString(0),
        QuoteId = r.GetString(1),
        CohortId = r.GetString(2),
        ResearcherId = r.GetString(3),
        IdempotencyKey = StringOrNull(r, 4),
        QueryText = r.GetString(5),
        ResearcherPublicKey = Bytes(r, 6),
        State = r.GetString(7),
        Message = StringOrNull(r, 8),
        Data = StringOrNull(r, 9),
        CreatedAt = ReadTs(r, 10),
        UpdatedAt = ReadTs(r, 11),
        Version = r.GetInt64(12),
    };
}
