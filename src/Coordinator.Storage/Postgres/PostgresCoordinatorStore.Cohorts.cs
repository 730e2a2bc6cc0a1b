using System.Globalization;
using Npgsql;
using static PrivateHealth.Coordinator.Storage.StoreValidation;

namespace PrivateHealth.Coordinator.Storage.Postgres;

/// <remarks>
/// <para>
/// <see cref="ICohortStore"/> (schema migration 2), with the semantics of <see cref="SqliteCoordinatorStore"/>: Version,
/// EpsilonSpent and DeltaSpent are store-managed (a spend never changes Version), contributions are accepted only while
/// the state is exactly <c>"open"</c>, a revoke in any state.
/// </para>
/// <para>
/// The ledger is appended to under the cohort's row lock (<c>SELECT … FOR UPDATE</c>): one writer per cohort at a time,
/// so the active-contribution check and the appended events are consistent across nodes, and a cohort's event
/// sequences are committed in increasing order (a fold that pages by sequence never misses an event). Every event
/// references its ciphertext in <c>blobs</c> by SHA-256; a Subtract references the same blob as the Add it cancels.
/// The privacy budget is spent by one conditional <c>UPDATE</c> (re-evaluated on the latest row under READ
/// COMMITTED, so concurrent spends never exceed the budget), recorded per query job in <c>budget_spends</c> (migration
/// 5) in the same transaction, so a job spends once however often its spend is repeated.
/// </para>
/// </remarks>
public sealed partial class PostgresCoordinatorStore
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
            async (db, ct) =>
            {
                var inserted = await db.ExecuteAsync(
                    $"""
                    INSERT INTO cohorts ({CohortColumns})
                    VALUES (@id, @ks, @schema, @state, @eb, @db, 0, 0, @ca, 1)
                    ON CONFLICT (cohort_id) DO NOTHING;
                    """,
                    ct,
                    ("id", cohort.CohortId),
                    ("ks", cohort.KeySetId),
                    ("schema", cohort.SchemaJson),
                    ("state", cohort.State),
                    ("eb", cohort.EpsilonBudget),
                    ("db", cohort.DeltaBudget),
                    ("ca", Ts(cohort.CreatedAt))).ConfigureAwait(false);
                return inserted == 1
                    ? true
                    : throw new StoreConflictException($"A cohort with id '{cohort.CohortId}' already exists.");
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<CohortRecord?> GetCohortAsync(string cohortId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        return ReadAsync(
            (db, ct) => db.QuerySingleAsync($"SELECT {CohortColumns} FROM cohorts WHERE cohort_id = @id;", ReadCohort, ct, ("id", cohortId)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CohortRecord>> ListCohortsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<CohortRecord>>(
            async (db, ct) => await db.QueryAsync($"SELECT {CohortColumns} FROM cohorts ORDER BY seq;", ReadCohort, ct).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>Returns null also when the cohort does not exist.</remarks>
    public Task<CohortRecord?> UpdateCohortAsync(CohortRecord cohort, CancellationToken cancellationToken = default)
    {
        ValidateCohort(cohort);
        return WriteAsync(
            (db, ct) => db.QuerySingleAsync(
                $"""
                UPDATE cohorts SET key_set_id = @ks, schema_json = @schema, state = @state, epsilon_budget = @eb,
                    delta_budget = @db, version = version + 1
                WHERE cohort_id = @id AND version = @v
                RETURNING {CohortColumns};
                """,
                ReadCohort,
                ct,
                ("id", cohort.CohortId),
                ("v", cohort.Version),
                ("ks", cohort.KeySetId),
                ("schema", cohort.SchemaJson),
                ("state", cohort.State),
                ("eb", cohort.EpsilonBudget),
                ("db", cohort.DeltaBudget)),
            cancellationToken);
    }

    // ---- contribution ledger

    /// <inheritdoc />
    /// <remarks>
    /// Checks in this order: UnknownCohort, Duplicate (the active contribution has the same content id, ordinal;
    /// reported even after the cohort closed), CohortClosed (state other than <c>"open"</c>), then appends.
    /// </remarks>
    public Task<ContributionOutcome> AddContributionAsync(
        string cohortId, string participantId, byte[] ciphertext, string contentId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        ArgumentException.ThrowIfNullOrEmpty(participantId);
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentException.ThrowIfNullOrEmpty(contentId);
        return WriteAsync(
            async (db, ct) =>
            {
                var state = (string?)await db.ScalarAsync(
                    "SELECT state FROM cohorts WHERE cohort_id = @id FOR UPDATE;", ct, ("id", cohortId)).ConfigureAwait(false);
                if (state is null)
                {
                    return ContributionOutcome.UnknownCohort;
                }

                var active = await GetActiveContributionAsync(db, cohortId, participantId, ct).ConfigureAwait(false);
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
                    await AppendSubtractAsync(db, old, at, ct).ConfigureAwait(false);
                }

                var hash = (await PutBlobsAsync(db, [ciphertext], ct).ConfigureAwait(false))[0];
                var sequence = Convert.ToInt64(
                    await db.ScalarAsync(
                        """
                        INSERT INTO contribution_events (cohort_id, participant_id, kind, ciphertext_hash, add_sequence, content_id, at)
                        VALUES (@cohort, @p, 'Add', @hash, NULL, @cid, @at)
                        RETURNING sequence;
                        """,
                        ct,
                        ("cohort", cohortId),
                        ("p", participantId),
                        ("hash", hash),
                        ("cid", contentId),
                        ("at", Ts(at))).ConfigureAwait(false),
                    CultureInfo.InvariantCulture);
                await db.ExecuteAsync(
                    """
                    INSERT INTO active_contributions (cohort_id, participant_id, add_sequence, content_id)
                    VALUES (@cohort, @p, @seq, @cid)
                    ON CONFLICT (cohort_id, participant_id) DO UPDATE SET
                        add_sequence = excluded.add_sequence, content_id = excluded.content_id;
                    """,
                    ct,
                    ("cohort", cohortId),
                    ("p", participantId),
                    ("seq", sequence),
                    ("cid", contentId)).ConfigureAwait(false);
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
        return WriteAsync(
            async (db, ct) =>
            {
                if (!await db.ExistsAsync("SELECT 1 FROM cohorts WHERE cohort_id = @id FOR UPDATE;", ct, ("id", cohortId)).ConfigureAwait(false)
                    || await GetActiveContributionAsync(db, cohortId, participantId, ct).ConfigureAwait(false) is not { } active)
                {
                    return false;
                }

                await AppendSubtractAsync(db, active, at, ct).ConfigureAwait(false);
                await db.ExecuteAsync(
                    "DELETE FROM active_contributions WHERE cohort_id = @cohort AND participant_id = @p;",
                    ct,
                    ("cohort", cohortId),
                    ("p", participantId)).ConfigureAwait(false);
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
            async (db, ct) => Convert.ToInt32(
                await db.ScalarAsync("SELECT COUNT(*) FROM active_contributions WHERE cohort_id = @cohort;", ct, ("cohort", cohortId))
                    .ConfigureAwait(false),
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
            async (db, ct) => await db.QueryAsync(
                """
                SELECT e.cohort_id, e.sequence, e.participant_id, e.kind, b.data, e.content_id, e.at
                FROM contribution_events e JOIN blobs b ON b.hash = e.ciphertext_hash
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
                    Ciphertext = Bytes(r, 4),
                    ContentId = r.GetString(5),
                    At = ReadTs(r, 6),
                },
                ct,
                ("cohort", cohortId),
                ("after", afterSequence),
                ("limit", limit)).ConfigureAwait(false),
            cancellationToken);
    }

    // ---- aggregate

    /// <inheritdoc />
    public Task<CohortAggregateRecord?> GetCohortAggregateAsync(string cohortId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        return ReadAsync(
            (db, ct) => db.QuerySingleAsync(
                "SELECT cohort_id, ciphertext, contributors, through_sequence, version FROM cohort_aggregates WHERE cohort_id = @cohort;",
                ReadAggregate,
                ct,
                ("cohort", cohortId)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Throws <see cref="InvalidOperationException"/> if the cohort does not exist.</remarks>
    public Task<CohortAggregateRecord?> SaveCohortAggregateAsync(CohortAggregateRecord aggregate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(aggregate);
        ArgumentException.ThrowIfNullOrEmpty(aggregate.CohortId, nameof(aggregate));
        ArgumentOutOfRangeException.ThrowIfNegative(aggregate.Contributors, nameof(aggregate));
        ArgumentOutOfRangeException.ThrowIfNegative(aggregate.ThroughSequence, nameof(aggregate));
        ArgumentOutOfRangeException.ThrowIfNegative(aggregate.Version, nameof(aggregate));
        return WriteFencedAsync(
            async (db, ct) =>
            {
                if (!await db.ExistsAsync("SELECT 1 FROM cohorts WHERE cohort_id = @id;", ct, ("id", aggregate.CohortId)).ConfigureAwait(false))
                {
                    throw new InvalidOperationException($"Cannot save the aggregate: cohort '{aggregate.CohortId}' does not exist.");
                }

                const string Returning = "RETURNING cohort_id, ciphertext, contributors, through_sequence, version;";
                return aggregate.Version == 0
                    ? await db.QuerySingleAsync(
                        $"""
                        INSERT INTO cohort_aggregates (cohort_id, ciphertext, contributors, through_sequence, version)
                        VALUES (@cohort, @ct, @n, @through, 1)
                        ON CONFLICT (cohort_id) DO NOTHING
                        {Returning}
                        """,
                        ReadAggregate,
                        ct,
                        ("cohort", aggregate.CohortId),
                        ("ct", aggregate.Ciphertext),
                        ("n", aggregate.Contributors),
                        ("through", aggregate.ThroughSequence)).ConfigureAwait(false)
                    : await db.QuerySingleAsync(
                        $"""
                        UPDATE cohort_aggregates SET ciphertext = @ct, contributors = @n, through_sequence = @through,
                            version = version + 1
                        WHERE cohort_id = @cohort AND version = @v AND through_sequence <= @through
                        {Returning}
                        """,
                        ReadAggregate,
                        ct,
                        ("cohort", aggregate.CohortId),
                        ("v", aggregate.Version),
                        ("ct", aggregate.Ciphertext),
                        ("n", aggregate.Contributors),
                        ("through", aggregate.ThroughSequence)).ConfigureAwait(false);
            },
            cancellationToken);
    }

    // ---- privacy budget

    /// <inheritdoc />
    /// <remarks>
    /// The job's row in <c>budget_spends</c> is inserted first (<c>ON CONFLICT DO NOTHING</c>, which waits for a
    /// concurrent spend of the same job and then sees its row), then one conditional UPDATE (atomic across nodes) debits
    /// the cohort; when that refuses, the transaction is rolled back. Does not change Version.
    /// </remarks>
    public Task<bool> TrySpendBudgetAsync(string cohortId, string jobId, double epsilon, double delta, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cohortId);
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ValidateAmount(epsilon, nameof(epsilon));
        ValidateAmount(delta, nameof(delta));
        return WriteFencedFlagAsync(
            async (db, ct) =>
            {
                if (await db.ExecuteAsync(
                        """
                        INSERT INTO budget_spends (cohort_id, job_id, epsilon, delta) VALUES (@id, @job, @e, @d)
                        ON CONFLICT (cohort_id, job_id) DO NOTHING;
                        """,
                        ct,
                        ("id", cohortId),
                        ("job", jobId),
                        ("e", epsilon),
                        ("d", delta)).ConfigureAwait(false) == 0)
                {
                    return true; // this job has spent already
                }

                if (await db.ExecuteAsync(
                        """
                        UPDATE cohorts SET epsilon_spent = epsilon_spent + @e, delta_spent = delta_spent + @d
                        WHERE cohort_id = @id
                            AND epsilon_spent + @e <= epsilon_budget + @tol
                            AND delta_spent + @d <= delta_budget + @tol;
                        """,
                        ct,
                        ("id", cohortId),
                        ("e", epsilon),
                        ("d", delta),
                        ("tol", BudgetTolerance)).ConfigureAwait(false) == 1)
                {
                    return true;
                }

                await db.RollbackAsync().ConfigureAwait(false);
                return false;
            },
            cancellationToken);
    }

    // ---- helpers

    private readonly record struct ActiveContribution(long AddSequence, string ContentId);

    private static Task<ActiveContribution?> GetActiveContributionAsync(Db db, string cohortId, string participantId, CancellationToken ct) =>
        db.QuerySingleAsync(
            "SELECT add_sequence, content_id FROM active_contributions WHERE cohort_id = @cohort AND participant_id = @p;",
            r => (ActiveContribution?)new ActiveContribution(r.GetInt64(0), r.GetString(1)),
            ct,
            ("cohort", cohortId),
            ("p", participantId));

    /// <summary>Appends Subtract(<paramref name="active"/>): the blob, participant and content id of the Add it cancels.</summary>
    private static Task<int> AppendSubtractAsync(Db db, ActiveContribution active, DateTimeOffset at, CancellationToken ct) =>
        db.ExecuteAsync(
            """
            INSERT INTO contribution_events (cohort_id, participant_id, kind, ciphertext_hash, add_sequence, content_id, at)
            SELECT a.cohort_id, a.participant_id, 'Subtract', a.ciphertext_hash, a.sequence, a.content_id, @at
            FROM contribution_events a WHERE a.sequence = @add;
            """,
            ct,
            ("add", active.AddSequence),
            ("at", Ts(at)));

    private static CohortAggregateRecord ReadAggregate(NpgsqlDataReader r) => new()
    {
        CohortId = r.GetString(0),
        Ciphertext = BytesOrNull(r, 1),
        Contributors = r.GetInt32(2),
        ThroughSequence = r.GetInt64(3),
        Version = r.GetInt64(4),
    };

    private static CohortRecord ReadCohort(NpgsqlDataReader r) => new()
    {
        CohortId = r.GetString(0),
        KeySetId = r.GetString(1),
        SchemaJson = r.GetString(2),
        State = r.GetString(3),
        EpsilonBudget = r.GetDouble(4),
        DeltaBudget = r.GetDouble(5),
        EpsilonSpent = r.GetDouble(6),
        DeltaSpent = r.GetDouble(7),
        CreatedAt = ReadTs(r, 8),
        Version = r.GetInt64(9),
    };
}
