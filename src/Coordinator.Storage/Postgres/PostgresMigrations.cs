namespace PrivateHealth.Coordinator.Storage.Postgres;

/// <summary>
/// The ordered schema migrations of <see cref="PostgresCoordinatorStore"/>. Migration <c>i</c> (0-based) brings the
/// schema to version <c>i + 1</c>; applied versions are recorded in <c>schema_version</c>. The numbering matches
/// <c>SqliteMigrations</c> (1: training, 2: cohorts, 3: query jobs) so both stores report the same schema version.
/// Never edit a released script: append a new one.
/// </summary>
/// <remarks>
/// Ciphertexts (upload ciphertexts, accumulators, contributions) live in <c>blobs</c>, keyed by their SHA-256 and
/// written once (<c>INSERT … ON CONFLICT DO NOTHING</c>); the rows that use them hold the hash (<c>bytea</c>, or an
/// ordered <c>bytea[]</c> of hashes). Timestamps are <c>timestamptz</c> truncated to milliseconds by the store (the
/// SQLite store keeps Unix milliseconds), creation order is an identity column <c>seq</c>.
/// </remarks>
internal static class PostgresMigrations
{
    /// <summary>Creates the version table itself (outside the numbered migrations; idempotent).</summary>
    public const string VersionTable = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version    integer     PRIMARY KEY,
            applied_at timestamptz NOT NULL
        );
        """;

    public static IReadOnlyList<string> Scripts { get; } =
    [
        // 1: initial schema (training: jobs, rounds, the upload ledger, custodians, key sets) and the blob table
        """
        -- Content-addressed ciphertexts: hash = SHA-256(data), written once, never updated.
        CREATE TABLE blobs (
            hash bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
            data bytea NOT NULL
        );

        CREATE TABLE jobs (
            seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id          text        NOT NULL UNIQUE,
            key_set_id      text        NOT NULL,
            spec            bytea       NOT NULL,
            state           text        NOT NULL,
            current_round   integer     NOT NULL,
            global_model    bytea       NOT NULL,
            strategy_state  bytea       NULL,
            message         text        NULL,
            idempotency_key text        NULL UNIQUE,
            created_at      timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL,
            version         bigint      NOT NULL
        );

        CREATE TABLE rounds (
            job_id             text        NOT NULL REFERENCES jobs (job_id),
            round              integer     NOT NULL,
            state              text        NOT NULL,
            selected           text[]      NOT NULL,
            opened_at          timestamptz NOT NULL,
            deadline           timestamptz NOT NULL,
            minimum_reached_at timestamptz NULL,
            extensions         integer     NOT NULL,
            included_uploads   integer     NOT NULL,
            message            text        NULL,
            data               text        NULL,
            version            bigint      NOT NULL,
            PRIMARY KEY (job_id, round)
        );

        -- ciphertexts: the SHA-256 of each ciphertext (in order), each a key of blobs.
        CREATE TABLE uploads (
            sequence       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id         text        NOT NULL,
            round          integer     NOT NULL,
            participant_id text        NOT NULL,
            ciphertexts    bytea[]     NOT NULL,
            content_ids    text[]      NOT NULL,
            bytes          bigint      NOT NULL,
            received_at    timestamptz NOT NULL,
            UNIQUE (job_id, round, participant_id),
            FOREIGN KEY (job_id, round) REFERENCES rounds (job_id, round)
        );

        CREATE INDEX uploads_by_round ON uploads (job_id, round, sequence);

        CREATE TABLE accumulators (
            job_id       text    NOT NULL,
            round        integer NOT NULL,
            ciphertexts  bytea[] NOT NULL,
            upload_count integer NOT NULL,
            PRIMARY KEY (job_id, round),
            FOREIGN KEY (job_id, round) REFERENCES rounds (job_id, round)
        );

        CREATE TABLE custodian_tasks (
            seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            task_id     text        NOT NULL UNIQUE,
            scope       text        NOT NULL,
            party       integer     NOT NULL,
            payload     bytea       NOT NULL,
            answer      bytea       NULL,
            created_at  timestamptz NOT NULL,
            answered_at timestamptz NULL,
            withdrawn   boolean     NOT NULL DEFAULT false
        );

        CREATE INDEX custodian_tasks_by_scope ON custodian_tasks (scope, seq);
        CREATE INDEX custodian_tasks_pending ON custodian_tasks (party, seq) WHERE answer IS NULL AND NOT withdrawn;

        CREATE TABLE enrollments (
            cohort_id      text        NOT NULL,
            participant_id text        NOT NULL,
            training       boolean     NOT NULL,
            analytics      boolean     NOT NULL,
            updated_at     timestamptz NOT NULL,
            PRIMARY KEY (cohort_id, participant_id)
        );

        CREATE TABLE custodians (
            custodian_id         text        PRIMARY KEY,
            party                integer     NOT NULL UNIQUE,
            agreement_public_key bytea       NOT NULL,
            registered_at        timestamptz NOT NULL
        );

        CREATE TABLE key_sets (
            seq        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            key_set_id text        NOT NULL UNIQUE,
            preset     text        NOT NULL,
            members    integer     NOT NULL,
            threshold  integer     NOT NULL,
            state      text        NOT NULL,
            phase      text        NOT NULL,
            data       text        NULL,
            message    text        NULL,
            created_at timestamptz NOT NULL,
            version    bigint      NOT NULL
        );

        CREATE TABLE artifacts (
            scope text  NOT NULL,
            name  text  NOT NULL,
            data  bytea NOT NULL,
            PRIMARY KEY (scope, name)
        );
        """,

        // 2: encrypted analytics (ICohortStore): cohorts, the contribution ledger and the folded aggregate
        """
        CREATE TABLE cohorts (
            seq            bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            cohort_id      text             NOT NULL UNIQUE,
            key_set_id     text             NOT NULL,
            schema_json    text             NOT NULL,
            state          text             NOT NULL,
            epsilon_budget double precision NOT NULL,
            delta_budget   double precision NOT NULL,
            epsilon_spent  double precision NOT NULL DEFAULT 0,
            delta_spent    double precision NOT NULL DEFAULT 0,
            created_at     timestamptz      NOT NULL,
            version        bigint           NOT NULL
        );

        -- Every event references its ciphertext by hash (a Subtract the same blob as the Add it cancels, add_sequence),
        -- so a replaced or revoked ciphertext is stored once. Events of one cohort are appended under the cohort's row
        -- lock, so within a cohort sequences are allocated and committed in the same order (a reader paging by
        -- sequence never skips an event that commits later).
        CREATE TABLE contribution_events (
            sequence        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            cohort_id       text        NOT NULL REFERENCES cohorts (cohort_id),
            participant_id  text        NOT NULL,
            kind            text        NOT NULL CHECK (kind IN ('Add', 'Subtract')),
            ciphertext_hash bytea       NOT NULL REFERENCES blobs (hash),
            add_sequence    bigint      NULL REFERENCES contribution_events (sequence),
            content_id      text        NOT NULL,
            at              timestamptz NOT NULL,
            CHECK ((kind = 'Add' AND add_sequence IS NULL) OR (kind = 'Subtract' AND add_sequence IS NOT NULL))
        );

        CREATE INDEX contribution_events_by_cohort ON contribution_events (cohort_id, sequence);

        -- The participant's active contribution: the sequence of its Add event (one row per participant at most).
        CREATE TABLE active_contributions (
            cohort_id      text   NOT NULL REFERENCES cohorts (cohort_id),
            participant_id text   NOT NULL,
            add_sequence   bigint NOT NULL REFERENCES contribution_events (sequence),
            content_id     text   NOT NULL,
            PRIMARY KEY (cohort_id, participant_id)
        );

        -- The fold is replaced on every save (compare-and-set), so it is kept inline rather than in blobs.
        CREATE TABLE cohort_aggregates (
            cohort_id        text    PRIMARY KEY REFERENCES cohorts (cohort_id),
            ciphertext       bytea   NULL,
            contributors     integer NOT NULL,
            through_sequence bigint  NOT NULL,
            version          bigint  NOT NULL
        );
        """,

        // 3: query jobs (IQueryJobStore): price quotes and the researcher's query jobs
        """
        -- A quote is used by at most one job (job_id, set when the job is created).
        CREATE TABLE quotes (
            quote_id      text             PRIMARY KEY,
            cohort_id     text             NOT NULL REFERENCES cohorts (cohort_id),
            researcher_id text             NOT NULL,
            kind          text             NOT NULL,
            request       text             NOT NULL,
            epsilon       double precision NOT NULL,
            delta         double precision NOT NULL,
            price_micros  bigint           NOT NULL,
            created_at    timestamptz      NOT NULL,
            expires_at    timestamptz      NOT NULL,
            job_id        text             NULL UNIQUE
        );

        -- seq gives the creation order; quote_id is UNIQUE as a second guard against a quote used twice.
        CREATE TABLE query_jobs (
            seq                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id                text        NOT NULL UNIQUE,
            quote_id              text        NOT NULL UNIQUE REFERENCES quotes (quote_id),
            cohort_id             text        NOT NULL REFERENCES cohorts (cohort_id),
            researcher_id         text        NOT NULL,
            idempotency_key       text        NULL,
            query_text            text        NOT NULL,
            researcher_public_key bytea       NOT NULL,
            state                 text        NOT NULL,
            message               text        NULL,
            data                  text        NULL,
            created_at            timestamptz NOT NULL,
            updated_at            timestamptz NOT NULL,
            version               bigint      NOT NULL
        );

        CREATE UNIQUE INDEX query_jobs_by_idempotency_key ON query_jobs (researcher_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL;

        CREATE INDEX query_jobs_by_cohort ON query_jobs (cohort_id, seq);
        """,

        // 4: scale-out (decision 0018): presence heartbeats of every node and leases with fencing tokens
        """
        CREATE TABLE presence (
            kind       text        NOT NULL,
            id         text        NOT NULL,
            node_id    text        NOT NULL,
            expires_at timestamptz NOT NULL,
            PRIMARY KEY (kind, id, node_id)
        );

        CREATE INDEX presence_by_node ON presence (node_id);
        CREATE INDEX presence_by_expiry ON presence (expires_at);

        -- token is the fencing token: strictly increasing per resource, bumped whenever the lease changes hands.
        CREATE TABLE leases (
            resource   text        PRIMARY KEY,
            owner      text        NULL,
            token      bigint      NOT NULL,
            expires_at timestamptz NOT NULL
        );
        """,

        // 5: privacy-budget spends recorded per query job, so that a repeated spend of one job debits the budget once
        """
        CREATE TABLE budget_spends (
            cohort_id text             NOT NULL,
            job_id    text             NOT NULL,
            epsilon   double precision NOT NULL,
            delta     double precision NOT NULL,
            PRIMARY KEY (cohort_id, job_id)
        );
        """,
    ];
}
