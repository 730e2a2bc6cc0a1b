using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Coordinator.Training;

namespace PrivateHealth.Coordinator.Hosting;

/// <summary>
/// A step found that the lease it runs under (its <see cref="StoreFence"/>) is no longer this node's: its fenced writes
/// are refused, so it stops instead of retrying; the node competes for the lease again on its next pass.
/// </summary>
public sealed class LeaseLostException(string message) : InvalidOperationException(message);

/// <summary>
/// Per-job leases of this node (decision 0018). A worker steps a job (training job, query job, key ceremony, cohort
/// fold, settlement) only inside <see cref="TryAcquireAsync"/> and <see cref="Step.Enter"/>: it holds the job's lease and the flow carries the lease
/// as its <see cref="StoreFence"/>, so the versioned updates of that step commit only while the lease is still this
/// node's. Held leases are reused across passes and renewed by one background loop every third of
/// <see cref="CoordinatorOptions.LeaseTtl"/>, all of them, whether a step of theirs runs or not (a long step of one job
/// does not let this node's other leases expire); a lease found lost is dropped and the step running under it, if any,
/// is cancelled (<see cref="Scope.Token"/>). The lease owner is <see cref="NodeId"/> plus a per-process suffix
/// (<see cref="LeaseOwner"/>), so two live processes configured with the same node id never share a lease. Off cluster
/// mode (one SQLite node) every call succeeds without touching the store.
/// </summary>
public sealed class JobLeases(ICoordinatorStore store, IOptions<CoordinatorOptions> options, ILogger<JobLeases> logger) : IAsyncDisposable
{
    private readonly CoordinatorOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, Held> _held = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Task? _renewal;
    private int _disposed;

    /// <summary>This node's id (presence rows, logs).</summary>
    public string NodeId => _options.NodeId;

    /// <summary>
    /// The owner written into this process's lease rows: <see cref="NodeId"/>, '#', and a random suffix per process
    /// (two live processes configured with the same <see cref="NodeId"/> are still two owners with their own fences).
    /// </summary>
    public string LeaseOwner { get; } = options.Value.NodeId + "#" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));

    /// <summary>Whether leases are in use (cluster mode and a store that implements <see cref="ILeaseStore"/>).</summary>
    public bool Enabled => _options.ClusterEnabled && store is ILeaseStore;

    /// <summary>Resources whose lease this node believes it holds.</summary>
    public IReadOnlyCollection<string> HeldResources => [.. _held.Keys];

    /// <summary>
    /// Takes (or reuses, or renews) the lease of <paramref name="resource"/>; null when another node holds it (or this
    /// node is shutting down). Call <see cref="Step.Enter"/> on the result — synchronously, in the method that runs the
    /// step, so that the fence is set in that method's async flow (an <c>AsyncLocal</c> set inside an awaited async
    /// method would not reach its caller) — pass its <see cref="Scope.Token"/> to the step's work, and dispose it when
    /// the step ends: that clears the fence (the lease itself is kept and renewed for the next pass, and expires if this
    /// node dies).
    /// </summary>
    public async Task<Step?> TryAcquireAsync(string resource, CancellationToken ct)
    {
        if (!Enabled)
        {
            return new Step(resource, null, CancellationToken.None, ct);
        }

        var held = await EnsureAsync(resource, ct).ConfigureAwait(false);
        return held is null ? null : new Step(resource, held.Lease, held.Lost.Token, ct);
    }

    /// <summary>
    /// Claims, for one pass of a worker, the free leases of <paramref name="resources"/> in one statement (PostgreSQL:
    /// <c>FOR UPDATE SKIP LOCKED</c>, <see cref="Storage.Postgres.PostgresCoordinatorStore.ClaimLeasesAsync"/>) and returns
    /// the resources whose lease this node now holds: the worker steps those (their <see cref="TryAcquireAsync"/> then
    /// reuses the lease without a round trip) and skips the others, which another node holds or is taking right now
    /// (the next pass claims them if they are free by then). Null when there is nothing to claim in one statement (off
    /// cluster mode, or a store without it): the worker calls <see cref="TryAcquireAsync"/> for each resource.
    /// </summary>
    public async Task<IReadOnlySet<string>?> ClaimAsync(IEnumerable<string> resources, CancellationToken ct)
    {
        if (!Enabled || store is not Storage.Postgres.PostgresCoordinatorStore pg)
        {
            return null;
        }

        var mine = new HashSet<string>(StringComparer.Ordinal);
        if (Volatile.Read(ref _disposed) != 0)
        {
            return mine;
        }

        var wanted = new List<string>();
        foreach (var r in resources.Distinct(StringComparer.Ordinal))
        {
            if (_held.ContainsKey(r))
            {
                mine.Add(r);
            }
            else
            {
                wanted.Add(r);
            }
        }

        if (wanted.Count == 0)
        {
            return mine;
        }

        var since = Stopwatch.StartNew();
        foreach (var lease in await pg.ClaimLeasesAsync(wanted, LeaseOwner, _options.LeaseTtl, wanted.Count, ct).ConfigureAwait(false))
        {
            if (lease.Token > 1)
            {
                logger.LogInformation("Took the lease of {Resource} (fencing token {Token})", lease.Resource, lease.Token);
            }

            Hold(lease.Resource, lease, since);
            mine.Add(lease.Resource);
        }

        StartRenewal();
        return mine;
    }

    /// <summary>A lease held for one step of a job.</summary>
    public sealed class Step
    {
        private readonly string _resource;
        private readonly CancellationToken _ct;

        internal Step(string resource, LeaseRecord? lease, CancellationToken leaseLost, CancellationToken ct)
        {
            _resource = resource;
            Lease = lease;
            LeaseLost = leaseLost;
            _ct = ct;
        }

        /// <summary>The lease (null off cluster mode: nothing to fence).</summary>
        public LeaseRecord? Lease { get; }

        /// <summary>Cancelled when this node finds the lease lost (another node took it over) or gives it up.</summary>
        public CancellationToken LeaseLost { get; }

        /// <summary>
        /// Sets the lease as the current flow's <see cref="StoreFence"/> until the returned scope is disposed; the scope's
        /// <see cref="Scope.Token"/> is cancelled when the worker stops or the lease is lost.
        /// </summary>
        public Scope Enter() => new(Lease is null ? null : StoreFence.Enter(Lease), _ct, LeaseLost);

        /// <inheritdoc />
        public override string ToString() => _resource;
    }

    /// <summary>The fence of one step and the token its work runs under.</summary>
    public sealed class Scope : IDisposable
    {
        private readonly IDisposable? _fence;
        private readonly CancellationTokenSource? _linked;

        internal Scope(IDisposable? fence, CancellationToken ct, CancellationToken leaseLost)
        {
            _fence = fence;
            if (leaseLost.CanBeCanceled)
            {
                _linked = CancellationTokenSource.CreateLinkedTokenSource(ct, leaseLost);
                Token = _linked.Token;
            }
            else
            {
                Token = ct;
            }
        }

        /// <summary>Cancelled when the worker stops or this node loses the lease: pass it to the step's long-running work.</summary>
        public CancellationToken Token { get; }

        /// <inheritdoc />
        public void Dispose()
        {
            _fence?.Dispose();
            _linked?.Dispose();
        }
    }

    /// <summary>Gives up the lease of a job (finished, or its step failed: another node may try), best effort.</summary>
    public async Task ReleaseAsync(string resource, CancellationToken ct)
    {
        if (Enabled && _held.TryRemove(resource, out var held))
        {
            await held.Lost.CancelAsync().ConfigureAwait(false);
            try
            {
                await ((ILeaseStore)store).ReleaseLeaseAsync(resource, LeaseOwner, held.Lease.Token, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogDebug(ex, "Releasing {Resource} failed; it expires", resource);
            }
        }
    }

    private async Task<Held?> EnsureAsync(string resource, CancellationToken ct)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return null;
        }

        var ttl = _options.LeaseTtl;
        if (_held.TryGetValue(resource, out var held))
        {
            if (held.Since.Elapsed < ttl / 3)
            {
                return held;
            }

            if (await RenewAsync(resource, held, ct).ConfigureAwait(false) is { } renewed)
            {
                return renewed;
            }
        }

        var since = Stopwatch.StartNew();
        var lease = await ((ILeaseStore)store).TryAcquireLeaseAsync(resource, LeaseOwner, ttl, ct).ConfigureAwait(false);
        if (lease is null)
        {
            return null;
        }

        if (lease.Token > 1 && !_held.ContainsKey(resource))
        {
            logger.LogInformation("Took the lease of {Resource} (fencing token {Token})", resource, lease.Token);
        }

        held = Hold(resource, lease, since);
        StartRenewal();
        return held;
    }

    /// <summary>Records a lease just taken (a new entry, or the same token extended).</summary>
    private Held Hold(string resource, LeaseRecord lease, Stopwatch since) =>
        _held.AddOrUpdate(
            resource,
            static (_, a) => new Held(a.lease, a.since, new CancellationTokenSource()),
            static (_, old, a) =>
            {
                if (old.Lease.Token == a.lease.Token)
                {
                    return old with { Lease = a.lease, Since = a.since };
                }

                old.Lost.Cancel(); // a stale entry: its steps ran under a lease that is gone
                return new Held(a.lease, a.since, new CancellationTokenSource());
            },
            (lease, since));

    /// <summary>Renews one held lease; on loss drops it, logs, cancels its steps and returns null.</summary>
    private async Task<Held?> RenewAsync(string resource, Held held, CancellationToken ct)
    {
        var since = Stopwatch.StartNew(); // measured from before the round trip: the row's expiry is at least this late
        var renewed = await ((ILeaseStore)store).RenewLeaseAsync(resource, LeaseOwner, held.Lease.Token, _options.LeaseTtl, ct).ConfigureAwait(false);
        if (renewed is not null)
        {
            var next = held with { Lease = renewed, Since = since };
            // when the entry changed meanwhile (released, or renewed by another caller) the stored one stands
            return _held.TryUpdate(resource, next, held) ? next : _held.GetValueOrDefault(resource);
        }

        // only when it is still the entry we renewed (a concurrent release also makes the renewal fail)
        if (_held.TryRemove(KeyValuePair.Create(resource, held)))
        {
            logger.LogWarning("Lost the lease of {Resource} (token {Token}); another node took it over", resource, held.Lease.Token);
            await held.Lost.CancelAsync().ConfigureAwait(false);
        }

        return null;
    }

    private void StartRenewal()
    {
        lock (_gate)
        {
            if (_renewal is not null || _disposed != 0)
            {
                return;
            }

            // ExecutionContext.SuppressFlow: the loop must not carry the fence of whatever flow started it
            using (ExecutionContext.SuppressFlow())
            {
                _renewal = Task.Run(() => RenewLoopAsync(_stop.Token), CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Renews every held lease every third of the TTL, whatever steps run; a failed round trip is logged and retried on
    /// the next beat (the lease stays this node's until its expiry and after, until another node takes it).
    /// </summary>
    private async Task RenewLoopAsync(CancellationToken stop)
    {
        var period = _options.LeaseTtl / 3;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            foreach (var (resource, held) in _held.ToArray())
            {
                if (held.Since.Elapsed < period / 2)
                {
                    continue; // just taken or renewed by a step
                }

                try
                {
                    await RenewAsync(resource, held, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    logger.LogWarning("Renewing the lease of {Resource} failed: {Error}; retrying", resource, ex.Message);
                }
            }
        }
    }

    /// <summary>Stops the renewals and releases every lease this node holds (clean shutdown), so another node takes over at once.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed != 0)
            {
                return;
            }

            _disposed = 1;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_renewal is not null)
        {
            await _renewal.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (!Enabled)
        {
            return;
        }

        foreach (var (resource, held) in _held.ToArray())
        {
            await held.Lost.CancelAsync().ConfigureAwait(false);
            try
            {
                await ((ILeaseStore)store).ReleaseLeaseAsync(resource, LeaseOwner, held.Lease.Token, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.LogDebug(ex, "Releasing {Resource} at shutdown failed; it expires", resource);
            }
        }

        _held.Clear();
    }

    /// <summary>A held lease; <see cref="Lost"/> is cancelled once it is no longer this node's (lost or given up).</summary>
    private sealed record Held(LeaseRecord Lease, Stopwatch Since, CancellationTokenSource Lost);
}

/// <summary>
/// Cluster mode (decision 0018): every <see cref="CoordinatorOptions.PresenceInterval"/> (and at once when a connection
/// to this node opens or closes) writes this node's presence heartbeat and reads the union of all nodes into the
/// <see cref="PresenceTracker"/>; and every <see cref="CoordinatorOptions.WakeInterval"/> wakes this node's watchers
/// (round streams, custodian task streams) so that they re-read the store: a round opened or a task created by another
/// node reaches them within one wake interval.
/// </summary>
internal sealed class ClusterWorker(
    ICoordinatorStore store,
    PresenceTracker presence,
    RoundBoard rounds,
    CustodianTaskBoard board,
    JobLeases leases,
    IOptions<CoordinatorOptions> options,
    ILogger<ClusterWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        if (!o.ClusterEnabled || store is not IPresenceStore shared)
        {
            return;
        }

        logger.LogInformation("Cluster mode: node {NodeId}, presence every {Interval} (TTL {Ttl}), job leases of {LeaseTtl}", o.NodeId, o.PresenceInterval, o.PresenceTtl, o.LeaseTtl);
        var sinceHeartbeat = Stopwatch.StartNew();
        long written = -1;
        while (!stoppingToken.IsCancellationRequested)
        {
            var changed = presence.LocalChanged.WaitAsync(o.WakeInterval, stoppingToken);
            try
            {
                long version = presence.LocalVersion;
                if (version != written || sinceHeartbeat.Elapsed >= o.PresenceInterval)
                {
                    sinceHeartbeat.Restart();
                    written = version;
                    await shared.HeartbeatAsync(o.NodeId, presence.LocalEntries(), o.PresenceTtl, stoppingToken).ConfigureAwait(false);
                    presence.SetShared(await shared.ListPresenceAsync(stoppingToken).ConfigureAwait(false));
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                logger.LogWarning("Presence heartbeat failed: {Error}", ex.Message);
            }

            rounds.Changed.Pulse();
            board.Changed.Pulse();
            try
            {
                await changed.ConfigureAwait(false);
                // coalesce bursts of connections into one heartbeat
                await Task.Delay(TimeSpan.FromMilliseconds(20), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        try
        {
            await shared.RemovePresenceNodeAsync(o.NodeId, CancellationToken.None).ConfigureAwait(false);
            await leases.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogDebug(ex, "Leaving the cluster cleanly failed; presence rows and leases expire");
        }
    }
}
