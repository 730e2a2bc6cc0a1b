using Npgsql;
using PrivateHealth.Coordinator.Storage.Postgres;
using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The contract on PostgreSQL (a fresh schema per store on the shared test server, see <see cref="Testing.PostgresServer"/>),
/// plus PostgreSQL-specific checks: migrations, several store instances acting as several coordinator nodes, blobs.
/// </summary>
public sealed class PostgresCoordinatorStoreTests : DurableCoordinatorStoreContract
{
    private readonly PostgresTestSchemas _db = new();

    protected override async Task<ICoordinatorStore> CreateStoreAsync() => await _db.CreateStoreAsync(Ct);

    protected override async Task<ICoordinatorStore> ReopenStoreAsync() => await _db.ReopenStoreAsync(Ct);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task Initialize_NewSchema_RecordsEveryMigrationOnce()
    {
        var store = (PostgresCoordinatorStore)await NewStoreAsync();
        await store.InitializeAsync(Ct);
        await store.DisposeAsync();
        var reopened = (PostgresCoordinatorStore)await ReopenAsync();
        await reopened.InitializeAsync(Ct);

        Assert.Equal(5, PostgresCoordinatorStore.LatestSchemaVersion);
        Assert.Equal(SqliteCoordinatorStore.LatestSchemaVersion, PostgresCoordinatorStore.LatestSchemaVersion);
        Assert.Equal(PostgresCoordinatorStore.LatestSchemaVersion, await reopened.GetSchemaVersionAsync(Ct));
        Assert.Equal(
            Enumerable.Range(1, PostgresCoordinatorStore.LatestSchemaVersion),
            await _db.ColumnAsync<int>("SELECT version FROM schema_version ORDER BY version;"));
    }

    [Fact]
    public async Task Initialize_MissingSchema_CreatesIt()
    {
        var schema = await _db.NewSchemaAsync();

        await using var store = await PostgresCoordinatorStore.CreateAsync(_db.ConnectionString, schema, Ct);
        await store.CreateJobAsync(Job(), Ct);

        Assert.Equal(1L, await _db.ScalarAsync<long>("SELECT COUNT(*) FROM jobs;"));
        Assert.Equal(schema, await _db.ScalarAsync<string>("SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'jobs' AND table_schema LIKE 'ph_test_%' AND table_schema = current_schema();"));
    }

    [Fact]
    public async Task Initialize_FourNodesConcurrently_AllSucceedAndMigrateOnce()
    {
        await _db.NewSchemaAsync();
        var nodes = Enumerable.Range(0, 4).Select(_ => _db.Open()).ToArray();
        try
        {
            await Task.WhenAll(nodes.Select(n => Task.Run(() => n.InitializeAsync(Ct), Ct)));

            Assert.Equal(PostgresCoordinatorStore.LatestSchemaVersion, (int)await _db.ScalarAsync<long>("SELECT COUNT(*) FROM schema_version;"));
            foreach (var node in nodes)
            {
                Assert.Equal(PostgresCoordinatorStore.LatestSchemaVersion, await node.GetSchemaVersionAsync(Ct));
            }

            await nodes[0].CreateJobAsync(Job(), Ct);
            Assert.NotNull(await nodes[3].GetJobAsync("job-1", Ct));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Initialize_DatabaseFromNewerVersion_Throws()
    {
        var store = await NewStoreAsync();
        await store.DisposeAsync();
        await _db.ExecuteAsync($"INSERT INTO schema_version (version, applied_at) VALUES ({PostgresCoordinatorStore.LatestSchemaVersion + 1}, now());");

        await using var newer = _db.Open();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => newer.InitializeAsync(Ct));
        Assert.Contains("newer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migration2And3_OnASchemaAtVersion1_AddTheirTablesAndKeepTheData()
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);
        await store.DisposeAsync();
        await _db.ExecuteAsync(
            """
            DROP TABLE budget_spends, leases, presence, query_jobs, quotes, cohort_aggregates, active_contributions, contribution_events, cohorts;
            DELETE FROM schema_version WHERE version >= 2;
            """);

        var upgraded = (PostgresCoordinatorStore)await ReopenAsync();

        Assert.Equal(PostgresCoordinatorStore.LatestSchemaVersion, await upgraded.GetSchemaVersionAsync(Ct));
        Assert.NotNull(await upgraded.GetJobAsync("job-1", Ct));
        await upgraded.CreateCohortAsync(new CohortRecord { CohortId = "c-1", KeySetId = "ks", SchemaJson = "{}", State = "open" }, Ct);
        Assert.Equal(ContributionOutcome.Stored, await upgraded.AddContributionAsync("c-1", "p-1", [1], "cid", T0, Ct));
    }

    [Fact]
    public async Task Methods_BeforeInitialize_ThrowInvalidOperation()
    {
        await _db.NewSchemaAsync();
        await using var store = _db.Open();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetJobAsync("job-1", Ct));
        Assert.Contains("InitializeAsync", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateJobAsync(Job(), Ct));
    }

    [Fact]
    public async Task Methods_AfterDispose_ThrowObjectDisposed()
    {
        var store = await NewStoreAsync();
        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.GetJobAsync("job-1", Ct));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.CreateJobAsync(Job(), Ct));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.InitializeAsync(Ct));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData(null)]
    public void Constructor_BadConnectionString_ThrowsArgumentException(string? connectionString) =>
        Assert.ThrowsAny<ArgumentException>(() => new PostgresCoordinatorStore(connectionString!));

    [Theory]
    [InlineData("")]
    [InlineData("Upper")]
    [InlineData("a;drop")]
    [InlineData("1abc")]
    [InlineData("with\"quote")]
    public void Constructor_BadSchemaName_ThrowsArgumentException(string schema)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new PostgresCoordinatorStore("Host=127.0.0.1", schema));
        Assert.Equal("schema", error.ParamName);
    }

    [Fact]
    public async Task Timestamps_SubMillisecondPrecision_TruncatedToMillisecondsInUtc()
    {
        var store = await NewStoreAsync();
        var precise = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(-5)).AddTicks(1_234_567);

        await store.CreateJobAsync(Job() with { CreatedAt = precise }, Ct);

        var stored = (await store.GetJobAsync("job-1", Ct))!.CreatedAt;
        Assert.Equal(TimeSpan.Zero, stored.Offset);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 8, 4, 5, 123, TimeSpan.Zero), stored);
    }

    [Fact]
    public async Task SaveAnswer_UsesTimeProviderForAnsweredAt()
    {
        await NewStoreAsync();
        await using var store = _db.Open(new FixedClock(T0.AddDays(3)));
        await store.InitializeAsync(Ct);
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);

        await store.SaveAnswerAsync("t-1", 1, [1], Ct);

        Assert.Equal(T0.AddDays(3), (await store.GetTaskAsync("t-1", Ct))!.AnsweredAt);
    }

    [Fact]
    public async Task AddUpload_TwoNodesSameUploadConcurrently_CountedOnce()
    {
        var first = await StoreWithOpenRoundAsync();
        var second = await ReopenAsync();

        var outcomes = await InParallelAsync(100, i => (i % 2 == 0 ? first : second).AddUploadAsync(Upload("p-1"), Ct));

        Assert.Equal(1, outcomes.Count(o => o == UploadOutcome.Stored));
        Assert.Equal(99, outcomes.Count(o => o == UploadOutcome.Duplicate));
        Assert.Single(await second.ListUploadsAsync("job-1", 0, Ct));
        Assert.Equal(1L, await _db.ScalarAsync<long>("SELECT COUNT(*) FROM uploads;"));
    }

    [Fact]
    public async Task AddUpload_TwoNodes_ExactlyOneStoredPerParticipant()
    {
        var first = await StoreWithOpenRoundAsync();
        var second = await ReopenAsync();

        var outcomes = await InParallelAsync(
            200,
            i => (i % 2 == 0 ? first : second).AddUploadAsync(Upload($"p-{i % 50}", seed: (byte)(i % 50)), Ct));

        Assert.Equal(50, outcomes.Count(o => o == UploadOutcome.Stored));
        Assert.Equal(150, outcomes.Count(o => o == UploadOutcome.Duplicate));
        Assert.Equal(50, (await first.ListUploadsAsync("job-1", 0, Ct)).Count);
    }

    [Fact]
    public async Task AddUpload_TwoNodesRacingTheClose_IncludedUploadsEqualsEveryStoredUpload()
    {
        var first = await StoreWithOpenRoundAsync();
        var second = await ReopenAsync();
        var open = await first.GetRoundAsync("job-1", 0, Ct);

        var uploads = InParallelAsync(120, i => (i % 2 == 0 ? first : second).AddUploadAsync(Upload($"p-{i}"), Ct));
        await Task.Delay(20, Ct);
        var closed = await second.UpdateRoundAsync(open! with { State = RoundState.Closed }, Ct);
        var outcomes = await uploads;

        var stored = outcomes.Count(o => o == UploadOutcome.Stored);
        Assert.Equal(120, stored + outcomes.Count(o => o == UploadOutcome.RoundNotOpen));
        Assert.Equal(stored, closed!.IncludedUploads);
        Assert.Equal(stored, (await first.ListUploadsAsync("job-1", 0, Ct)).Count);
    }

    [Fact]
    public async Task UpdateJob_TwoNodes_ExactlyOneWins()
    {
        var first = await NewStoreAsync();
        var job = await first.CreateJobAsync(Job(), Ct);
        var second = await ReopenAsync();

        var results = await InParallelAsync(40, i => (i % 2 == 0 ? first : second).UpdateJobAsync(job with { CurrentRound = i }, Ct));

        Assert.Single(results, r => r is not null);
    }

    [Fact]
    public async Task CreateJob_TwoNodesSameIdempotencyKey_OneJob()
    {
        var first = await NewStoreAsync();
        var second = await ReopenAsync();

        var results = await InParallelAsync(40, i => (i % 2 == 0 ? first : second).CreateJobAsync(Job($"job-{i}", "key-a"), Ct));

        var job = Assert.Single(await first.ListJobsAsync(Ct));
        Assert.All(results, r => Assert.Equal(job.JobId, r.JobId));
    }

    [Fact]
    public async Task UpsertCustodian_TwoNodesSamePartyDifferentIds_OneRegisteredOthersConflict()
    {
        var first = await NewStoreAsync();
        var second = await ReopenAsync();

        var results = await InParallelAsync(
            20,
            async i =>
            {
                try
                {
                    await (i % 2 == 0 ? first : second).UpsertCustodianAsync(Custodian($"cu-{i}", 1), Ct);
                    return true;
                }
                catch (StoreConflictException)
                {
                    return false;
                }
            });

        Assert.Single(results, r => r);
        Assert.Single(await first.ListCustodiansAsync(Ct));
    }

    [Fact]
    public async Task Blobs_IdenticalCiphertexts_WrittenOnce()
    {
        var store = await StoreWithOpenRoundAsync();

        // Ten participants upload the same three ciphertexts ([1,1,2,3], [1,4], []); the accumulator repeats one.
        await InParallelAsync(10, i => store.AddUploadAsync(Upload($"p-{i}", seed: 1), Ct));
        await store.SaveAccumulatorAsync(new AccumulatorRecord { JobId = "job-1", Round = 0, Ciphertexts = [[1, 4], [1, 4], [9]], UploadCount = 10 }, Ct);

        Assert.Equal(4L, await _db.ScalarAsync<long>("SELECT COUNT(*) FROM blobs;"));
        Assert.Equal(10, (await store.ListUploadsAsync("job-1", 0, Ct)).Count);
        Assert.All(await store.ListUploadsAsync("job-1", 0, Ct), u => AssertUpload(Upload(u.ParticipantId, seed: 1), u));
        var accumulator = await store.GetAccumulatorAsync("job-1", 0, Ct);
        Assert.Equal([[1, 4], [1, 4], [9]], accumulator!.Ciphertexts);
        Assert.True(await _db.ScalarAsync<bool>("SELECT bool_and(hash = sha256(data)) FROM blobs;"));
    }

    [Fact]
    public async Task Blobs_ConflictingUpload_LeavesNoBlobBehind()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1", seed: 1), Ct);
        var before = await _db.ScalarAsync<long>("SELECT COUNT(*) FROM blobs;");

        Assert.Equal(UploadOutcome.Conflict, await store.AddUploadAsync(Upload("p-1", seed: 2), Ct));
        Assert.Equal(UploadOutcome.RoundNotOpen, await store.AddUploadAsync(Upload("p-2", round: 7, seed: 3), Ct));

        Assert.Equal(before, await _db.ScalarAsync<long>("SELECT COUNT(*) FROM blobs;"));
    }

    [Fact]
    public async Task Blobs_MissingBlob_ReadFailsAsCorrupt()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);
        await _db.ExecuteAsync("DELETE FROM blobs WHERE data = '\\x0104'::bytea;");

        await Assert.ThrowsAsync<InvalidDataException>(() => store.ListUploadsAsync("job-1", 0, Ct));
    }

    [Fact]
    public async Task ForeignKeys_AreEnforced()
    {
        await NewStoreAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(
            () => _db.ExecuteAsync("INSERT INTO rounds VALUES ('ghost', 0, 'Open', '{}', now(), now(), NULL, 0, 0, NULL, NULL, 1);"));
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, error.SqlState);
    }

    [Fact]
    public void TestServer_WithoutPostgresBinaries_FailsWithInstallHint()
    {
        var error = Assert.Throws<InvalidOperationException>(
            () => Testing.PostgresServer.Start(existing: null, path: "/nonexistent-bin", debianRoot: "/nonexistent-postgresql"));

        Assert.Contains("apt-get install postgresql", error.Message, StringComparison.Ordinal);
        Assert.Contains(Testing.PostgresServer.EnvironmentVariable, error.Message, StringComparison.Ordinal);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

/// <summary>The cohort contract (<see cref="ICohortStore"/>) on PostgreSQL, plus PostgreSQL-specific checks.</summary>
public sealed class PostgresCohortStoreTests : DurableCohortStoreContract
{
    private readonly PostgresTestSchemas _db = new();

    protected override async Task<ICohortStore> CreateStoreAsync() => await _db.CreateStoreAsync(Ct);

    protected override async Task<ICohortStore> ReopenStoreAsync() => await _db.ReopenStoreAsync(Ct);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task TrySpendBudget_TwoNodes_ExactlyTheAffordableNumberSucceed()
    {
        var first = await StoreWithCohortAsync(epsilon: 1.0);
        var second = await ReopenAsync();

        var results = await InParallelAsync(60, i => (i % 2 == 0 ? first : second).TrySpendBudgetAsync("c-1", $"qj-{i}", 0.1, 0, Ct));

        Assert.Equal(10, results.Count(r => r));
        Assert.Equal(1.0, (await second.GetCohortAsync("c-1", Ct))!.EpsilonSpent, 9);
    }

    [Fact]
    public async Task AddContribution_TwoNodes_LedgerStaysConsistent()
    {
        var first = await StoreWithCohortAsync();
        var second = await ReopenAsync();

        var outcomes = await InParallelAsync(80, i => AddAsync(i % 2 == 0 ? first : second, $"p-{i % 8}", i % 3));

        Assert.Equal(8, outcomes.Count(o => o == ContributionOutcome.Stored));
        var active = Fold(await AllEventsAsync(first, pageSize: 5));
        Assert.Equal(8, active.Count);
        Assert.Equal(8, await second.CountActiveContributionsAsync("c-1", Ct));
    }

    [Fact]
    public async Task Events_ReferenceOneBlobPerCiphertext_SubtractStoresNoCopy()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        await AddAsync(store, "p-1", 11);
        await AddAsync(store, "p-2", 11);
        await store.RevokeContributionAsync("c-1", "p-1", T0, Ct);

        Assert.Equal(2L, await _db.ScalarAsync<long>("SELECT COUNT(*) FROM blobs;"));
        Assert.Equal(2L, await _db.ScalarAsync<long>("SELECT COUNT(*) FROM contribution_events WHERE kind = 'Subtract' AND add_sequence IS NOT NULL;"));
        Assert.Equal(1L, await _db.ScalarAsync<long>("SELECT COUNT(*) FROM active_contributions;"));
        Assert.Equal(new Dictionary<string, string> { ["p-2"] = ContentId(Ciphertext(11)) }, Fold(await AllEventsAsync(store)));
    }

    [Fact]
    public async Task Timestamps_AtOfEvents_TruncatedToMillisecondsInUtc()
    {
        var store = await StoreWithCohortAsync();
        var precise = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)).AddTicks(1_234_567);

        await store.AddContributionAsync("c-1", "p-1", [1], "cid", precise, Ct);

        var at = Assert.Single(await store.ListContributionEventsAsync("c-1", 0, 10, Ct)).At;
        Assert.Equal(TimeSpan.Zero, at.Offset);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 1, 4, 5, 123, TimeSpan.Zero), at);
    }
}

/// <summary>The query-job contract (<see cref="IQueryJobStore"/>) on PostgreSQL, plus PostgreSQL-specific checks.</summary>
public sealed class PostgresQueryJobStoreTests : DurableQueryJobStoreContract
{
    private readonly PostgresTestSchemas _db = new();

    protected override async Task<IQueryJobStore> CreateStoreAsync() => await _db.CreateStoreAsync(Ct);

    protected override async Task<IQueryJobStore> ReopenStoreAsync() => await _db.ReopenStoreAsync(Ct);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task CreateQueryJob_TwoNodes_ExactlyOneCreatedPerQuote()
    {
        var first = await StoreWithQuoteAsync();
        await first.CreateQuoteAsync(Quote("q-2"), Ct);
        var second = await ReopenAsync();

        var results = await InParallelAsync(
            40,
            i => (i % 2 == 0 ? first : second).CreateQueryJobAsync(Job($"qj-{i}", quote: i < 20 ? "q-1" : "q-2"), Now, Ct));

        Assert.Equal(2, results.Count(r => r.Outcome == CreateQueryJobOutcome.Created));
        Assert.Equal(38, results.Count(r => r.Outcome == CreateQueryJobOutcome.QuoteUsed));
        Assert.Equal(2, (await second.ListQueryJobsAsync(cancellationToken: Ct)).Count);
    }

    [Fact]
    public async Task CreateQueryJob_TwoNodesOneKeyOnDifferentQuotes_OneCreatedRestExisting()
    {
        var first = await StoreWithQuoteAsync();
        for (var i = 0; i < 10; i++)
        {
            await first.CreateQuoteAsync(Quote($"q-k{i}"), Ct);
        }

        var second = await ReopenAsync();

        var results = await InParallelAsync(
            10,
            i => (i % 2 == 0 ? first : second).CreateQueryJobAsync(Job($"qj-{i}", quote: $"q-k{i}", key: "k-1"), Now, Ct));

        var created = Assert.Single(results, r => r.Outcome == CreateQueryJobOutcome.Created);
        Assert.Equal(9, results.Count(r => r.Outcome == CreateQueryJobOutcome.Existing));
        Assert.All(results, r => Assert.Equal(created.Job!.JobId, r.Job!.JobId));
        Assert.Single(await first.ListQueryJobsAsync(cancellationToken: Ct));
    }

    [Fact]
    public async Task CreateQueryJob_EmptyIdempotencyKey_StoredAsNull()
    {
        var store = await StoreWithQuoteAsync();
        await store.CreateQuoteAsync(Quote("q-2"), Ct);

        var first = await store.CreateQueryJobAsync(Job("qj-1", key: ""), Now, Ct);
        var second = await store.CreateQueryJobAsync(Job("qj-2", quote: "q-2", key: ""), Now, Ct);

        Assert.Equal(CreateQueryJobOutcome.Created, first.Outcome);
        Assert.Equal(CreateQueryJobOutcome.Created, second.Outcome);
        Assert.Equal(0L, await _db.ScalarAsync<long>("SELECT COUNT(*) FROM query_jobs WHERE idempotency_key IS NOT NULL;"));
    }

    [Fact]
    public async Task QuoteUsedTwice_IsRejectedByTheSchemaToo()
    {
        await CreateJobWithQuoteAsync(await StoreWithQuoteAsync(), Quote("q-2"), Job("qj-1", quote: "q-2"));

        var error = await Assert.ThrowsAsync<PostgresException>(
            () => _db.ExecuteAsync(
                """
                INSERT INTO query_jobs (job_id, quote_id, cohort_id, researcher_id, query_text, researcher_public_key, state,
                    created_at, updated_at, version)
                VALUES ('qj-2', 'q-2', 'c-1', 'r-1', 'x', '\x00', 'pending', now(), now(), 1);
                """));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, error.SqlState);
    }

    [Fact]
    public async Task Timestamps_OfQuotesAndJobs_TruncatedToMillisecondsInUtc()
    {
        var store = await NewStoreAsync();
        await SeedCohortAsync(store, "c-1");
        var precise = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)).AddTicks(1_234_567);
        var expected = new DateTimeOffset(2026, 1, 2, 1, 4, 5, 123, TimeSpan.Zero);

        await store.CreateQuoteAsync(Quote() with { CreatedAt = precise, ExpiresAt = precise.AddHours(1) }, Ct);
        var (job, _) = await store.CreateQueryJobAsync(Job() with { CreatedAt = precise, UpdatedAt = precise }, precise, Ct);

        var quote = await store.GetQuoteAsync("q-1", Ct);
        Assert.Equal(expected, quote!.CreatedAt);
        Assert.Equal(expected.AddHours(1), quote.ExpiresAt);
        Assert.Equal(expected, job!.CreatedAt);
        Assert.Equal(TimeSpan.Zero, job.UpdatedAt.Offset);
    }
}
