using Microsoft.Data.Sqlite;
using static PrivateHealth.Coordinator.Storage.SqliteEncoding;
using static PrivateHealth.Coordinator.Storage.StoreValidation;

namespace PrivateHealth.Coordinator.Storage;

/// <remarks>
/// <para>
/// <see cref="IQueryJobStore"/> (schema migration 3). A quote needs an existing cohort
/// (<see cref="InvalidOperationException"/> otherwise); its <see cref="QuoteRecord.JobId"/> is store-managed (null on
/// insert, set by the <see cref="CreateQueryJobAsync"/> that uses it). Amounts must be finite and non-negative, the price
/// non-negative.
/// </para>
/// <para>
/// Store-managed job fields: <c>Version</c> (1 on insert, +1 per successful <see cref="UpdateQueryJobAsync"/>), which
/// changes only State, Message, Data and UpdatedAt. An empty <see cref="QueryJobRecord.IdempotencyKey"/> means "no key"
/// (stored as null); keys are scoped per researcher. Strings are compared ordinally; the quote's
/// <see cref="QuoteRecord.Kind"/> is not checked. Expiry compares milliseconds: a quote is expired from its
/// <see cref="QuoteRecord.ExpiresAt"/> on (<c>now &gt;= ExpiresAt</c>).
/// </para>
/// </remarks>
public sealed partial class SqliteCoordinatorStore : IQueryJobStore
{
    private const string QuoteColumns =
        "quote_id, cohort_id, researcher_id, kind, request, epsilon, delta, price_micros, created_at, expires_at, job_id";

    private const string QueryJobColumns =
        "job_id, quote_id, cohort_id, researcher_id, idempotency_key, query_text, researcher_public_key, state, message, data, created_at, updated_at, version";

    /// <summary>SQLITE_CONSTRAINT_FOREIGNKEY (extended result code).</summary>
    private const int SqliteConstraintForeignKey = 787;

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
            (c, t) =>
            {
                if (Exists(c, t, "SELECT 1 FROM quotes WHERE quote_id = @id;", ("@id", quote.QuoteId)))
                {
                    throw new StoreConflictException($"A quote with id '{quote.QuoteId}' already exists.");
                }

                try
                {
                    return Execute(
                        c,
                        t,
                        $"""
                        INSERT INTO quotes ({QuoteColumns})
                        VALUES (@id, @cohort, @researcher, @kind, @request, @e, @d, @price, @ca, @ea, NULL);
                        """,
                        ("@id", quote.QuoteId),
                        ("@cohort", quote.CohortId),
                        ("@researcher", quote.ResearcherId),
                        ("@kind", quote.Kind),
                        ("@request", quote.Request),
                        ("@e", quote.Epsilon),
                        ("@d", quote.Delta),
                        ("@price", quote.PriceMicros),
                        ("@ca", ToUnixMilliseconds(quote.CreatedAt)),
                        ("@ea", ToUnixMilliseconds(quote.ExpiresAt)));
                }
                catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == SqliteConstraintForeignKey)
                {
                    throw new InvalidOperationException(
                        $"Cannot create quote '{quote.QuoteId}': cohort '{quote.CohortId}' does not exist.", ex);
                }
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<QuoteRecord?> GetQuoteAsync(string quoteId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(quoteId);
        return ReadAsync((c, t) => GetQuote(c, t, quoteId), cancellationToken);
    }

    // ---- query jobs

    /// <inheritdoc />
    /// <remarks>
    /// One write transaction, checked in this order: Existing (same researcher and non-empty idempotency key; the stored
    /// job is returned whatever the new record holds), UnknownQuote, QuoteMismatch (researcher, cohort or request text
    /// differ), QuoteExpired, QuoteUsed, then the insert. The record's Version is ignored (stored as 1). A job id that
    /// already exists (reached only when every check passed) throws <see cref="StoreConflictException"/> and changes nothing.
    /// </remarks>
    public Task<(QueryJobRecord? Job, CreateQueryJobOutcome Outcome)> CreateQueryJobAsync(
        QueryJobRecord job, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ValidateQueryJob(job);
        var key = string.IsNullOrEmpty(job.IdempotencyKey) ? null : job.IdempotencyKey;
        var nowMs = ToUnixMilliseconds(now);
        return WriteAsync<(QueryJobRecord?, CreateQueryJobOutcome)>(
            (c, t) =>
            {
                if (key is not null)
                {
                    var existing = QuerySingle(
                        c,
                        t,
                        $"SELECT {QueryJobColumns} FROM query_jobs WHERE researcher_id = @r AND idempotency_key = @k;",
                        ReadQueryJob,
                        ("@r", job.ResearcherId),
                        ("@k", key));
                    if (existing is not null)
                    {
                        return (existing, CreateQueryJobOutcome.Existing);
                    }
                }

                if (GetQuote(c, t, job.QuoteId) is not { } quote)
                {
                    return (null, CreateQueryJobOutcome.UnknownQuote);
                }

                if (!string.Equals(quote.ResearcherId, job.ResearcherId, StringComparison.Ordinal)
                    || !string.Equals(quote.CohortId, job.CohortId, StringComparison.Ordinal)
                    || !string.Equals(quote.Request, job.QueryText, StringComparison.Ordinal))
                {
                    return (null, CreateQueryJobOutcome.QuoteMismatch);
                }

                if (nowMs >= ToUnixMilliseconds(quote.ExpiresAt))
                {
                    return (null, CreateQueryJobOutcome.QuoteExpired);
                }

                if (quote.JobId is not null)
                {
                    return (null, CreateQueryJobOutcome.QuoteUsed);
                }

                if (Exists(c, t, "SELECT 1 FROM query_jobs WHERE job_id = @id;", ("@id", job.JobId)))
                {
                    throw new StoreConflictException($"A query job with id '{job.JobId}' already exists.");
                }

                Execute(
                    c,
                    t,
                    $"""
                    INSERT INTO query_jobs ({QueryJobColumns})
                    VALUES (@id, @quote, @cohort, @researcher, @key, @text, @pk, @state, @msg, @data, @ca, @ua, 1);
                    """,
                    ("@id", job.JobId),
                    ("@quote", job.QuoteId),
                    ("@cohort", job.CohortId),
                    ("@researcher", job.ResearcherId),
                    ("@key", key),
                    ("@text", job.QueryText),
                    ("@pk", job.ResearcherPublicKey),
                    ("@state", job.State),
                    ("@msg", job.Message),
                    ("@data", job.Data),
                    ("@ca", ToUnixMilliseconds(job.CreatedAt)),
                    ("@ua", ToUnixMilliseconds(job.UpdatedAt)));
                var marked = Execute(
                    c,
                    t,
                    "UPDATE quotes SET job_id = @job WHERE quote_id = @quote AND job_id IS NULL;",
                    ("@job", job.JobId),
                    ("@quote", job.QuoteId));
                if (marked != 1)
                {
                    // Unreachable inside the write transaction; throwing rolls the insert back.
                    throw new InvalidOperationException($"Quote '{job.QuoteId}' was used concurrently.");
                }

                return (GetQueryJob(c, t, job.JobId), CreateQueryJobOutcome.Created);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<QueryJobRecord?> GetQueryJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return ReadAsync((c, t) => GetQueryJob(c, t, jobId), cancellationToken);
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
            (c, t) => cohortId is null
                ? Query(c, t, $"SELECT {QueryJobColumns} FROM query_jobs ORDER BY seq;", ReadQueryJob)
                : Query(
                    c,
                    t,
                    $"SELECT {QueryJobColumns} FROM query_jobs WHERE cohort_id = @cohort ORDER BY seq;",
                    ReadQueryJob,
                    ("@cohort", cohortId)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Returns null also when the job does not exist. Every other field passed in is ignored.</remarks>
    public Task<QueryJobRecord?> UpdateQueryJobAsync(QueryJobRecord job, CancellationToken cancellationToken = default)
    {
        ValidateQueryJob(job);
        return WriteFencedAsync(
            (c, t) =>
            {
                var changed = Execute(
                    c,
                    t,
                    """
                    UPDATE query_jobs SET state = @state, message = @msg, data = @data, updated_at = @ua, version = version + 1
                    WHERE job_id = @id AND version = @v;
                    """,
                    ("@id", job.JobId),
                    ("@v", job.Version),
                    ("@state", job.State),
                    ("@msg", job.Message),
                    ("@data", job.Data),
                    ("@ua", ToUnixMilliseconds(job.UpdatedAt)));
                return changed == 0 ? null : GetQueryJob(c, t, job.JobId);
            },
            cancellationToken);
    }

    // ---- helpers

    private static QuoteRecord? GetQuote(SqliteConnection c, SqliteTransaction t, string quoteId) =>
        QuerySingle(c, t, $"SELECT {QuoteColumns} FROM quotes WHERE quote_id = @id;", ReadQuote, ("@id", quoteId));

    private static QueryJobRecord? GetQueryJob(SqliteConnection c, SqliteTransaction t, string jobId) =>
        QuerySingle(c, t, $"SELECT {QueryJobColumns} FROM query_jobs WHERE job_id = @id;", ReadQueryJob, ("@id", jobId));

    private static QuoteRecord ReadQuote(SqliteDataReader r) => new()
    {
        QuoteId = r.GetString(0),
        CohortId = r.GetString(1),
        ResearcherId = r.GetString(2),
        Kind = r.GetString(3),
        Request = r.GetString(4),
        Epsilon = r.GetDouble(5),
        Delta = r.GetDouble(6),
        PriceMicros = r.GetInt64(7),
        CreatedAt = FromUnixMilliseconds(r.GetInt64(8)),
        ExpiresAt = FromUnixMilliseconds(r.GetInt64(9)),
        JobId = r.IsDBNull(10) ? null : r.GetString(10),
    };

    private static QueryJobRecord ReadQueryJob(SqliteDataReader r) => new()
    {
        JobId = r.GetString(0),
        QuoteId = r.GetString(1),
        CohortId = r.GetString(2),
        ResearcherId = r.GetString(3),
        IdempotencyKey = r.IsDBNull(4) ? null : r.GetString(4),
        QueryText = r.GetString(5),
        ResearcherPublicKey = GetBytes(r, 6),
        State = r.GetString(7),
        Message = r.IsDBNull(8) ? null : r.GetString(8),
        Data = r.IsDBNull(9) ? null : r.GetString(9),
        CreatedAt = FromUnixMilliseconds(r.GetInt64(10)),
        UpdatedAt = FromUnixMilliseconds(r.GetInt64(11)),
        Version = r.GetInt64(12),
    };
}
