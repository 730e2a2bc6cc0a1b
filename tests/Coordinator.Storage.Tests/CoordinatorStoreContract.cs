using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="ICoordinatorStore"/> must have. An implementation's test class derives from this
/// and supplies <see cref="CreateStoreAsync"/> (a fresh, empty, initialized store) and <see cref="ReopenStoreAsync"/>
/// (a new, initialized instance over the same database as the last created store).
/// </summary>
public abstract partial class CoordinatorStoreContract : IAsyncLifetime
{
    /// <summary>A millisecond-precise instant (stores may keep only milliseconds).</summary>
    protected static readonly DateTimeOffset T0 = new(2026, 3, 4, 5, 6, 7, 891, TimeSpan.Zero);

    private readonly List<ICoordinatorStore> _opened = [];

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Creates a fresh, empty store and initializes it.</summary>
    protected abstract Task<ICoordinatorStore> CreateStoreAsync();

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary><see cref="CreateStoreAsync"/>, disposed after the test.</summary>
    protected async Task<ICoordinatorStore> NewStoreAsync()
    {
        var store = await CreateStoreAsync();
        _opened.Add(store);
        return store;
    }

    /// <summary>Disposes <paramref name="store"/> after the test.</summary>
    protected ICoordinatorStore Track(ICoordinatorStore store)
    {
        _opened.Add(store);
        return store;
    }

    // ---- builders

    protected static JobRecord Job(string id = "job-1", string? idempotencyKey = null) => new()
    {
        JobId = id,
        KeySetId = "ks-1",
        Spec = [1, 2, 3, 0, 255],
        State = JobState.Pending,
        CurrentRound = 0,
        GlobalModel = [0.5, -1.25, double.NaN, -0.0, double.PositiveInfinity, double.Epsilon, 1e300],
        StrategyState = [9, 8, 7],
        Message = "created",
        IdempotencyKey = idempotencyKey,
        CreatedAt = T0,
        UpdatedAt = T0.AddSeconds(1),
        Version = 0,
    };

    protected static RoundRecord Round(string jobId = "job-1", int round = 0, RoundState state = RoundState.Open) => new()
    {
        JobId = jobId,
        Round = round,
        State = state,
        Selected = ["p-1", "p-2", "p-3"],
        OpenedAt = T0,
        Deadline = T0.AddMinutes(5),
        MinimumReachedAt = null,
        Extensions = 0,
        IncludedUploads = 0,
        Message = null,
        Data = """{"session":"s-1"}""",
        Version = 0,
    };

    protected static UploadRecord Upload(string participant, string jobId = "job-1", int round = 0, byte seed = 1) => new()
    {
        JobId = jobId,
        Round = round,
        ParticipantId = participant,
        Ciphertexts = [[seed, 1, 2, 3], [seed, 4], []],
        ContentIds = [$"cid-{seed}-0", $"cid-{seed}-1", $"cid-{seed}-2"],
        Bytes = 6,
        ReceivedAt = T0.AddSeconds(seed),
    };

    protected static CustodianTaskRecord CustodianTask(string taskId, string scope = "keyset:ks-1:public-key", int party = 1) => new()
    {
        TaskId = taskId,
        Scope = scope,
        Party = party,
        Payload = [1, 2, 3],
        CreatedAt = T0,
    };

    protected static KeySetRecord KeySet(string id = "ks-1") => new()
    {
        KeySetId = id,
        Preset = "ckks-n14",
        Members = 5,
        Threshold = 3,
        State = "running",
        Phase = "public-key",
        Data = """{"crs":"abc"}""",
        Message = null,
        CreatedAt = T0,
        Version = 0,
    };

    protected static CustodianRecord Custodian(string id, int party, byte key = 1) => new()
    {
        CustodianId = id,
        Party = party,
        AgreementPublicKey = [key, key, 2],
        RegisteredAt = T0,
    };

    /// <summary>A store with job-1 and its open round 0.</summary>
    protected async Task<ICoordinatorStore> StoreWithOpenRoundAsync(int round = 0)
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);
        Assert.True(await store.CreateRoundAsync(Round(round: round), Ct));
        return store;
    }

    // ---- assertions

    protected static void AssertJob(JobRecord expected, JobRecord? actual, long version)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.JobId, actual.JobId);
        Assert.Equal(expected.KeySetId, actual.KeySetId);
        Assert.Equal(expected.Spec, actual.Spec);
        Assert.Equal(expected.State, actual.State);
        Assert.Equal(expected.CurrentRound, actual.CurrentRound);
        Assert.Equal(
            expected.GlobalModel.Select(BitConverter.DoubleToInt64Bits),
            actual.GlobalModel.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(expected.StrategyState, actual.StrategyState);
        Assert.Equal(expected.Message, actual.Message);
        Assert.Equal(string.IsNullOrEmpty(expected.IdempotencyKey) ? null : expected.IdempotencyKey, actual.IdempotencyKey);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.UpdatedAt, actual.UpdatedAt);
        Assert.Equal(version, actual.Version);
    }

    protected static void AssertRound(RoundRecord expected, RoundRecord? actual, long version, int includedUploads = 0)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.JobId, actual.JobId);
        Assert.Equal(expected.Round, actual.Round);
        Assert.Equal(expected.State, actual.State);
        Assert.Equal(expected.Selected, actual.Selected);
        Assert.Equal(expected.OpenedAt, actual.OpenedAt);
        Assert.Equal(expected.Deadline, actual.Deadline);
        Assert.Equal(expected.MinimumReachedAt, actual.MinimumReachedAt);
        Assert.Equal(expected.Extensions, actual.Extensions);
        Assert.Equal(includedUploads, actual.IncludedUploads);
        Assert.Equal(expected.Message, actual.Message);
        Assert.Equal(expected.Data, actual.Data);
        Assert.Equal(version, actual.Version);
    }

    protected static void AssertUpload(UploadRecord expected, UploadRecord actual)
    {
        Assert.Equal(expected.JobId, actual.JobId);
        Assert.Equal(expected.Round, actual.Round);
        Assert.Equal(expected.ParticipantId, actual.ParticipantId);
        Assert.Equal(expected.Ciphertexts.Count, actual.Ciphertexts.Count);
        for (var i = 0; i < expected.Ciphertexts.Count; i++)
        {
            Assert.Equal(expected.Ciphertexts[i], actual.Ciphertexts[i]);
        }

        Assert.Equal(expected.ContentIds, actual.ContentIds);
        Assert.Equal(expected.Bytes, actual.Bytes);
        Assert.Equal(expected.ReceivedAt, actual.ReceivedAt);
        Assert.True(actual.Sequence > 0, "Sequence is assigned by the store");
    }

    protected static void AssertTask(CustodianTaskRecord expected, CustodianTaskRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.TaskId, actual.TaskId);
        Assert.Equal(expected.Scope, actual.Scope);
        Assert.Equal(expected.Party, actual.Party);
        Assert.Equal(expected.Payload, actual.Payload);
        Assert.Equal(expected.Answer, actual.Answer);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.AnsweredAt, actual.AnsweredAt);
        Assert.Equal(expected.Withdrawn, actual.Withdrawn);
    }

    protected static void AssertKeySet(KeySetRecord expected, KeySetRecord? actual, long version)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.KeySetId, actual.KeySetId);
        Assert.Equal(expected.Preset, actual.Preset);
        Assert.Equal(expected.Members, actual.Members);
        Assert.Equal(expected.Threshold, actual.Threshold);
        Assert.Equal(expected.State, actual.State);
        Assert.Equal(expected.Phase, actual.Phase);
        Assert.Equal(expected.Data, actual.Data);
        Assert.Equal(expected.Message, actual.Message);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(version, actual.Version);
    }

    /// <summary>Runs <paramref name="count"/> calls on thread-pool threads, released together.</summary>
    protected static async Task<T[]> InParallelAsync<T>(int count, Func<int, Task<T>> call)
    {
        using var start = new ManualResetEventSlim(false);
        var tasks = Enumerable.Range(0, count)
            .Select(i => Task.Run(
                async () =>
                {
                    start.Wait(Ct);
                    return await call(i);
                },
                Ct))
            .ToArray();
        start.Set();
        return await Task.WhenAll(tasks);
    }
}
