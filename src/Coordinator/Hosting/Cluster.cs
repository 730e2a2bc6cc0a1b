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
/// node's. Held leases are reused across passes and renewed every third of <see cref="CoordinatorOptions.LeaseTtl"/>,
/// also while a long step runs. Off cluster mode (one SQLite node) every call succeeds without touching the store.
/// </summary>
public sealed class JobLeases(ICoordinatorStore store, IOptions<CoordinatorOptions> options, ILogger<JobLeases> logger) : IAsyncDisposable
{
    private readonly CoordinatorOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, Held> _held = new(StringComparer.Ordinal);

    /// <summary>This node's id (lease owner, presence rows).</summary>
    public string NodeId => _options.NodeId;

    /// <summary>Whether leases are in use (cluster mode and a store that implements <see cref="ILeaseStore"/>).</summary>
    public bool Enabled => _options.ClusterEnabled && store is ILeaseStore;

    /// <summary>Resources whose lease this node believes it holds.</summary>
    public IReadOnlyCollection<string> HeldResources => [.. _held.Keys];

    /// <summary>
    /// Takes (or reuses, or renews) the lease of <paramref name="resource"/>; null when another node holds it. Call
    /// <see cref="Step.Enter"/> on the result — synchronously, in the method that runs the step, so that the fence is set
    /// in that method's async flow (an <c>AsyncLocal</c> set inside an awaited async method would not reach its caller)
    /// — and dispose what it returns when the step ends: that clears the fence and stops the in-step renewal (the lease
    /// itself is kept for the next pass and expires if this node dies).
    /// </summary>
    public async Task<Step?> TryAcquireAsync(string resource, CancellationToken ct)
    {
        if (!Enabled)
        {
            return new Step(this, resource, null, ct);
        }

        var lease = await EnsureAsync(resource, ct).ConfigureAwait(false);
        return lease is null ? null : new Step(this, resource, lease, ct);
    }

    /// <summary>A lease held for one step of a job.</summary>
    public sealed class Step
    {
        private readonly JobLeases _owner;
        private readonly string _resource;
        private readonly CancellationToken _ct;

        internal Step(JobLeases owner, string resource, LeaseRecord? lease, CancellationToken ct)
        {
            _owner = owner;
            _resource = resource;
            Lease = lease;
            _ct = ct;
        }

        /// <summary>The lease (null off cluster mode: nothing to fence).</summary>
        public LeaseRecord? Lease { get; }

        /// <summary>Sets the lease as the current flow's <see cref="StoreFence"/> and keeps renewing it until disposed.</summary>
        public IDisposable Enter() => Lease is null ? NoScope.Instance : new Scope(_owner, _resource, StoreFence.Enter(Lease), _ct);
    }

    /// <summary>Gives up the lease of a finished job (best effort).</summary>
    public async Task ReleaseAsync(string resource, CancellationToken ct)
    {
        if (Enabled && _held.TryRemove(resource, out var held))
        {
            try
            {
                await ((ILeaseStore)store).ReleaseLeaseAsync(resource, NodeId, held.Lease.Token, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogDebug(ex, "Releasing {Resource} failed; it expires", resource);
            }
        }
    }

    private async Task<LeaseRecord?> EnsureAsync(string resource, CancellationToken ct)
    {
        var leases = (ILeaseStore)store;
        var ttl = _options.LeaseTtl;
        if (_held.TryGetValue(resource, out var held))
        {
            if (held.Since.Elapsed < ttl / 3)
            {
                return held.Lease;
            }

            var renewed = await leases.RenewLeaseAsync(resource, NodeId, held.Lease.Token, ttl, ct).ConfigureAwait(false);
            if (renewed is not null)
            {
                _held[resource] = new Held(renewed, Stopwatch.StartNew());
                return renewed;
            }

            logger.LogWarning("Lost the lease of {Resource} (token {Token}); another node took it over", resource, held.Lease.Token);
            _held.TryRemove(resource, out _);
        }

        var lease = await leases.TryAcquireLeaseAsync(resource, NodeId, ttl, ct).ConfigureAwait(false);
        if (lease is not null)
        {
            if (lease.Token > 1 && !_held.ContainsKey(resource))
            {
                logger.LogInformation("Took the lease of {Resource} (fencing token {Token})", resource, lease.Token);
            }

            _held[resource] = new Held(lease, Stopwatch.StartNew());
        }

        return lease;
    }

    /// <summary>Releases every lease this node holds (clean shutdown), so another node takes over at once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!Enabled)
        {
            return;
        }

        foreach (var (resource, held) in _held.ToArray())
        {
            try
            {
                await ((ILeaseStore)store).ReleaseLeaseAsync(resource, NodeId, held.Lease.Token, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.LogDebug(ex, "Releasing {Resource} at shutdown failed; it expires", resource);
            }
        }

        _held.Clear();
    }

    private sealed record Held(LeaseRecord Lease, Stopwatch Since);

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose()
        {
        }
    }

    /// <summary>The fence of one step, with a renewal loop while the step runs longer than a third of the TTL.</summary>
    private sealed class Scope : IDisposable
    {
        private readonly IDisposable _fence;
        private readonly CancellationTokenSource _stop;

        public Scope(JobLeases owner, string resource, IDisposable fence, CancellationToken ct)
        {
            _fence = fence;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var token = _stop.Token;
            // ExecutionContext.SuppressFlow: the renewal loop must not carry (or later restore) the step's fence
            using (ExecutionContext.SuppressFlow())
            {
                _ = Task.Run(async () =>
                {
                    try
                    {
                        while (true)
                        {
                            await Task.Delay(owner._options.LeaseTtl / 3, token).ConfigureAwait(false);
                            if (await owner.EnsureAsync(resource, token).ConfigureAwait(false) is null)
                            {
                                return;
                            }
                        }
                    }
                    catch (Exception ex) when (ex is OperationCanceledException || !token.IsCancellationRequested)
                    {
                    }
                }, CancellationToken.None);
            }
        }

        public void Dispose()
        {
            _fence.Dispose();
            _stop.Cancel();
            _stop.Dispose();
        }
    }
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
