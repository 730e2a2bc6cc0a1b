using System.Globalization;
using Microsoft.Data.Sqlite;
using static PrivateHealth.Coordinator.Storage.SqliteEncoding;
using static PrivateHealth.Coordinator.Storage.StoreValidation;

namespace PrivateHealth.Coordinator.Storage;

/// <remarks>
/// <para>
/// <see cref="ICohortStore"/> (schema migration 2). Store-managed cohort fields: <c>Version</c> (1 on insert, +1 per
/// successful <see cref="UpdateCohortAsync"/>), <see cref="CohortRecord.EpsilonSpent"/> and
/// <see cref="CohortRecord.DeltaSpent"/> (0 on insert, changed only by <see cref="TrySpendBudgetAsync"/>, which does not
/// change <c>Version</c>, so a spend never makes a concurrent cohort update fail). Updates never change
/// <see cref="CohortRecord.CreatedAt"/>. Budgets and costs must be finite and non-negative.
/// </para>
/// <para>
/// The ledger: <c>contribution_events</c> (sequence = SQLite AUTOINCREMENT, so strictly increasing across the store
/// and never reused) and <c>active_contributions</c>, one row per participant pointing at the Add event of its active
/// contribution. A Subtract event stores no bytes of its own: it references the Add it cancels and is read back with
/// that Add's ciphertext. A cohort accepts contributions only while its state is exactly <c>"open"</c>; a revoke is
/// accepted in any state.
/// </para>
/// </remarks>
public sealed partial class SqliteCoordinatorStore
{
    private const string CohortColumns =
        "cohort_id, key_set_id, schema_json, state, epsilon_budget, delta_budget, epsilon_spent, delta_spent, created_at, version";

    private const string OpenCohortState = "open";

    /// <summary>Absolute tolerance of <see cref="TrySpendBudgetAsync"/> (floating-point sums of costs).</summary>
    private const double BudgetTolerance = 1e-12;

    // ---- cohorts

    /// <inheritdoc />
    /// <remarks>The record's Version, EpsilonSpent and DeltaSpent are ignored (stored as 1, 0, 0).</remarks>
    public Task CreateCohortAsync(CohortRecord cohort, CancellationToken cancellationToken = default)
    {
        ValidateCohort(cohort);
        return WriteAsync(
            (c, t) =>
            {
                if (Exists(c, t, "SELECT 1 FROM cohorts WHERE cohort_id = @id;", ("@id", cohort.CohortId)))
                {
                    throw new StoreConflictException($"A cohort with id '{cohort.CohortId}' already exists.");
                }

                return Execute(
                    c,
                    t,
                    $"""
                    INSERT INTO cohorts ({CohortColumns})
                    VALUES (@id, @ks, @schema, @state, @eb, @db, 0, 0, @ca, 1);
                    """,
                    ("@id", cohort.CohortId),
                    ("@ks", cohort.KeySetId),
                    ("@schema", cohort.SchemaJson),
                    ("@state", cohort.State),
                    ("@eb", cohort.EpsilonBudget),
                    ("@db", cohort.DeltaBudget),
                    ("@ca", ToUnixMilliseconds(cohort.CreatedAt)));
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<CohortRecord?> GetCohortAsync(string cohortId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        return ReadAsync((c, t) => GetCohort(c, t, cohortId), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CohortRecord>> ListCohortsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<CohortRecord>>(
            (c, t) => Query(c, t, $"SELECT {CohortColumns} FROM cohorts ORDER BY seq;", ReadCohort),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>Returns null also when the cohort does not exist.</remarks>
    public Task<CohortRecord?> UpdateCohortAsync(CohortRecord cohort, CancellationToken cancellationToken = default)
    {
        ValidateCohort(cohort);
        return WriteAsync(
            (c, t) =>
            {
                var changed = Execute(
                    c,
                    t,
                    """
                    UPDATE cohorts SET key_set_id = @ks, schema_json = @schema, state = @state, epsilon_budget = @eb,
                        delta_budget = @db, version = version + 1
                    WHERE cohort_id = @id AND version = @v;
                    """,
                    ("@id", cohort.CohortId),
                    ("@v", cohort.Version),
                    ("@ks", cohort.KeySetId),
                    ("@schema", cohort.SchemaJson),
                    ("@state", cohort.State),
                    ("@eb", cohort.EpsilonBudget),
                    ("@db", cohort.DeltaBudget));
                return changed == 0 ? null : GetCohort(c, t, cohort.CohortId);
            },
            cancellationToken);
    }

    // ---- contribution ledger

    /// <inheritdoc />
    /// <remarks>
    /// Checks in this order: UnknownCohort, Duplicate (the active contribution has the same content id, ordinal; reported
    /// even after the cohort closed, so a retried contribution learns it is counted), CohortClosed (state other than
    /// <c>"open"</c>), then appends. The ciphertext's bytes are not compared: the content id identifies them.
    /// </remarks>
    public Task<ContributionOutcome> AddContributionAsync(
        string cohortId, string participantId, byte[] ciphertext, string contentId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        ArgumentException.ThrowIfNullOrEmpty(participantId);
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentException.ThrowIfNullOrEmpty(contentId);
        var atMs = ToUnixMilliseconds(at);
        return WriteAsync(
            (c, t) =>
            {
                var state = QuerySingle(c, t, "SELECT state FROM cohorts WHERE cohort_id = @id;", r => r.GetString(0), ("@id", cohortId));
                if (state is null)
                {
                    return ContributionOutcome.UnknownCohort;
                }

                var active = GetActiveContribution(c, t, cohortId, participantId);
                if (active is { } a && string.Equals(a.ContentId, contentId, StringComparison.Ordinal))
                {
                    return ContributionOutcome.Duplicate;
                }

                if (!string.Equals(state, OpenCohortState, StringComparison.Ordinal))
                {
                    return ContributionOutcome.CohortClosed;
                }

                if (active is { } old)
                {
                    AppendSubtract(c, t, cohortId, participantId, old, atMs);
                }

                var sequence = InsertEvent(c, t, cohortId, participantId, ContributionEventKind.Add, ciphertext, null, contentId, atMs);
                Execute(
                    c,
                    t,
                    """
                    INSERT INTO active_contributions (cohort_id, participant_id, add_sequence, content_id)
                    VALUES (@cohort, @p, @seq, @cid)
                    ON CONFLICT (cohort_id, participant_id) DO UPDATE SET
                        add_sequence = excluded.add_sequence, content_id = excluded.content_id;
                    """,
                    ("@cohort", cohortId),
                    ("@p", participantId),
                    ("@seq", sequence),
                    ("@cid", contentId));
                return active is null ? ContributionOutcome.Stored : ContributionOutcome.Replaced;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Accepted whatever the cohort's state; false also for an unknown cohort.</remarks>
    public Task<bool> RevokeContributionAsync(string cohortId, string participantId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        ArgumentException.ThrowIfNullOrEmpty(participantId);
        var atMs = ToUnixMilliseconds(at);
        return WriteAsync(
            (c, t) =>
            {
                if (GetActiveContribution(c, t, cohortId, participantId) is not { } active)
                {
                    return false;
                }

                AppendSubtract(c, t, cohortId, participantId, active, atMs);
                Execute(
                    c,
                    t,
                    "DELETE FROM active_contributions WHERE cohort_id = @cohort AND participant_id = @p;",
                    ("@cohort", cohortId),
                    ("@p", participantId));
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>0 also for an unknown cohort.</remarks>
    public Task<int> CountActiveContributionsAsync(string cohortId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        return ReadAsync(
            (c, t) => Convert.ToInt32(
                Scalar(c, t, "SELECT COUNT(*) FROM active_contributions WHERE cohort_id = @cohort;", ("@cohort", cohortId)),
                CultureInfo.InvariantCulture),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// <paramref name="afterSequence"/> must be non-negative (0: from the start) and <paramref name="limit"/> positive.
    /// Empty for an unknown cohort.
    /// </remarks>
    public Task<IReadOnlyList<ContributionEvent>> ListContributionEventsAsync(
        string cohortId, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return ReadAsync<IReadOnlyList<ContributionEvent>>(
            (c, t) => Query(
                c,
                t,
                """
                SELECT e.cohort_id, e.sequence, e.participant_id, e.kind, COALESCE(e.ciphertext, a.ciphertext), e.content_id, e.at
                FROM contribution_events e LEFT JOIN contribution_events a ON a.sequence = e.add_sequence
                WHERE e.cohort_id = @cohort AND e.sequence > @after
                ORDER BY e.sequence
                LIMIT @limit;
                """,
                r => new ContributionEvent
                {
                    CohortId = r.GetString(0),
                    Sequence = r.GetInt64(1),
                    ParticipantId = r.GetString(2),
                    Kind = ParseEnum<ContributionEventKind>(r.GetString(3)),
                    Ciphertext = GetBytes(r, 4),
                    ContentId = r.GetString(5),
                    At = FromUnixMilliseconds(r.GetInt64(6)),
                },
                ("@cohort", cohortId),
                ("@after", afterSequence),
                ("@limit", limit)),
            cancellationToken);
    }

    // ---- aggregate

    /// <inheritdoc />
    public Task<CohortAggregateRecord?> GetCohortAggregateAsync(string cohortId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        return ReadAsync((c, t) => GetCohortAggregate(c, t, cohortId), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Throws <see cref="InvalidOperationException"/> if the cohort does not exist. A zero-length
    /// <see cref="CohortAggregateRecord.Ciphertext"/> may read back as null.
    /// </remarks>
    public Task<CohortAggregateRecord?> SaveCohortAggregateAsync(CohortAggregateRecord aggregate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(aggregate);
        ArgumentException.ThrowIfNullOrEmpty(aggregate.CohortId, nameof(aggregate));
        ArgumentOutOfRangeException.ThrowIfNegative(aggregate.Contributors, nameof(aggregate));
        ArgumentOutOfRangeException.ThrowIfNegative(aggregate.ThroughSequence, nameof(aggregate));
        ArgumentOutOfRangeException.ThrowIfNegative(aggregate.Version, nameof(aggregate));
        return WriteFencedAsync(
            (c, t) =>
            {
                if (!Exists(c, t, "SELECT 1 FROM cohorts WHERE cohort_id = @id;", ("@id", aggregate.CohortId)))
                {
                    throw new InvalidOperationException($"Cannot save the aggregate: cohort '{aggregate.CohortId}' does not exist.");
                }

                int changed;
                if (aggregate.Version == 0)
                {
                    changed = Execute(
                        c,
                        t,
                        """
                        INSERT INTO cohort_aggregates (cohort_id, ciphertext, contributors, through_sequence, version)
                        VALUES (@cohort, @ct, @n, @through, 1)
                        ON CONFLICT (cohort_id) DO NOTHING;
                        """,
                        ("@cohort", aggregate.CohortId),
                        ("@ct", aggregate.Ciphertext),
                        ("@n", aggregate.Contributors),
                        ("@through", aggregate.ThroughSequence));
                }
                else
                {
                    changed = Execute(
                        c,
                        t,
                        """
                        UPDATE cohort_aggregates SET ciphertext = @ct, contributors = @n, through_sequence = @through,
                            version = version + 1
                        WHERE cohort_id = @cohort AND version = @v AND through_sequence <= @through;
                        """,
                        ("@cohort", aggregate.CohortId),
                        ("@v", aggregate.Version),
                        ("@ct", aggregate.Ciphertext),
                        ("@n", aggregate.Contributors),
                        ("@through", aggregate.ThroughSequence));
                }

                return changed == 0 ? null : GetCohortAggregate(c, t, aggregate.CohortId);
            },
            cancellationToken);
    }

    // ---- privacy budget

    /// <inheritdoc />
    /// <remarks>
    /// In one immediate transaction (atomic also across store instances on one file): a job with a row in
    /// <c>budget_spends</c> (migration 5) has spent already; otherwise one conditional UPDATE debits the cohort and the
    /// job's row is inserted. Does not change Version.
    /// </remarks>
    public Task<bool> TrySpendBudgetAsync(string cohortId, string jobId, double epsilon, double delta, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ValidateAmount(epsilon, nameof(epsilon));
        ValidateAmount(delta, nameof(delta));
        return WriteFencedFlagAsync(
            (c, t) =>
            {
                if (Exists(c, t, "SELECT 1 FROM budget_spends WHERE cohort_id = @id AND job_id = @job;", ("@id", cohortId), ("@job", jobId)))
                {
                    return true; // this job has spent already
                }

                if (Execute(
                        c,
                        t,
                        """
                        UPDATE cohorts SET epsilon_spent = epsilon_spent + @e, delta_spent = delta_spent + @d
                        WHERE cohort_id = @id
                            AND epsilon_spent + @e <= epsilon_budget + @tol
                            AND delta_spent + @d <= delta_budget + @tol;
                        """,
                        ("@id", cohortId),
                        ("@e", epsilon),
                        ("@d", delta),
                        ("@tol", BudgetTolerance)) != 1)
                {
                    return false;
                }

                Execute(
                    c,
                    t,
                    "INSERT INTO budget_spends (cohort_id, job_id, epsilon, delta) VALUES (@id, @job, @e, @d);",
                    ("@id", cohortId),
                    ("@job", jobId),
                    ("@e", epsilon),
                    ("@d", delta));
                return true;
            },
            cancellationToken);
    }

    // ---- helpers

    private readonly record struct ActiveContribution(long AddSequence, string ContentId);

    private static ActiveContribution? GetActiveContribution(SqliteConnection c, SqliteTransaction t, string cohortId, string participantId) =>
        QuerySingle(
            c,
            t,
            "SELECT add_sequence, content_id FROM active_contributions WHERE cohort_id = @cohort AND participant_id = @p;",
            r => (ActiveContribution?)new ActiveContribution(r.GetInt64(0), r.GetString(1)),
            ("@cohort", cohortId),
            ("@p", participantId));

    /// <summary>Appends Subtract(<paramref name="active"/>): no bytes of its own, a reference to the Add it cancels.</summary>
    private static void AppendSubtract(
        SqliteConnection c, SqliteTransaction t, string cohortId, string participantId, ActiveContribution active, long atMs) =>
        InsertEvent(c, t, cohortId, participantId, ContributionEventKind.Subtract, null, active.AddSequence, active.ContentId, atMs);

    /// <summary>Appends an event and returns its sequence.</summary>
    private static long InsertEvent(
        SqliteConnection c,
        SqliteTransaction t,
        string cohortId,
        string participantId,
        ContributionEventKind kind,
        byte[]? ciphertext,
        long? addSequence,
        string contentId,
        long atMs) =>
        Convert.ToInt64(
            Scalar(
                c,
                t,
                """
                INSERT INTO contribution_events (cohort_id, participant_id, kind, ciphertext, add_sequence, content_id, at)
                VALUES (@cohort, @p, @kind, @ct, @add, @cid, @at)
                RETURNING sequence;
                """,
                ("@cohort", cohortId),
                ("@p", participantId),
                ("@kind", kind.ToString()),
                ("@ct", ciphertext),
                ("@add", addSequence),
                ("@cid", contentId),
                ("@at", atMs)),
            CultureInfo.InvariantCulture);

    private static CohortRecord? GetCohort(SqliteConnection c, SqliteTransaction t, string cohortId) =>
        QuerySingle(c, t, $"SELECT {CohortColumns} FROM cohorts WHERE cohort_id = @id;", ReadCohort, ("@id", cohortId));

    private static CohortAggregateRecord? GetCohortAggregate(SqliteConnection c, SqliteTransaction t, string cohortId) =>
        QuerySingle(
            c,
            t,
            "SELECT cohort_id, ciphertext, contributors, through_sequence, version FROM cohort_aggregates WHERE cohort_id = @cohort;",
            r => new CohortAggregateRecord
            {
                CohortId = r.GetString(0),
                Ciphertext = r.IsDBNull(1) ? null : r.GetFieldValue<byte[]>(1),
                Contributors = r.GetInt32(2),
                ThroughSequence = r.GetInt64(3),
                Version = r.GetInt64(4),
            },
            ("@cohort", cohortId));

    private static CohortRecord ReadCohort(SqliteDataReader r) => new()
    {
        CohortId = r.GetString(0),
        KeySetId = r.GetString(1),
        SchemaJson = r.GetString(2),
        State = r.GetString(3),
        EpsilonBudget = r.GetDouble(4),
        DeltaBudget = r.GetDouble(5),
        EpsilonSpent = r.GetDouble(6),
        DeltaSpent = r.GetDouble(7),
        CreatedAt = FromUnixMilliseconds(r.GetInt64(8)),
        Version = r.GetInt64(9),
    };
}
