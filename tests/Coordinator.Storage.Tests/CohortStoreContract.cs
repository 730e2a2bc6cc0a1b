using System.Buffers.Binary;
using System.Security.Cryptography;
using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="ICohortStore"/> must have. An implementation's test class derives from this (or from
/// <see cref="DurableCohortStoreContract"/>) and supplies <see cref="CreateStoreAsync"/> (a fresh, empty, initialized
/// store). Stores that are <see cref="IAsyncDisposable"/> are disposed after the test.
/// </summary>
public abstract partial class CohortStoreContract : IAsyncLifetime
{
    /// <summary>A millisecond-precise instant (stores may keep only milliseconds).</summary>
    protected static readonly DateTimeOffset T0 = new(2026, 3, 4, 5, 6, 7, 891, TimeSpan.Zero);

    private readonly List<ICohortStore> _opened = [];

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Creates a fresh, empty store and initializes it.</summary>
    protected abstract Task<ICohortStore> CreateStoreAsync();

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await DisposeStoreAsync(store);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary><see cref="CreateStoreAsync"/>, disposed after the test.</summary>
    protected async Task<ICohortStore> NewStoreAsync()
    {
        var store = await CreateStoreAsync();
        _opened.Add(store);
        return store;
    }

    /// <summary>Disposes <paramref name="store"/> after the test.</summary>
    protected ICohortStore Track(ICohortStore store)
    {
        _opened.Add(store);
        return store;
    }

    /// <summary>Disposes the store if it is disposable (idempotent for the stores under test).</summary>
    protected static ValueTask DisposeStoreAsync(ICohortStore store) =>
        store is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;

    // ---- builders

    protected static CohortRecord Cohort(string id = "c-1", string state = "open", double epsilon = 1.0, double delta = 1e-5) => new()
    {
        CohortId = id,
        KeySetId = "ks-1",
        SchemaJson = """{"version":1,"fields":[{"name":"age","type":"int"}]}""",
        State = state,
        EpsilonBudget = epsilon,
        DeltaBudget = delta,
        CreatedAt = T0,
        Version = 0,
    };

    /// <summary>A toy "ciphertext": the little-endian encoding of <paramref name="value"/> plus a tail of <paramref name="tail"/> bytes.</summary>
    protected static byte[] Ciphertext(long value, int tail = 3)
    {
        var bytes = new byte[8 + tail];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        for (var i = 0; i < tail; i++)
        {
            bytes[8 + i] = (byte)(value + i);
        }

        return bytes;
    }

    /// <summary>The value a <see cref="Ciphertext"/> encodes.</summary>
    protected static long ValueOf(byte[] ciphertext) => BinaryPrimitives.ReadInt64LittleEndian(ciphertext);

    /// <summary>Hex SHA-256 of the bytes (the content id of a ciphertext).</summary>
    protected static string ContentId(byte[] ciphertext) => Convert.ToHexStringLower(SHA256.HashData(ciphertext));

    /// <summary>Adds <see cref="Ciphertext"/>(<paramref name="value"/>) with its content id.</summary>
    protected static Task<ContributionOutcome> AddAsync(ICohortStore store, string participant, long value, string cohort = "c-1", int second = 0)
    {
        var bytes = Ciphertext(value);
        return store.AddContributionAsync(cohort, participant, bytes, ContentId(bytes), T0.AddSeconds(second), Ct);
    }

    /// <summary>A store with the open cohort c-1.</summary>
    protected async Task<ICohortStore> StoreWithCohortAsync(double epsilon = 1.0, double delta = 1e-5)
    {
        var store = await NewStoreAsync();
        await store.CreateCohortAsync(Cohort(epsilon: epsilon, delta: delta), Ct);
        return store;
    }

    /// <summary>Every event of a cohort, read in pages of <paramref name="pageSize"/>.</summary>
    protected static async Task<List<ContributionEvent>> AllEventsAsync(ICohortStore store, string cohort = "c-1", int pageSize = 1000)
    {
        var events = new List<ContributionEvent>();
        long after = 0;
        while (true)
        {
            var page = await store.ListContributionEventsAsync(cohort, after, pageSize, Ct);
            Assert.True(page.Count <= pageSize);
            events.AddRange(page);
            if (page.Count < pageSize)
            {
                return events;
            }

            after = page[^1].Sequence;
        }
    }

    // ---- assertions

    protected static void AssertCohort(CohortRecord expected, CohortRecord? actual, long version, double epsilonSpent = 0, double deltaSpent = 0)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.CohortId, actual.CohortId);
        Assert.Equal(expected.KeySetId, actual.KeySetId);
        Assert.Equal(expected.SchemaJson, actual.SchemaJson);
        Assert.Equal(expected.State, actual.State);
        Assert.Equal(expected.EpsilonBudget, actual.EpsilonBudget);
        Assert.Equal(expected.DeltaBudget, actual.DeltaBudget);
        Assert.Equal(epsilonSpent, actual.EpsilonSpent, 12);
        Assert.Equal(deltaSpent, actual.DeltaSpent, 12);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(version, actual.Version);
    }

    protected static void AssertEvent(
        ContributionEvent actual, ContributionEventKind kind, string participant, byte[] ciphertext, DateTimeOffset at, string cohort = "c-1")
    {
        Assert.Equal(cohort, actual.CohortId);
        Assert.Equal(kind, actual.Kind);
        Assert.Equal(participant, actual.ParticipantId);
        Assert.Equal(ciphertext, actual.Ciphertext);
        Assert.Equal(ContentId(ciphertext), actual.ContentId);
        Assert.Equal(at, actual.At);
        Assert.True(actual.Sequence > 0, "Sequence is assigned by the store");
    }

    /// <summary>
    /// Folds the ledger (+1 per Add, −1 per Subtract, keyed by participant and content id) and checks it is well formed:
    /// strictly increasing sequences, every count 0 or 1 at every step, and each Subtract carries the bytes of the Add it
    /// cancels. Returns the active contributions (participant → content id).
    /// </summary>
    protected static Dictionary<string, string> Fold(IReadOnlyList<ContributionEvent> events)
    {
        var counts = new Dictionary<(string Participant, string ContentId), int>();
        var bytes = new Dictionary<(string Participant, string ContentId), byte[]>();
        long last = 0;
        foreach (var e in events)
        {
            Assert.True(e.Sequence > last, $"sequence {e.Sequence} after {last}");
            last = e.Sequence;
            var key = (e.ParticipantId, e.ContentId);
            var count = counts.GetValueOrDefault(key) + (e.Kind == ContributionEventKind.Add ? 1 : -1);
            Assert.InRange(count, 0, 1);
            counts[key] = count;
            if (e.Kind == ContributionEventKind.Add)
            {
                // At most one active contribution per participant: a replaced one was subtracted first.
                Assert.Equal(1, counts.Count(kv => kv.Key.Participant == e.ParticipantId && kv.Value == 1));
                bytes[key] = e.Ciphertext;
            }
            else
            {
                Assert.Equal(bytes[key], e.Ciphertext);
            }
        }

        return counts.Where(kv => kv.Value == 1).ToDictionary(kv => kv.Key.Participant, kv => kv.Key.ContentId);
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
