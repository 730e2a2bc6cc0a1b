namespace PrivateHealth.Coordinator.Storage;

/// <summary>An analytics cohort: its schema, key set and privacy budget.</summary>
public sealed record CohortRecord
{
    public required string CohortId { get; init; }
    public required string KeySetId { get; init; }
    /// <summary>The cohort schema (JSON, versioned; see src/EncryptedQuery/Schema).</summary>
    public required string SchemaJson { get; init; }
    /// <summary>"open" (accepting contributions) or "closed".</summary>
    public required string State { get; init; }
    public double EpsilonBudget { get; init; }
    public double DeltaBudget { get; init; }
    /// <summary>Maintained by the store (<see cref="ICohortStore.TrySpendBudgetAsync"/>); ignored on update.</summary>
    public double EpsilonSpent { get; init; }
    /// <summary>Maintained by the store; ignored on update.</summary>
    public double DeltaSpent { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public long Version { get; init; }
}

/// <summary>Kind of a ledger event of a cohort: a contribution added to, or subtracted from, the aggregate.</summary>
public enum ContributionEventKind
{
    Add,
    Subtract,
}

/// <summary>
/// One event of a cohort's contribution ledger. Replacing a contribution appends Subtract(old) then Add(new); revoking
/// appends Subtract(old). The aggregate is the fold of the events in sequence order, so each contribution is counted
/// exactly once however often the fold is retried.
/// </summary>
public sealed record ContributionEvent
{
    public required string CohortId { get; init; }
    /// <summary>Store-assigned, strictly increasing across the store.</summary>
    public long Sequence { get; init; }
    public required string ParticipantId { get; init; }
    public ContributionEventKind Kind { get; init; }
    /// <summary>The contribution's ciphertext (the same bytes for its Add and its later Subtract).</summary>
    public required byte[] Ciphertext { get; init; }
    /// <summary>Content id (hex SHA-256 trailer) of the ciphertext.</summary>
    public required string ContentId { get; init; }
    public DateTimeOffset At { get; init; }
}

/// <summary>Result of <see cref="ICohortStore.AddContributionAsync"/>.</summary>
public enum ContributionOutcome
{
    /// <summary>First contribution of the participant: one Add event.</summary>
    Stored,

    /// <summary>The participant's active contribution has the same content id: nothing appended.</summary>
    Duplicate,

    /// <summary>A different active contribution existed: Subtract(old) and Add(new) appended atomically.</summary>
    Replaced,

    /// <summary>The cohort is closed: nothing appended.</summary>
    CohortClosed,

    /// <summary>No such cohort: nothing appended.</summary>
    UnknownCohort,
}

/// <summary>The folded encrypted sum of a cohort.</summary>
public sealed record CohortAggregateRecord
{
    public required string CohortId { get; init; }
    /// <summary>Serialized ciphertext; null while nothing has been folded (or everything was subtracted to an empty fold).</summary>
    public byte[]? Ciphertext { get; init; }
    /// <summary>Active contributions in the fold (adds minus subtracts).</summary>
    public int Contributors { get; init; }
    /// <summary>Sequence of the last event folded in (0: none).</summary>
    public long ThroughSequence { get; init; }
    public long Version { get; init; }
}

/// <summary>
/// Durable state of encrypted analytics: cohorts, the per-participant contribution ledger (as events), the folded
/// aggregate (compare-and-set on a watermark) and the privacy budget. Implemented by the SQLite store and, later,
/// PostgreSQL; both run the same contract tests.
/// </summary>
public interface ICohortStore
{
    /// <summary>Inserts (Version 1, nothing spent); throws <see cref="StoreConflictException"/> if the id exists.</summary>
    Task CreateCohortAsync(CohortRecord cohort, CancellationToken cancellationToken = default);

    Task<CohortRecord?> GetCohortAsync(string cohortId, CancellationToken cancellationToken = default);

    /// <summary>Cohorts in creation order.</summary>
    Task<IReadOnlyList<CohortRecord>> ListCohortsAsync(CancellationToken cancellationToken = default);

    /// <summary>Compare-and-set on Version (State, budgets, schema); spent amounts are not changed. Null on mismatch.</summary>
    Task<CohortRecord?> UpdateCohortAsync(CohortRecord cohort, CancellationToken cancellationToken = default);

    /// <summary>
    /// Atomically records a participant's contribution: Stored (one Add), Duplicate (same content id as the active one:
    /// nothing), Replaced (Subtract(old), Add(new)), CohortClosed or UnknownCohort (nothing).
    /// </summary>
    Task<ContributionOutcome> AddContributionAsync(string cohortId, string participantId, byte[] ciphertext, string contentId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Appends Subtract(active) and returns true; false (nothing appended) if the participant has no active contribution.</summary>
    Task<bool> RevokeContributionAsync(string cohortId, string participantId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Number of participants with an active contribution.</summary>
    Task<int> CountActiveContributionsAsync(string cohortId, CancellationToken cancellationToken = default);

    /// <summary>Events of a cohort with Sequence &gt; <paramref name="afterSequence"/>, in order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<ContributionEvent>> ListContributionEventsAsync(string cohortId, long afterSequence, int limit, CancellationToken cancellationToken = default);

    /// <summary>The current fold (null before the first save).</summary>
    Task<CohortAggregateRecord?> GetCohortAggregateAsync(string cohortId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves a new fold if the stored one has Version = <paramref name="aggregate"/>.Version (0 when none is stored) and a
    /// ThroughSequence not greater than the new one; returns the stored record (Version + 1) or null on a mismatch.
    /// </summary>
    Task<CohortAggregateRecord?> SaveCohortAggregateAsync(CohortAggregateRecord aggregate, CancellationToken cancellationToken = default);

    /// <summary>
    /// Spends (ε, δ) from the cohort's budget for the query job <paramref name="jobId"/> if it fits (spent + cost ≤
    /// budget, with a 1e-12 tolerance) and returns true; otherwise returns false and spends nothing. The spend is recorded
    /// with the job id in the same transaction, so it is idempotent per (cohort, job): when that job has spent already,
    /// nothing is spent again and the call returns true (whatever the amounts and the remaining budget). Unknown cohort
    /// → false.
    /// </summary>
    Task<bool> TrySpendBudgetAsync(string cohortId, string jobId, double epsilon, double delta, CancellationToken cancellationToken = default);
}

/// <summary>A price quote for a query (or training) job; it expires and can be used by one job only.</summary>
public sealed record QuoteRecord
{
    public required string QuoteId { get; init; }
    public required string CohortId { get; init; }
    public required string ResearcherId { get; init; }
    /// <summary>"query" or "training".</summary>
    public required string Kind { get; init; }
    /// <summary>The query text (or the training spec as JSON) that was priced.</summary>
    public required string Request { get; init; }
    public double Epsilon { get; init; }
    public double Delta { get; init; }
    /// <summary>Price in micro-units of the payment currency.</summary>
    public long PriceMicros { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset ExpiresAt { get; init; }
    /// <summary>The job that used the quote (null while unused).</summary>
    public string? JobId { get; init; }
}

/// <summary>A researcher's query job and its release state machine.</summary>
public sealed record QueryJobRecord
{
    public required string JobId { get; init; }
    public required string QuoteId { get; init; }
    public required string CohortId { get; init; }
    public required string ResearcherId { get; init; }
    /// <summary>Researcher-chosen key: the same (researcher, key) returns the first job.</summary>
    public string? IdempotencyKey { get; init; }
    public required string QueryText { get; init; }
    /// <summary>CkksSerializer public key the result is re-encrypted to.</summary>
    public required byte[] ResearcherPublicKey { get; init; }
    /// <summary>"pending", "counting", "computing", "completed", "failed" or "cancelled".</summary>
    public required string State { get; init; }
    public string? Message { get; init; }
    /// <summary>Opaque (JSON) working data of the state machine.</summary>
    public string? Data { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public long Version { get; init; }
}

/// <summary>Result of <see cref="IQueryJobStore.CreateQueryJobAsync"/>.</summary>
public enum CreateQueryJobOutcome
{
    /// <summary>Inserted; the quote is now used by it.</summary>
    Created,

    /// <summary>The researcher's idempotency key was used before: the first job is returned, nothing changed.</summary>
    Existing,

    UnknownQuote,
    QuoteExpired,

    /// <summary>The quote was used by another job.</summary>
    QuoteUsed,

    /// <summary>The quote belongs to another researcher or cohort, or priced another query.</summary>
    QuoteMismatch,
}

/// <summary>Quotes and query jobs (SQLite now, PostgreSQL later; same contract tests).</summary>
public interface IQueryJobStore
{
    /// <summary>Inserts a quote; throws <see cref="StoreConflictException"/> if the id exists.</summary>
    Task CreateQuoteAsync(QuoteRecord quote, CancellationToken cancellationToken = default);

    Task<QuoteRecord?> GetQuoteAsync(string quoteId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Atomically: if (researcher, idempotency key) exists → (that job, Existing); else the quote must exist, match the
    /// job's researcher, cohort and request (QueryText), be unexpired at <paramref name="now"/> and unused → insert the job
    /// (Version 1) and mark the quote used → (job, Created); otherwise (null, the reason) and nothing changes.
    /// </summary>
    Task<(QueryJobRecord? Job, CreateQueryJobOutcome Outcome)> CreateQueryJobAsync(QueryJobRecord job, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<QueryJobRecord?> GetQueryJobAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Jobs in creation order (all, or of one cohort).</summary>
    Task<IReadOnlyList<QueryJobRecord>> ListQueryJobsAsync(string? cohortId = null, CancellationToken cancellationToken = default);

    /// <summary>Compare-and-set on Version (State, Message, Data, UpdatedAt); returns the stored record or null.</summary>
    Task<QueryJobRecord?> UpdateQueryJobAsync(QueryJobRecord job, CancellationToken cancellationToken = default);
}
