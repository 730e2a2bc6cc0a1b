using Microsoft.Data.Sqlite;
using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>The contract on a file database in a temporary directory, plus SQLite-specific checks.</summary>
[Collection(SqlitePoolsCollection.Name)]
public sealed class SqliteCoordinatorStoreTests : DurableCoordinatorStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ph-store-tests-" + Guid.NewGuid().ToString("N"));
    private int _databases;

    private string DatabasePath => Path.Combine(_directory, $"coordinator-{_databases}.db");

    protected override async Task<ICoordinatorStore> CreateStoreAsync()
    {
        _databases++;
        return await SqliteCoordinatorStore.CreateAsync(DatabasePath, Ct);
    }

    protected override async Task<ICoordinatorStore> ReopenStoreAsync() =>
        await SqliteCoordinatorStore.CreateAsync(DatabasePath, Ct);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Initialize_NewDatabase_RecordsEveryMigrationOnce()
    {
        var store = (SqliteCoordinatorStore)await NewStoreAsync();
        await store.InitializeAsync(Ct);
        await store.DisposeAsync();
        var reopened = (SqliteCoordinatorStore)await ReopenAsync();
        await reopened.InitializeAsync(Ct);

        Assert.Equal(SqliteCoordinatorStore.LatestSchemaVersion, await reopened.GetSchemaVersionAsync(Ct));
        Assert.Equal(SqliteCoordinatorStore.LatestSchemaVersion, ReadScalar<long>("SELECT COUNT(*) FROM schema_version;"));
        Assert.Equal(
            Enumerable.Range(1, SqliteCoordinatorStore.LatestSchemaVersion).Select(v => (long)v),
            ReadColumn<long>("SELECT version FROM schema_version ORDER BY version;"));
    }

    [Fact]
    public async Task Initialize_TwoInstancesConcurrently_BothSucceedAndMigrateOnce()
    {
        _databases++;
        await using var a = new SqliteCoordinatorStore(DatabasePath);
        await using var b = new SqliteCoordinatorStore(DatabasePath);

        await Task.WhenAll(a.InitializeAsync(Ct), b.InitializeAsync(Ct));

        Assert.Equal(SqliteCoordinatorStore.LatestSchemaVersion, ReadScalar<long>("SELECT COUNT(*) FROM schema_version;"));
    }

    [Fact]
    public async Task Initialize_DatabaseFromNewerVersion_Throws()
    {
        var store = await NewStoreAsync();
        await store.DisposeAsync();
        Execute($"INSERT INTO schema_version (version, applied_at) VALUES ({SqliteCoordinatorStore.LatestSchemaVersion + 1}, 0);");

        await using var newer = new SqliteCoordinatorStore(DatabasePath);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => newer.InitializeAsync(Ct));
        Assert.Contains("newer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Initialize_EnablesWalJournalMode()
    {
        await NewStoreAsync();

        Assert.Equal("wal", ReadScalar<string>("PRAGMA journal_mode;"));
        Assert.True(File.Exists(DatabasePath));
    }

    [Fact]
    public async Task CreateAsync_MissingDirectory_CreatesIt()
    {
        var path = Path.Combine(_directory, "nested", "deeper", "store.db");

        await using var store = await SqliteCoordinatorStore.CreateAsync(path, Ct);
        await store.CreateJobAsync(Job(), Ct);

        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task Methods_BeforeInitialize_ThrowInvalidOperation()
    {
        _databases++;
        await using var store = new SqliteCoordinatorStore(DatabasePath);

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
    public void Constructor_BadPath_ThrowsArgumentException(string? path) =>
        Assert.ThrowsAny<ArgumentException>(() => new SqliteCoordinatorStore(path!));

    [Fact]
    public async Task Timestamps_SubMillisecondPrecision_TruncatedToMillisecondsInUtc()
    {
        var store = await NewStoreAsync();
        var precise = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(-5)).AddTicks(1_234_567);

        await store.CreateJobAsync(Job() with { CreatedAt = precise }, Ct);

        var stored = (await store.GetJobAsync("job-1", Ct))!.CreatedAt;
        Assert.Equal(TimeSpan.Zero, stored.Offset);
        Assert.Equal(precise.ToUnixTimeMilliseconds(), stored.ToUnixTimeMilliseconds());
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 8, 4, 5, 123, TimeSpan.Zero), stored);
    }

    [Fact]
    public async Task SaveAnswer_UsesTimeProviderForAnsweredAt()
    {
        _databases++;
        var clock = new FixedClock(T0.AddDays(3));
        await using var store = new SqliteCoordinatorStore(DatabasePath, clock);
        await store.InitializeAsync(Ct);
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);

        await store.SaveAnswerAsync("t-1", 1, [1], Ct);

        Assert.Equal(T0.AddDays(3), (await store.GetTaskAsync("t-1", Ct))!.AnsweredAt);
    }

    [Fact]
    public async Task AddUpload_TwoStoreInstancesOnOneFile_ExactlyOneStoredPerParticipant()
    {
        // Two instances do not share the in-process write lock: BEGIN IMMEDIATE + busy timeout must serialize them.
        var first = await StoreWithOpenRoundAsync();
        var second = await ReopenAsync();

        var outcomes = await InParallelAsync(
            200,
            i => (i % 2 == 0 ? first : second).AddUploadAsync(Upload($"p-{i % 50}"), Ct));

        Assert.Equal(50, outcomes.Count(o => o == UploadOutcome.Stored));
        Assert.Equal(150, outcomes.Count(o => o == UploadOutcome.Duplicate));
        Assert.Equal(50, (await first.ListUploadsAsync("job-1", 0, Ct)).Count);
    }

    [Fact]
    public async Task UpdateJob_TwoStoreInstancesOnOneFile_ExactlyOneWins()
    {
        var first = await NewStoreAsync();
        var job = await first.CreateJobAsync(Job(), Ct);
        var second = await ReopenAsync();

        var results = await InParallelAsync(40, i => (i % 2 == 0 ? first : second).UpdateJobAsync(job with { CurrentRound = i }, Ct));

        Assert.Single(results, r => r is not null);
    }

    [Fact]
    public async Task CommittedWrites_InFilesCopiedWhileOpen_SurviveSimulatedCrash()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);
        await store.PutArtifactAsync("s", "n", [1], Ct);

        // Copy the database and its WAL as a crash would leave them (store still open, nothing checkpointed on close).
        var crashed = Path.Combine(_directory, "crashed", "coordinator.db");
        Directory.CreateDirectory(Path.GetDirectoryName(crashed)!);
        File.Copy(DatabasePath, crashed);
        if (File.Exists(DatabasePath + "-wal"))
        {
            File.Copy(DatabasePath + "-wal", crashed + "-wal");
        }

        await using var recovered = await SqliteCoordinatorStore.CreateAsync(crashed, Ct);

        Assert.Single(await recovered.ListUploadsAsync("job-1", 0, Ct));
        Assert.Equal([1], await recovered.GetArtifactAsync("s", "n", Ct));
    }

    [Fact]
    public async Task Dispose_ClosesEveryConnectionToTheFile()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Needs /proc/self/fd.");
        var store = await StoreWithOpenRoundAsync();
        await InParallelAsync(16, i => store.AddUploadAsync(Upload($"p-{i}"), Ct));
        await InParallelAsync(16, _ => store.ListUploadsAsync("job-1", 0, Ct));
        Assert.NotEmpty(OpenHandles());

        await store.DisposeAsync();

        Assert.Empty(OpenHandles());
    }

    private List<string> OpenHandles() =>
        [.. new DirectoryInfo("/proc/self/fd").EnumerateFiles()
            .Select(fd => fd.LinkTarget)
            .OfType<string>()
            .Where(target => target.StartsWith(DatabasePath, StringComparison.Ordinal))];

    [Fact]
    public async Task ForeignKeys_AreEnforced()
    {
        await NewStoreAsync();

        var error = Assert.Throws<SqliteException>(
            () => Execute("PRAGMA foreign_keys = ON; INSERT INTO rounds VALUES ('ghost', 0, 'Open', '[]', 0, 0, NULL, 0, 0, NULL, NULL, 1);"));
        Assert.Contains("FOREIGN KEY", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encoding_Blobs_RoundTripAndRejectCorruption()
    {
        byte[][] items = [[1, 2, 3], [], [255]];
        var encoded = SqliteEncoding.EncodeBlobs(items);

        Assert.Equal(4 + (4 + 3) + 4 + (4 + 1), encoded.Length);
        Assert.Equal(items, SqliteEncoding.DecodeBlobs(encoded));
        Assert.Empty(SqliteEncoding.DecodeBlobs(SqliteEncoding.EncodeBlobs([])));
        Assert.Throws<InvalidDataException>(() => SqliteEncoding.DecodeBlobs(encoded.AsSpan(0, encoded.Length - 1)));
        Assert.Throws<InvalidDataException>(() => SqliteEncoding.DecodeBlobs([.. encoded, 0]));
        Assert.Throws<InvalidDataException>(() => SqliteEncoding.DecodeBlobs([1, 2]));
    }

    [Fact]
    public void Encoding_Doubles_LittleEndianBitExact()
    {
        double[] values = [1.0, -0.0, double.NaN, double.NegativeInfinity];
        var encoded = SqliteEncoding.EncodeDoubles(values);

        Assert.Equal([0, 0, 0, 0, 0, 0, 0xF0, 0x3F], encoded[..8]);
        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), SqliteEncoding.DecodeDoubles(encoded).Select(BitConverter.DoubleToInt64Bits));
        Assert.Throws<InvalidDataException>(() => SqliteEncoding.DecodeDoubles([1, 2, 3]));
    }

    private T ReadScalar<T>(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)command.ExecuteScalar()!;
    }

    private List<T> ReadColumn<T>(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<T>();
        while (reader.Read())
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

/// <summary>The contract (without the durability part) on the single-connection <c>":memory:"</c> mode.</summary>
public sealed class InMemorySqliteCoordinatorStoreTests : CoordinatorStoreContract
{
    protected override async Task<ICoordinatorStore> CreateStoreAsync() =>
        await SqliteCoordinatorStore.CreateAsync(":memory:", Ct);

    [Fact]
    public async Task InMemory_TwoStores_AreIndependent()
    {
        var a = await NewStoreAsync();
        var b = await NewStoreAsync();

        await a.CreateJobAsync(Job(), Ct);

        Assert.Empty(await b.ListJobsAsync(Ct));
    }
}

/// <summary>The cohort contract (<see cref="ICohortStore"/>) on a file database, plus SQLite-specific checks.</summary>
[Collection(SqlitePoolsCollection.Name)]
public sealed class SqliteCohortStoreTests : DurableCohortStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ph-cohort-tests-" + Guid.NewGuid().ToString("N"));
    private int _databases;

    private string DatabasePath => Path.Combine(_directory, $"coordinator-{_databases}.db");

    protected override async Task<ICohortStore> CreateStoreAsync()
    {
        _databases++;
        return await SqliteCoordinatorStore.CreateAsync(DatabasePath, Ct);
    }

    protected override async Task<ICohortStore> ReopenStoreAsync() =>
        await SqliteCoordinatorStore.CreateAsync(DatabasePath, Ct);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task TrySpendBudget_TwoStoreInstancesOnOneFile_ExactlyTheAffordableNumberSucceed()
    {
        // Two instances do not share the in-process write lock: the single conditional UPDATE must still be atomic.
        var first = await StoreWithCohortAsync(epsilon: 1.0);
        var second = await ReopenAsync();

        var results = await InParallelAsync(60, i => (i % 2 == 0 ? first : second).TrySpendBudgetAsync("c-1", $"qj-{i}", 0.1, 0, Ct));

        Assert.Equal(10, results.Count(r => r));
        Assert.Equal(1.0, (await second.GetCohortAsync("c-1", Ct))!.EpsilonSpent, 9);
    }

    [Fact]
    public async Task AddContribution_TwoStoreInstancesOnOneFile_LedgerStaysConsistent()
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
    public async Task SubtractEvent_StoresNoCopyOfTheCiphertext()
    {
        var store = await StoreWithCohortAsync();
        await AddAsync(store, "p-1", 10);
        await AddAsync(store, "p-1", 11);
        await store.RevokeContributionAsync("c-1", "p-1", T0, Ct);

        Assert.Equal(2L, ReadScalar<long>("SELECT COUNT(*) FROM contribution_events WHERE ciphertext IS NOT NULL;"));
        Assert.Equal(2L, ReadScalar<long>("SELECT COUNT(*) FROM contribution_events WHERE kind = 'Subtract' AND add_sequence IS NOT NULL;"));
        Assert.Equal(0L, ReadScalar<long>("SELECT COUNT(*) FROM active_contributions;"));
    }

    [Fact]
    public async Task Migration2_OnADatabaseAtVersion1_AddsTheCohortTablesAndKeepsTheData()
    {
        var store = (SqliteCoordinatorStore)await NewStoreAsync();
        await store.CreateJobAsync(new JobRecord
        {
            JobId = "job-1",
            KeySetId = "ks-1",
            Spec = [1],
            State = JobState.Pending,
            GlobalModel = [0.5],
            CreatedAt = T0,
            UpdatedAt = T0,
        }, Ct);
        await store.DisposeAsync();
        // Back to version 1: drop what migrations 2 and 3 created and forget that they ran.
        Execute(
            """
            DROP TABLE budget_spends; DROP TABLE leases; DROP TABLE presence; DROP TABLE query_jobs; DROP TABLE quotes;
            DROP TABLE cohort_aggregates; DROP TABLE active_contributions; DROP TABLE contribution_events; DROP TABLE cohorts;
            DELETE FROM schema_version WHERE version >= 2;
            """);

        var upgraded = (SqliteCoordinatorStore)await ReopenAsync();

        Assert.Equal(SqliteCoordinatorStore.LatestSchemaVersion, await upgraded.GetSchemaVersionAsync(Ct));
        Assert.NotNull(await upgraded.GetJobAsync("job-1", Ct));
        await upgraded.CreateCohortAsync(Cohort(), Ct);
        Assert.Equal(ContributionOutcome.Stored, await AddAsync(upgraded, "p-1", 1));
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

    private T ReadScalar<T>(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)command.ExecuteScalar()!;
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

/// <summary>The cohort contract (without the durability part) on the single-connection <c>":memory:"</c> mode.</summary>
public sealed class InMemorySqliteCohortStoreTests : CohortStoreContract
{
    protected override async Task<ICohortStore> CreateStoreAsync() =>
        await SqliteCoordinatorStore.CreateAsync(":memory:", Ct);
}

/// <summary>The query-job contract (<see cref="IQueryJobStore"/>) on a file database, plus SQLite-specific checks.</summary>
[Collection(SqlitePoolsCollection.Name)]
public sealed class SqliteQueryJobStoreTests : DurableQueryJobStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ph-query-job-tests-" + Guid.NewGuid().ToString("N"));
    private int _databases;

    private string DatabasePath => Path.Combine(_directory, $"coordinator-{_databases}.db");

    protected override async Task<IQueryJobStore> CreateStoreAsync()
    {
        _databases++;
        return await SqliteCoordinatorStore.CreateAsync(DatabasePath, Ct);
    }

    protected override async Task<IQueryJobStore> ReopenStoreAsync() =>
        await SqliteCoordinatorStore.CreateAsync(DatabasePath, Ct);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task CreateQueryJob_TwoStoreInstancesOnOneFile_ExactlyOneCreatedPerQuote()
    {
        // Two instances do not share the in-process write lock: BEGIN IMMEDIATE + busy timeout must serialize them.
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
    public async Task CreateQueryJob_EmptyIdempotencyKey_MeansNoKey()
    {
        var store = await StoreWithQuoteAsync();
        await store.CreateQuoteAsync(Quote("q-2"), Ct);

        var first = await store.CreateQueryJobAsync(Job("qj-1", key: ""), Now, Ct);
        var second = await store.CreateQueryJobAsync(Job("qj-2", quote: "q-2", key: ""), Now, Ct);

        Assert.Equal(CreateQueryJobOutcome.Created, first.Outcome);
        Assert.Equal(CreateQueryJobOutcome.Created, second.Outcome);
        Assert.Null(first.Job!.IdempotencyKey);
        Assert.Equal(0L, ReadScalar<long>("SELECT COUNT(*) FROM query_jobs WHERE idempotency_key IS NOT NULL;"));
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
        Assert.Equal(TimeSpan.Zero, quote.CreatedAt.Offset);
        Assert.Equal(expected.AddHours(1), quote.ExpiresAt);
        Assert.Equal(expected, job!.CreatedAt);
        Assert.Equal(TimeSpan.Zero, job.UpdatedAt.Offset);
    }

    [Fact]
    public async Task Migration3_OnADatabaseAtVersion2_AddsTheQueryJobTablesAndKeepsTheData()
    {
        var store = (SqliteCoordinatorStore)await NewStoreAsync();
        await SeedCohortAsync(store, "c-1");
        await store.DisposeAsync();
        // Back to version 2: drop what migration 3 created and forget that it ran.
        Execute("DROP TABLE budget_spends; DROP TABLE leases; DROP TABLE presence; DROP TABLE query_jobs; DROP TABLE quotes; DELETE FROM schema_version WHERE version >= 3;");

        var upgraded = (SqliteCoordinatorStore)await ReopenAsync();

        Assert.True(SqliteCoordinatorStore.LatestSchemaVersion >= 3);
        Assert.Equal(SqliteCoordinatorStore.LatestSchemaVersion, await upgraded.GetSchemaVersionAsync(Ct));
        Assert.NotNull(await upgraded.GetCohortAsync("c-1", Ct));
        await upgraded.CreateQuoteAsync(Quote(), Ct);
        Assert.Equal(CreateQueryJobOutcome.Created, (await upgraded.CreateQueryJobAsync(Job(), Now, Ct)).Outcome);
    }

    [Fact]
    public async Task QuoteUsedTwice_IsRejectedByTheSchemaToo()
    {
        await CreateJobWithQuoteAsync(await StoreWithQuoteAsync(), Quote("q-2"), Job("qj-1", quote: "q-2"));

        var error = Assert.Throws<SqliteException>(
            () => Execute(
                """
                INSERT INTO query_jobs (job_id, quote_id, cohort_id, researcher_id, query_text, researcher_public_key, state,
                    created_at, updated_at, version)
                VALUES ('qj-2', 'q-2', 'c-1', 'r-1', 'x', x'00', 'pending', 0, 0, 1);
                """));
        Assert.Contains("UNIQUE", error.Message, StringComparison.Ordinal);
    }

    private T ReadScalar<T>(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)command.ExecuteScalar()!;
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

/// <summary>The query-job contract (without the durability part) on the single-connection <c>":memory:"</c> mode.</summary>
public sealed class InMemorySqliteQueryJobStoreTests : QueryJobStoreContract
{
    protected override async Task<IQueryJobStore> CreateStoreAsync() =>
        await SqliteCoordinatorStore.CreateAsync(":memory:", Ct);
}
