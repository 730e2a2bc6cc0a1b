using Npgsql;

namespace PrivateHealth.Coordinator.Storage.Postgres;

/// <remarks>
/// Presence heartbeats and leases with fencing tokens (decision 0018). Expiry uses the database's clock
/// (<c>clock_timestamp()</c>), not the nodes', so nodes with skewed clocks agree on who holds a lease. A lease is one
/// row: acquisition is a single <c>INSERT … ON CONFLICT DO UPDATE … WHERE</c> (the row lock orders concurrent
/// acquirers; the loser's conditional update matches nothing), and fenced writes hold the lease row
/// <c>FOR SHARE</c> while they check it, so an acquisition by another node waits for them to commit and then reads
/// what they wrote.
/// </remarks>
public sealed partial class PostgresCoordinatorStore : IPresenceStore, ILeaseStore
{
    private const string LeaseColumns = "resource, owner, token, expires_at";

    /// <inheritdoc />
    public Task HeartbeatAsync(string nodeId, IReadOnlyCollection<PresenceEntry> entries, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        ArgumentNullException.ThrowIfNull(entries);
        SqliteCoordinatorStore.ValidateTtl(ttl);
        var list = entries.Distinct().OrderBy(e => e.Kind, StringComparer.Ordinal).ThenBy(e => e.Id, StringComparer.Ordinal).ToList();
        string[] kinds = [.. list.Select(e => e.Kind)];
        string[] ids = [.. list.Select(e => e.Id)];
        return WriteAsync(
            async (db, ct) =>
            {
                await db.ExecuteAsync(
                    """
                    DELETE FROM presence p WHERE p.node_id = @n
                        AND NOT EXISTS (SELECT 1 FROM unnest(@k::text[], @i::text[]) AS e (kind, id) WHERE e.kind = p.kind AND e.id = p.id);
                    """,
                    ct,
                    ("n", nodeId),
                    ("k", kinds),
                    ("i", ids)).ConfigureAwait(false);
                if (list.Count > 0)
                {
                    await db.ExecuteAsync(
                        """
                        INSERT INTO presence (kind, id, node_id, expires_at)
                        SELECT e.kind, e.id, @n, clock_timestamp() + @ttl FROM unnest(@k::text[], @i::text[]) AS e (kind, id)
                        ON CONFLICT (kind, id, node_id) DO UPDATE SET expires_at = excluded.expires_at
                            WHERE presence.expires_at < clock_timestamp() + @ttl / 2;
                        """,
                        ct,
                        ("n", nodeId),
                        ("k", kinds),
                        ("i", ids),
                        ("ttl", ttl)).ConfigureAwait(false);
                }

                await db.ExecuteAsync("DELETE FROM presence WHERE expires_at < clock_timestamp() - interval '1 minute';", ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<PresenceEntry>> ListPresenceAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<PresenceEntry>>(
            async (db, ct) => await db.QueryAsync(
                "SELECT kind, id FROM presence WHERE expires_at > clock_timestamp() GROUP BY kind, id ORDER BY kind COLLATE \"C\", id COLLATE \"C\";",
                r => new PresenceEntry(r.GetString(0), r.GetString(1)),
                ct).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    public Task RemovePresenceNodeAsync(string nodeId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        return WriteAsync((db, ct) => db.ExecuteAsync("DELETE FROM presence WHERE node_id = @n;", ct, ("n", nodeId)), cancellationToken);
    }

    /// <inheritdoc />
    public Task<LeaseRecord?> TryAcquireLeaseAsync(string resource, string owner, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        SqliteCoordinatorStore.ValidateLease(resource, owner);
        SqliteCoordinatorStore.ValidateTtl(ttl);
        return WriteAsync(
            (db, ct) => db.QuerySingleAsync(
                $"""
                INSERT INTO leases AS l (resource, owner, token, expires_at) VALUES (@r, @o, 1, clock_timestamp() + @ttl)
                ON CONFLICT (resource) DO UPDATE
                    SET owner = excluded.owner,
                        token = CASE WHEN l.owner = excluded.owner AND l.expires_at > clock_timestamp() THEN l.token ELSE l.token + 1 END,
                        expires_at = excluded.expires_at
                    WHERE l.owner IS NULL OR l.owner = excluded.owner OR l.expires_at <= clock_timestamp()
                RETURNING {LeaseColumns};
                """,
                ReadLease,
                ct,
                ("r", resource),
                ("o", owner),
                ("ttl", ttl)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<LeaseRecord?> RenewLeaseAsync(string resource, string owner, long token, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        SqliteCoordinatorStore.ValidateLease(resource, owner);
        SqliteCoordinatorStore.ValidateTtl(ttl);
        return WriteAsync(
            (db, ct) => db.QuerySingleAsync(
                $"""
                UPDATE leases SET expires_at = clock_timestamp() + @ttl WHERE resource = @r AND owner = @o AND token = @t
                RETURNING {LeaseColumns};
                """,
                ReadLease,
                ct,
                ("r", resource),
                ("o", owner),
                ("t", token),
                ("ttl", ttl)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> ReleaseLeaseAsync(string resource, string owner, long token, CancellationToken cancellationToken = default)
    {
        SqliteCoordinatorStore.ValidateLease(resource, owner);
        return WriteAsync(
            async (db, ct) => await db.ExecuteAsync(
                "UPDATE leases SET owner = NULL, expires_at = 'epoch' WHERE resource = @r AND owner = @o AND token = @t;",
                ct,
                ("r", resource),
                ("o", owner),
                ("t", token)).ConfigureAwait(false) > 0,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<LeaseRecord?> GetLeaseAsync(string resource, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(resource);
        return ReadAsync(
            (db, ct) => db.QuerySingleAsync($"SELECT {LeaseColumns} FROM leases WHERE resource = @r;", ReadLease, ct, ("r", resource)),
            cancellationToken);
    }

    /// <summary>
    /// Claims up to <paramref name="max"/> of <paramref name="resources"/> that nobody holds (or that
    /// <paramref name="owner"/> holds) in one round trip: the existing free rows are locked with
    /// <c>FOR UPDATE SKIP LOCKED</c> (rows another node is acquiring right now are skipped instead of waited for), then
    /// missing rows are inserted. Returns the leases obtained.
    /// </summary>
    public Task<IReadOnlyList<LeaseRecord>> ClaimLeasesAsync(IReadOnlyList<string> resources, string owner, TimeSpan ttl, int max, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resources);
        ArgumentException.ThrowIfNullOrEmpty(owner);
        SqliteCoordinatorStore.ValidateTtl(ttl);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        string[] wanted = [.. resources.Distinct(StringComparer.Ordinal)];
        return WriteAsync<IReadOnlyList<LeaseRecord>>(
            async (db, ct) =>
            {
                var claimed = await db.QueryAsync(
                    $"""
                    WITH free AS (
                        SELECT resource FROM leases
                        WHERE resource = ANY(@rs) AND (owner IS NULL OR owner = @o OR expires_at <= clock_timestamp())
                        ORDER BY resource LIMIT @max
                        FOR UPDATE SKIP LOCKED)
                    UPDATE leases l SET
                        token = CASE WHEN l.owner = @o AND l.expires_at > clock_timestamp() THEN l.token ELSE l.token + 1 END,
                        owner = @o, expires_at = clock_timestamp() + @ttl
                    FROM free WHERE l.resource = free.resource
                    RETURNING l.resource, l.owner, l.token, l.expires_at;
                    """,
                    ReadLease,
                    ct,
                    ("rs", wanted),
                    ("o", owner),
                    ("ttl", ttl),
                    ("max", max)).ConfigureAwait(false);
                if (claimed.Count < max)
                {
                    claimed.AddRange(await db.QueryAsync(
                        $"""
                        INSERT INTO leases (resource, owner, token, expires_at)
                        SELECT r, @o, 1, clock_timestamp() + @ttl FROM unnest(@rs::text[]) AS r
                        WHERE NOT EXISTS (SELECT 1 FROM leases x WHERE x.resource = r) ORDER BY r LIMIT @left
                        ON CONFLICT (resource) DO NOTHING
                        RETURNING {LeaseColumns};
                        """,
                        ReadLease,
                        ct,
                        ("rs", wanted),
                        ("o", owner),
                        ("ttl", ttl),
                        ("left", max - claimed.Count)).ConfigureAwait(false));
                }

                return claimed;
            },
            cancellationToken);
    }

    /// <summary>
    /// Runs a fenced write (see <see cref="StoreFence"/>): with a fence, the lease row is read <c>FOR SHARE</c> first in
    /// the same transaction; if it no longer carries the fence's owner and token nothing is written and the result is
    /// null (like a lost compare-and-set). Holding the row lock until commit makes a concurrent acquisition wait, so a new
    /// holder always reads the state after this write.
    /// </summary>
    private Task<T?> WriteFencedAsync<T>(Func<Db, CancellationToken, Task<T?>> body, CancellationToken cancellationToken)
        where T : class
    {
        var fence = StoreFence.Current;
        return WriteAsync(
            async (db, ct) =>
            {
                if (fence is not null && !await db.ExistsAsync(
                        "SELECT 1 FROM leases WHERE resource = @r AND owner = @o AND token = @t FOR SHARE;",
                        ct,
                        ("r", fence.Resource),
                        ("o", fence.Owner),
                        ("t", fence.Token)).ConfigureAwait(false))
                {
                    return null;
                }

                return await body(db, ct).ConfigureAwait(false);
            },
            cancellationToken);
    }

    /// <summary><see cref="WriteFencedAsync{T}"/> for a yes/no write: false when the fence no longer holds.</summary>
    private async Task<bool> WriteFencedFlagAsync(Func<Db, CancellationToken, Task<bool>> body, CancellationToken cancellationToken) =>
        await WriteFencedAsync<object>(async (db, ct) => await body(db, ct).ConfigureAwait(false) ? FencedTrue : null, cancellationToken).ConfigureAwait(false) is not null;

    private static readonly object FencedTrue = new();

    private static LeaseRecord ReadLease(NpgsqlDataReader r) => new()
    {
        Resource = r.GetString(0),
        Owner = r.IsDBNull(1) ? null : r.GetString(1),
        Token = r.GetInt64(2),
        ExpiresAt = ReadTs(r, 3),
    };
}
