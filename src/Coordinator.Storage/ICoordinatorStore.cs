namespace PrivateHealth.Coordinator.Storage;

/// <summary>Lifecycle of a training job.</summary>
public enum JobState
{
    /// <summary>Created, waiting for its key set or its first round.</summary>
    Pending,

    /// <summary>Rounds are running.</summary>
    Running,

    /// <summary>All rounds completed.</summary>
    Completed,

    /// <summary>Stopped with an error (see the message).</summary>
    Failed,

    /// <summary>Cancelled by an operator.</summary>
    Cancelled,
}

/// <summary>State machine of one training round (see docs/decisions/0009).</summary>
public enum RoundState
{
    /// <summary>Accepting uploads from the sampled participants.</summary>
    Open,

    /// <summary>Upload set frozen; the encrypted sum is being formed and saved.</summary>
    Closed,

    /// <summary>Waiting for the custodians' encrypted DP noise.</summary>
    Noise,

    /// <summary>Waiting for t decryption shares.</summary>
    Decrypting,

    /// <summary>Decrypted, strategy applied, next model published.</summary>
    Completed,

    /// <summary>Abandoned (too few updates, or too few custodians) with a message.</summary>
    Failed,
}

/// <summary>A training job row. <see cref="Spec"/> is the protobuf <c>TrainingJobSpec</c>.</summary>
public sealed record JobRecord
{
    public required string JobId { get; init; }
    public required string KeySetId { get; init; }
    public required byte[] Spec { get; init; }
    public JobState State { get; init; }
    /// <summary>The round in progress (or the next to open); equals the number of completed rounds while running.</summary>
    public int CurrentRound { get; init; }
    public required double[] GlobalModel { get; init; }
    /// <summary>Opaque server-optimizer state (momentum, Adam moments) after the last completed round.</summary>
    public byte[]? StrategyState { get; init; }
    public string? Message { get; init; }
    /// <summary>Optional client-chosen key: creating a job with a key already used returns the first job.</summary>
    public string? IdempotencyKey { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Incremented by every successful update (optimistic concurrency).</summary>
    public long Version { get; init; }
}

/// <summary>A round row. <see cref="Selected"/> lists the sampled participant ids.</summary>
public sealed record RoundRecord
{
    public required string JobId { get; init; }
    public int Round { get; init; }
    public RoundState State { get; init; }
    public required IReadOnlyList<string> Selected { get; init; }
    public DateTimeOffset OpenedAt { get; init; }
    public DateTimeOffset Deadline { get; init; }
    /// <summary>When the minimum number of uploads was reached (null before).</summary>
    public DateTimeOffset? MinimumReachedAt { get; init; }
    public int Extensions { get; init; }
    /// <summary>Number of uploads in the frozen upload set (set when the round leaves <see cref="RoundState.Open"/>).</summary>
    public int IncludedUploads { get; init; }
    public string? Message { get; init; }
    /// <summary>Opaque (JSON) working data: session ids, active set, metrics of the completed round.</summary>
    public string? Data { get; init; }
    public long Version { get; init; }
}

/// <summary>One accepted upload (the ledger row), keyed by (job, round, participant).</summary>
public sealed record UploadRecord
{
    public required string JobId { get; init; }
    public int Round { get; init; }
    public required string ParticipantId { get; init; }
    /// <summary>Store-assigned, strictly increasing per store (0 when passed in).</summary>
    public long Sequence { get; init; }
    public required IReadOnlyList<byte[]> Ciphertexts { get; init; }
    /// <summary>Content id (hex SHA-256 trailer) of each ciphertext, same order.</summary>
    public required IReadOnlyList<string> ContentIds { get; init; }
    public long Bytes { get; init; }
    public DateTimeOffset ReceivedAt { get; init; }
}

/// <summary>Result of <see cref="ICoordinatorStore.AddUploadAsync"/>.</summary>
public enum UploadOutcome
{
    /// <summary>New ledger row written.</summary>
    Stored,

    /// <summary>The same upload (same content ids) was already stored; nothing changed.</summary>
    Duplicate,

    /// <summary>A different upload is already stored for this (job, round, participant); nothing changed.</summary>
    Conflict,

    /// <summary>The round is not <see cref="RoundState.Open"/> (or does not exist); nothing changed.</summary>
    RoundNotOpen,
}

/// <summary>The encrypted sum of a round's frozen upload set (serialized ciphertexts).</summary>
public sealed record AccumulatorRecord
{
    public required string JobId { get; init; }
    public int Round { get; init; }
    public required IReadOnlyList<byte[]> Ciphertexts { get; init; }
    public int UploadCount { get; init; }
}

/// <summary>A task for one custodian (key-ceremony share, DP noise, decryption share) and its answer.</summary>
public sealed record CustodianTaskRecord
{
    public required string TaskId { get; init; }
    /// <summary>Groups tasks, e.g. <c>keyset:ks-1:public-key</c> or <c>job:j-1:round:3:decrypt</c>.</summary>
    public required string Scope { get; init; }
    public int Party { get; init; }
    /// <summary>Protobuf <c>CustodianTask</c>.</summary>
    public required byte[] Payload { get; init; }
    /// <summary>Protobuf <c>CustodianAnswer</c>, once answered.</summary>
    public byte[]? Answer { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? AnsweredAt { get; init; }
    /// <summary>Withdrawn tasks are no longer offered (e.g. the active set was changed).</summary>
    public bool Withdrawn { get; init; }
}

/// <summary>Result of <see cref="ICoordinatorStore.SaveAnswerAsync"/>.</summary>
public enum AnswerOutcome
{
    Stored,
    Duplicate,
    Conflict,
    UnknownTask,
    WrongParty,
    Withdrawn,
}

/// <summary>A participant's enrollment and consent in a cohort, as last reported.</summary>
public sealed record EnrollmentRecord
{
    public required string ParticipantId { get; init; }
    public required string CohortId { get; init; }
    public bool Training { get; init; }
    public bool Analytics { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A registered custodian.</summary>
public sealed record CustodianRecord
{
    public required string CustodianId { get; init; }
    public int Party { get; init; }
    public required byte[] AgreementPublicKey { get; init; }
    public DateTimeOffset RegisteredAt { get; init; }
}

/// <summary>A collective key set produced by a key ceremony.</summary>
public sealed record KeySetRecord
{
    public required string KeySetId { get; init; }
    public required string Preset { get; init; }
    public int Members { get; init; }
    public int Threshold { get; init; }
    /// <summary>"running", "ready" or "failed".</summary>
    public required string State { get; init; }
    /// <summary>Current ceremony phase (e.g. "public-key", "relinearization-1", "threshold-deal", "done").</summary>
    public required string Phase { get; init; }
    /// <summary>Opaque (JSON) ceremony working data: CRS seed, sessions, requested rotations.</summary>
    public string? Data { get; init; }
    public string? Message { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public long Version { get; init; }
}

/// <summary>
/// Durable state of the coordinator. Every method is atomic; conditional updates use the record's
/// <c>Version</c> (compare-and-set) so that two writers never both win. Implementations: SQLite (embedded
/// default) and PostgreSQL; both pass the same test suite.
/// </summary>
public interface ICoordinatorStore : IAsyncDisposable
{
    /// <summary>Creates the schema if needed (idempotent, versioned migrations).</summary>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    // ---- jobs

    /// <summary>
    /// Inserts a job (Version 1). If <see cref="JobRecord.IdempotencyKey"/> is set and a job with that key exists,
    /// returns the existing job and inserts nothing. Throws <see cref="StoreConflictException"/> if the id exists.
    /// </summary>
    Task<JobRecord> CreateJobAsync(JobRecord job, CancellationToken cancellationToken = default);

    Task<JobRecord?> GetJobAsync(string jobId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<JobRecord>> ListJobsAsync(CancellationToken cancellationToken = default);

    /// <summary>Replaces the job if its stored Version equals <paramref name="job"/>.Version; returns the stored record (Version+1) or null on a version mismatch.</summary>
    Task<JobRecord?> UpdateJobAsync(JobRecord job, CancellationToken cancellationToken = default);

    // ---- rounds

    /// <summary>Inserts a round (Version 1); returns false (and changes nothing) if (job, round) exists.</summary>
    Task<bool> CreateRoundAsync(RoundRecord round, CancellationToken cancellationToken = default);

    Task<RoundRecord?> GetRoundAsync(string jobId, int round, CancellationToken cancellationToken = default);

    /// <summary>Rounds of a job in round order.</summary>
    Task<IReadOnlyList<RoundRecord>> ListRoundsAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Compare-and-set on Version. When the stored state is <see cref="RoundState.Open"/> and the new state is not,
    /// <see cref="RoundRecord.IncludedUploads"/> is set by the store to the number of ledger rows of the round in the
    /// same transaction (the upload set is frozen: later <see cref="AddUploadAsync"/> calls get RoundNotOpen); the value
    /// passed in is always ignored. Moving a round back to Open throws <see cref="InvalidOperationException"/>.
    /// Returns the stored record, or null on a version mismatch or an unknown round.
    /// </summary>
    Task<RoundRecord?> UpdateRoundAsync(RoundRecord round, CancellationToken cancellationToken = default);

    // ---- received-update ledger

    /// <summary>
    /// Atomically: if the round exists and is Open and no row exists for (job, round, participant), inserts the row
    /// (assigning Sequence) and returns Stored; if a row exists, returns Duplicate when its content ids are equal,
    /// otherwise Conflict (checked before the round state, so a retry after closing learns it was included); if the
    /// round is not open, RoundNotOpen. The round must exist (its job too).
    /// </summary>
    Task<UploadOutcome> AddUploadAsync(UploadRecord upload, CancellationToken cancellationToken = default);

    /// <summary>Ledger rows of a round in Sequence order, ciphertexts included.</summary>
    Task<IReadOnlyList<UploadRecord>> ListUploadsAsync(string jobId, int round, CancellationToken cancellationToken = default);

    /// <summary>Participant ids (in Sequence order) and total bytes of a round's ledger, without the ciphertexts.</summary>
    Task<(IReadOnlyList<string> Participants, long Bytes)> GetUploadSummaryAsync(string jobId, int round, CancellationToken cancellationToken = default);

    // ---- accumulators

    /// <summary>Writes the round's accumulator; returns false (and keeps the first) if one exists.</summary>
    Task<bool> SaveAccumulatorAsync(AccumulatorRecord accumulator, CancellationToken cancellationToken = default);

    Task<AccumulatorRecord?> GetAccumulatorAsync(string jobId, int round, CancellationToken cancellationToken = default);

    // ---- custodian tasks and answers (key-ceremony shares, DP noise, decryption shares)

    /// <summary>Inserts a task; returns false (and changes nothing) if the id exists.</summary>
    Task<bool> AddTaskAsync(CustodianTaskRecord task, CancellationToken cancellationToken = default);

    Task<CustodianTaskRecord?> GetTaskAsync(string taskId, CancellationToken cancellationToken = default);

    /// <summary>Tasks of a scope in creation order (withdrawn included).</summary>
    Task<IReadOnlyList<CustodianTaskRecord>> ListTasksAsync(string scope, CancellationToken cancellationToken = default);

    /// <summary>Unanswered, not withdrawn tasks for one party, in creation order.</summary>
    Task<IReadOnlyList<CustodianTaskRecord>> ListPendingTasksAsync(int party, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the answer of a task once: Stored; Duplicate if an identical answer is stored; Conflict if a different
    /// one is; UnknownTask; WrongParty if <paramref name="party"/> is not the task's party; Withdrawn.
    /// </summary>
    Task<AnswerOutcome> SaveAnswerAsync(string taskId, int party, byte[] answer, CancellationToken cancellationToken = default);

    /// <summary>Marks unanswered tasks of a scope as withdrawn; returns how many.</summary>
    Task<int> WithdrawTasksAsync(string scope, CancellationToken cancellationToken = default);

    // ---- participants and custodians

    Task UpsertEnrollmentAsync(EnrollmentRecord enrollment, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<EnrollmentRecord>> ListEnrollmentsAsync(string cohortId, CancellationToken cancellationToken = default);

    /// <summary>Registers a custodian. Re-registering the same id with the same party replaces its key; a party
    /// number already taken by another id throws <see cref="StoreConflictException"/>.</summary>
    Task UpsertCustodianAsync(CustodianRecord custodian, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<CustodianRecord>> ListCustodiansAsync(CancellationToken cancellationToken = default);

    // ---- key sets and their artifacts

    /// <summary>Inserts (Version 1); throws <see cref="StoreConflictException"/> if the id exists.</summary>
    Task CreateKeySetAsync(KeySetRecord keySet, CancellationToken cancellationToken = default);

    Task<KeySetRecord?> GetKeySetAsync(string keySetId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<KeySetRecord>> ListKeySetsAsync(CancellationToken cancellationToken = default);

    /// <summary>Compare-and-set on Version; returns the stored record (Version+1) or null.</summary>
    Task<KeySetRecord?> UpdateKeySetAsync(KeySetRecord keySet, CancellationToken cancellationToken = default);

    /// <summary>Writes a named artifact (e.g. <c>public-key</c>) of a scope once; returns false if it exists (kept).</summary>
    Task<bool> PutArtifactAsync(string scope, string name, byte[] data, CancellationToken cancellationToken = default);

    Task<byte[]?> GetArtifactAsync(string scope, string name, CancellationToken cancellationToken = default);
}

/// <summary>A uniqueness rule of the store was violated.</summary>
public sealed class StoreConflictException(string message) : InvalidOperationException(message);
