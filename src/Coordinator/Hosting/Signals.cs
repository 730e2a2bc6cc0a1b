using System.Collections.Concurrent;

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

/// <summary>Who is connected right now: participants watching rounds and custodians watching tasks.</summary>
public sealed class PresenceTracker
{
    private readonly ConcurrentDictionary<string, int> _participants = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, int> _custodians = new();

    /// <summary>Raised (pulsed) whenever someone connects or disconnects.</summary>
    public AsyncSignal Changed { get; } = new();

    /// <summary>Marks a participant online until the returned handle is disposed.</summary>
    public IDisposable ParticipantConnected(string participantId) => Enter(_participants, participantId);

    /// <summary>Marks a custodian party online until the returned handle is disposed.</summary>
    public IDisposable CustodianConnected(int party) => Enter(_custodians, party);

    public bool IsParticipantOnline(string participantId) => _participants.TryGetValue(participantId, out int n) && n > 0;

    /// <summary>Online custodian parties in ascending order.</summary>
    public IReadOnlyList<int> OnlineCustodians => [.. _custodians.Where(kv => kv.Value > 0).Select(kv => kv.Key).Order()];

    public int OnlineParticipantCount => _participants.Count(kv => kv.Value > 0);

    private Lease<TKey> Enter<TKey>(ConcurrentDictionary<TKey, int> map, TKey key)
        where TKey : notnull
    {
        map.AddOrUpdate(key, 1, (_, n) => n + 1);
        Changed.Pulse();
        return new Lease<TKey>(this, map, key);
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
                owner.Changed.Pulse();
            }
        }
    }
}
