namespace PrivateHealth.Coordinator.Storage;

/// <summary>Who is connected to some coordinator node: a participant watching rounds or jobs, a custodian watching tasks.</summary>
/// <param name="Kind"><see cref="PresenceKinds.Participant"/> or <see cref="PresenceKinds.Custodian"/>.</param>
/// <param name="Id">The participant id, or the custodian's party number in invariant decimal.</param>
public sealed record PresenceEntry(string Kind, string Id);

/// <summary>Kinds of <see cref="PresenceEntry"/>.</summary>
public static class PresenceKinds
{
    public const string Participant = "participant";
    public const string Custodian = "custodian";
}

/// <summary>
/// Shared presence of several coordinator nodes (decision 0018): every node writes heartbeat rows
/// (kind, id, node id, expires_at) for what is connected to it, and reads the union of the unexpired rows of all
/// nodes. A node that dies stops heartbeating and its rows expire after the TTL.
/// </summary>
public interface IPresenceStore
{
    /// <summary>
    /// In one transaction: sets the rows of <paramref name="nodeId"/> to exactly <paramref name="entries"/> (rows of
    /// this node not listed are deleted), each expiring at least <paramref name="ttl"/>/2 after the store's clock now (a
    /// row is rewritten to now + ttl only once less than half of it is left, so frequent heartbeats of many connections
    /// do not rewrite every row every time), and deletes rows of any node that expired more than a minute ago.
    /// </summary>
    Task HeartbeatAsync(string nodeId, IReadOnlyCollection<PresenceEntry> entries, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>Distinct unexpired entries of all nodes, ordered by kind then id (ordinal).</summary>
    Task<IReadOnlyList<PresenceEntry>> ListPresenceAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes every row of <paramref name="nodeId"/> (clean shutdown).</summary>
    Task RemovePresenceNodeAsync(string nodeId, CancellationToken cancellationToken = default);
}

/// <summary>A lease on a named resource (e.g. <c>job:j-1</c>) held by one owner until <see cref="ExpiresAt"/>.</summary>
public sealed record LeaseRecord
{
    public required string Resource { get; init; }

    /// <summary>The holder (a node id); null after <see cref="ILeaseStore.ReleaseLeaseAsync"/>.</summary>
    public string? Owner { get; init; }

    /// <summary>Fencing token: strictly increasing per resource, incremented whenever the lease changes hands.</summary>
    public long Token { get; init; }

    /// <summary>Expiry by the store's clock.</summary>
    public DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>
/// Leases with fencing tokens (decision 0018). A worker steps a job only while it holds the job's lease, and writes
/// the job's state under <see cref="StoreFence"/> so that a holder that lost its lease (paused, partitioned) cannot
/// commit: fenced updates check, in their own transaction, that the lease still carries the fence's owner and token.
/// </summary>
public interface ILeaseStore
{
    /// <summary>
    /// Takes the lease for <paramref name="ttl"/>: when nobody holds it (no row, released, or expired) the token is
    /// incremented (1 for a new resource) and the lease is <paramref name="owner"/>'s; when <paramref name="owner"/>
    /// already holds it unexpired, it is extended with the same token; when another owner holds it unexpired, returns
    /// null and changes nothing.
    /// </summary>
    Task<LeaseRecord?> TryAcquireLeaseAsync(string resource, string owner, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>
    /// Extends the lease to now + <paramref name="ttl"/> if it still carries <paramref name="owner"/> and
    /// <paramref name="token"/> (even if it expired meanwhile: nobody else took it, so the token is still the latest);
    /// otherwise returns null.
    /// </summary>
    Task<LeaseRecord?> RenewLeaseAsync(string resource, string owner, long token, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>Gives the lease up (the next acquirer gets token + 1 at once); false if it no longer carries owner and token.</summary>
    Task<bool> ReleaseLeaseAsync(string resource, string owner, long token, CancellationToken cancellationToken = default);

    /// <summary>The lease row as stored (expired or released ones included), or null.</summary>
    Task<LeaseRecord?> GetLeaseAsync(string resource, CancellationToken cancellationToken = default);
}

/// <summary>
/// The ambient fence of the current async flow: while set, the fenced writes of both stores —
/// <see cref="ICoordinatorStore.UpdateJobAsync"/>, <see cref="ICoordinatorStore.UpdateRoundAsync"/>,
/// <see cref="ICoordinatorStore.UpdateKeySetAsync"/>, <see cref="IQueryJobStore.UpdateQueryJobAsync"/> and
/// <see cref="ICohortStore.SaveCohortAggregateAsync"/>, <see cref="ICohortStore.TrySpendBudgetAsync"/> — first check, in the same transaction and holding the lease row
/// (PostgreSQL: <c>FOR SHARE</c>, so a concurrent acquisition waits for the commit), that the lease
/// <see cref="Fence.Resource"/> still carries <see cref="Fence.Owner"/> and <see cref="Fence.Token"/>; if not, nothing is
/// written and the call returns null (false for the budget spend), exactly like a lost compare-and-set (or a refused
/// spend).
/// </summary>
public static class StoreFence
{
    private static readonly AsyncLocal<Fence?> Ambient = new();

    /// <summary>The fence of the current flow, or null (unfenced writes).</summary>
    public static Fence? Current => Ambient.Value;

    /// <summary>Sets the fence for the current flow until the returned scope is disposed (restores the previous one).</summary>
    public static IDisposable Enter(LeaseRecord lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(lease.Owner);
        var previous = Ambient.Value;
        Ambient.Value = new Fence(lease.Resource, lease.Owner, lease.Token);
        return new Scope(previous);
    }

    /// <summary>A lease resource, owner and token that a fenced write requires.</summary>
    public sealed record Fence(string Resource, string Owner, long Token);

    private sealed class Scope(Fence? previous) : IDisposable
    {
        public void Dispose() => Ambient.Value = previous;
    }
}
