namespace PrivateHealth.Coordinator.Storage;

/// <summary>
/// The ordered schema migrations of <see cref="SqliteCoordinatorStore"/>. Migration <c>i</c> (0-based) brings the
/// schema to version <c>i + 1</c>; applied versions are recorded in <c>schema_version</c>. Never edit a released
/// script: append a new one.
/// </summary>
internal static class SqliteMigrations
{
    /// <summary>Creates the version table itself (outside the numbered migrations; idempotent).</summary>
    public const string VersionTable = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        );
        """;

    public static IReadOnlyList<string> Scripts { get; } =
    [
        // 1: initial schema
        """
        CREATE TABLE jobs (
            seq             INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id          TEXT    NOT NULL UNIQUE,
            key_set_id      TEXT    NOT NULL,
            spec            BLOB    NOT NULL,
            state           TEXT    NOT NULL,
            current_round   INTEGER NOT NULL,
            global_model    BLOB    NOT NULL,
            strategy_state  BLOB    NULL,
            message         TEXT    NULL,
            idempotency_key TEXT    NULL UNIQUE,
            created_at      INTEGER NOT NULL,
            updated_at      INTEGER NOT NULL,
            version         INTEGER NOT NULL
        );

        CREATE TABLE rounds (
            job_id             TEXT    NOT NULL REFERENCES jobs (job_id),
            round              INTEGER NOT NULL,
            state              TEXT    NOT NULL,
            selected           TEXT    NOT NULL,
            opened_at          INTEGER NOT NULL,
            deadline           INTEGER NOT NULL,
            minimum_reached_at INTEGER NULL,
            extensions         INTEGER NOT NULL,
            included_uploads   INTEGER NOT NULL,
            message            TEXT    NULL,
            data               TEXT    NULL,
            version            INTEGER NOT NULL,
            PRIMARY KEY (job_id, round)
        );

        CREATE TABLE uploads (
            sequence       INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id         TEXT    NOT NULL,
            round          INTEGER NOT NULL,
            participant_id TEXT    NOT NULL,
            ciphertexts    BLOB    NOT NULL,
            content_ids    TEXT    NOT NULL,
            bytes          INTEGER NOT NULL,
            received_at    INTEGER NOT NULL,
            UNIQUE (job_id, round, participant_id),
            FOREIGN KEY (job_id, round) REFERENCES rounds (job_id, round)
        );

        CREATE INDEX uploads_by_round ON uploads (job_id, round, sequence);

        CREATE TABLE accumulators (
            job_id       TEXT    NOT NULL,
            round        INTEGER NOT NULL,
            ciphertexts  BLOB    NOT NULL,
            upload_count INTEGER NOT NULL,
            PRIMARY KEY (job_id, round),
            FOREIGN KEY (job_id, round) REFERENCES rounds (job_id, round)
        );

        CREATE TABLE custodian_tasks (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            task_id     TEXT    NOT NULL UNIQUE,
            scope       TEXT    NOT NULL,
            party       INTEGER NOT NULL,
            payload     BLOB    NOT NULL,
            answer      BLOB    NULL,
            created_at  INTEGER NOT NULL,
            answered_at INTEGER NULL,
            withdrawn   INTEGER NOT NULL DEFAULT 0
        );

        CREATE INDEX custodian_tasks_by_scope ON custodian_tasks (scope, seq);
        CREATE INDEX custodian_tasks_pending ON custodian_tasks (party, seq) WHERE answer IS NULL AND withdrawn = 0;

        CREATE TABLE enrollments (
            cohort_id      TEXT    NOT NULL,
            participant_id TEXT    NOT NULL,
            training       INTEGER NOT NULL,
            analytics      INTEGER NOT NULL,
            updated_at     INTEGER NOT NULL,
            PRIMARY KEY (cohort_id, participant_id)
        );

        CREATE TABLE custodians (
            custodian_id         TEXT    PRIMARY KEY,
            party                INTEGER NOT NULL UNIQUE,
            agreement_public_key BLOB    NOT NULL,
            registered_at        INTEGER NOT NULL
        );

        CREATE TABLE key_sets (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            key_set_id TEXT    NOT NULL UNIQUE,
            preset     TEXT    NOT NULL,
            members    INTEGER NOT NULL,
            threshold  INTEGER NOT NULL,
            state      TEXT    NOT NULL,
            phase      TEXT    NOT NULL,
            data       TEXT    NULL,
            message    TEXT    NULL,
            created_at INTEGER NOT NULL,
            version    INTEGER NOT NULL
        );

        CREATE TABLE artifacts (
            scope TEXT NOT NULL,
            name  TEXT NOT NULL,
            data  BLOB NOT NULL,
            PRIMARY KEY (scope, name)
        );
        """,

        // 2: encrypted analytics (ICohortStore): cohorts, the contribution ledger and the folded aggregate
        """
        CREATE TABLE cohorts (
            seq            INTEGER PRIMARY KEY AUTOINCREMENT,
            cohort_id      TEXT    NOT NULL UNIQUE,
            key_set_id     TEXT    NOT NULL,
            schema_json    TEXT    NOT NULL,
            state          TEXT    NOT NULL,
            epsilon_budget REAL    NOT NULL,
            delta_budget   REAL    NOT NULL,
            epsilon_spent  REAL    NOT NULL DEFAULT 0,
            delta_spent    REAL    NOT NULL DEFAULT 0,
            created_at     INTEGER NOT NULL,
            version        INTEGER NOT NULL
        );

        -- Add events carry the ciphertext; a Subtract event references the Add it cancels (add_sequence) and reads
        -- its bytes from there, so a replaced or revoked ciphertext is stored once.
        CREATE TABLE contribution_events (
            sequence       INTEGER PRIMARY KEY AUTOINCREMENT,
            cohort_id      TEXT    NOT NULL REFERENCES cohorts (cohort_id),
            participant_id TEXT    NOT NULL,
            kind           TEXT    NOT NULL CHECK (kind IN ('Add', 'Subtract')),
            ciphertext     BLOB    NULL,
            add_sequence   INTEGER NULL REFERENCES contribution_events (sequence),
            content_id     TEXT    NOT NULL,
            at             INTEGER NOT NULL,
            CHECK ((kind = 'Add' AND add_sequence IS NULL) OR (kind = 'Subtract' AND add_sequence IS NOT NULL AND ciphertext IS NULL))
        );

        CREATE INDEX contribution_events_by_cohort ON contribution_events (cohort_id, sequence);

        -- The participant's active contribution: the sequence of its Add event (one row per participant at most).
        CREATE TABLE active_contributions (
            cohort_id      TEXT    NOT NULL REFERENCES cohorts (cohort_id),
            participant_id TEXT    NOT NULL,
            add_sequence   INTEGER NOT NULL REFERENCES contribution_events (sequence),
            content_id     TEXT    NOT NULL,
            PRIMARY KEY (cohort_id, participant_id)
        );

        CREATE TABLE cohort_aggregates (
            cohort_id        TEXT    PRIMARY KEY REFERENCES cohorts (cohort_id),
            ciphertext       BLOB    NULL,
            contributors     INTEGER NOT NULL,
            through_sequence INTEGER NOT NULL,
            version          INTEGER NOT NULL
        );
        """,

        // 3: query jobs (IQueryJobStore): price quotes and the researcher's query jobs
        """
        -- A quote is used by at most one job (job_id, set when the job is created).
        CREATE TABLE quotes (
            quote_id      TEXT    PRIMARY KEY,
            cohort_id     TEXT    NOT NULL REFERENCES cohorts (cohort_id),
            researcher_id TEXT    NOT NULL,
            kind          TEXT    NOT NULL,
            request       TEXT    NOT NULL,
            epsilon       REAL    NOT NULL,
            delta         REAL    NOT NULL,
            price_micros  INTEGER NOT NULL,
            created_at    INTEGER NOT NULL,
            expires_at    INTEGER NOT NULL,
            job_id        TEXT    NULL UNIQUE
        );

        -- seq gives the creation order; quote_id is UNIQUE as a second guard against a quote used twice.
        CREATE TABLE query_jobs (
            seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id                TEXT    NOT NULL UNIQUE,
            quote_id              TEXT    NOT NULL UNIQUE REFERENCES quotes (quote_id),
            cohort_id             TEXT    NOT NULL REFERENCES cohorts (cohort_id),
            researcher_id         TEXT    NOT NULL,
            idempotency_key       TEXT    NULL,
            query_text            TEXT    NOT NULL,
            researcher_public_key BLOB    NOT NULL,
            state                 TEXT    NOT NULL,
            message               TEXT    NULL,
            data                  TEXT    NULL,
            created_at            INTEGER NOT NULL,
            updated_at            INTEGER NOT NULL,
            version               INTEGER NOT NULL
        );

        -- NULL keys are distinct in SQLite, so jobs without a key never collide.
        CREATE UNIQUE INDEX query_jobs_by_idempotency_key ON query_jobs (researcher_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL;

        CREATE INDEX query_jobs_by_cohort ON query_jobs (cohort_id, seq);
        """,

        // 4: scale-out (decision 0018): presence heartbeats and leases with fencing tokens (Unix milliseconds)
        """
        CREATE TABLE presence (
            kind       TEXT    NOT NULL,
            id         TEXT    NOT NULL,
            node_id    TEXT    NOT NULL,
            expires_at INTEGER NOT NULL,
            PRIMARY KEY (kind, id, node_id)
        );

        CREATE INDEX presence_by_node ON presence (node_id);

        CREATE TABLE leases (
            resource   TEXT    PRIMARY KEY,
            owner      TEXT    NULL,
            token      INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        );
        """,

        // 5: privacy-budget spends recorded per query job, so that a repeated spend of one job debits the budget once
        """
        CREATE TABLE budget_spends (
            cohort_id TEXT NOT NULL,
            job_id    TEXT NOT NULL,
            epsilon   REAL NOT NULL,
            delta     REAL NOT NULL,
            PRIMARY KEY (cohort_id, job_id)
        );
        """,
    ];
}
