using System.Collections.Concurrent;
using System.Globalization;
using PrivateHealth.Coordinator.Storage;

namespace PrivateHealth.Coordinator.Hosting;

/// <summary>A level-free broadcast: <see cref="WaitAsync"/> completes at the next <see cref="Pulse"/>.</summary>
public sealed class AsyncSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Wakes every current waiter.</summary>
    public void Pulse() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Completes at the next pulse, after <paramref name="timeout"/>, or on cancellation (which throws).</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var task = Volatile.Read(ref _next).Task;
        await Task.WhenAny(task, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }
}

/// <summary>
/// Who is connected right now: participants watching rounds and custodians watching tasks. Connections to this node
/// are counted here; in cluster mode (decision 0018) <see cref="ClusterWorker"/> heartbeats them to the store and feeds
/// back the union of all nodes (<see cref="SetShared"/>), so the queries below answer for the whole cluster.
/// </summary>
public sealed class PresenceTracker
{
    private readonly ConcurrentDictionary<string, int> _participants = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, int> _custodians = new();
    private volatile Shared _shared = Shared.Empty;
    private long _localVersion;

    /// <summary>Raised (pulsed) whenever someone connects or disconnects (here, or on another node once seen).</summary>
    public AsyncSignal Changed { get; } = new();

    /// <summary>Pulsed when a connection to this node opens or closes (the cluster heartbeat writes at once).</summary>
    internal AsyncSignal LocalChanged { get; } = new();

    /// <summary>Incremented by every connection to this node that opens or closes.</summary>
    internal long LocalVersion => Interlocked.Read(ref _localVersion);

    /// <summary>Marks a participant online until the returned handle is disposed.</summary>
    public IDisposable ParticipantConnected(string participantId) => Enter(_participants, participantId);

    /// <summary>Marks a custodian party online until the returned handle is disposed.</summary>
    public IDisposable CustodianConnected(int party) => Enter(_custodians, party);

    public bool IsParticipantOnline(string participantId) =>
        (_participants.TryGetValue(participantId, out int n) && n > 0) || _shared.Participants.Contains(participantId);

    /// <summary>Online custodian parties in ascending order.</summary>
    public IReadOnlyList<int> OnlineCustodians =>
        [.. _custodians.Where(kv => kv.Value > 0).Select(kv => kv.Key).Union(_shared.Custodians).Order()];

    public int OnlineParticipantCount
    {
        get
        {
            var shared = _shared.Participants;
            return shared.Count + _participants.Count(kv => kv.Value > 0 && !shared.Contains(kv.Key));
        }
    }

    /// <summary>What is connected to this node, as presence rows.</summary>
    internal IReadOnlyCollection<PresenceEntry> LocalEntries() =>
    [
        .. _participants.Where(kv => kv.Value > 0).Select(kv => new PresenceEntry(PresenceKinds.Participant, kv.Key)),
        .. _custodians.Where(kv => kv.Value > 0).Select(kv => new PresenceEntry(PresenceKinds.Custodian, kv.Key.ToString(CultureInfo.InvariantCulture))),
    ];

    /// <summary>Replaces the cluster-wide view (the unexpired presence rows of every node); pulses <see cref="Changed"/> if it changed.</summary>
    internal void SetShared(IReadOnlyList<PresenceEntry> entries)
    {
        var participants = new HashSet<string>(StringComparer.Ordinal);
        var custodians = new HashSet<int>();
        foreach (var e in entries)
        {
            if (e.Kind == PresenceKinds.Participant)
            {
                participants.Add(e.Id);
            }
            else if (e.Kind == PresenceKinds.Custodian && int.TryParse(e.Id, NumberStyles.None, CultureInfo.InvariantCulture, out int party))
            {
                custodians.Add(party);
            }
        }

        var old = _shared;
        if (!old.Participants.SetEquals(participants) || !old.Custodians.SetEquals(custodians))
        {
            _shared = new Shared(participants, custodians);
            Changed.Pulse();
        }
    }

    private Lease<TKey> Enter<TKey>(ConcurrentDictionary<TKey, int> map, TKey key)
        where TKey : notnull
    {
        map.AddOrUpdate(key, 1, (_, n) => n + 1);
        Interlocked.Increment(ref _localVersion);
        Changed.Pulse();
        LocalChanged.Pulse();
        return new Lease<TKey>(this, map, key);
    }

    private sealed record Shared(HashSet<string> Participants, HashSet<int> Custodians)
    {
        public static readonly Shared Empty = new([], []);
    }

    private sealed class Lease<TKey>(PresenceTracker owner, ConcurrentDictionary<TKey, int> map, TKey key) : IDisposable
        where TKey : notnull
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                map.AddOrUpdate(key, 0, (_, n) => Math.Max(0, n - 1));
                Interlocked.Increment(ref owner._localVersion);
                owner.Changed.Pulse();
                owner.LocalChanged.Pulse();
            }
        }
    }
}
