using Microsoft.Data.Sqlite;
using static PrivateHealth.Coordinator.Storage.SqliteEncoding;

namespace PrivateHealth.Coordinator.Storage;

/// <remarks>
/// Presence heartbeats and leases (decision 0018). SQLite serves one node, but implements both so that the same
/// coordinator code and contract suite run on either store. Times are the store's <see cref="TimeProvider"/> in Unix
/// milliseconds; every write runs under <c>BEGIN IMMEDIATE</c>, so a fenced update's lease check and its write are one
/// atomic step against any other writer.
/// </remarks>
public sealed partial class SqliteCoordinatorStore : IPresenceStore, ILeaseStore
{
    private const long PresenceGraceMs = 60_000;

    private long NowMs => _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    /// <inheritdoc />
    public Task HeartbeatAsync(string nodeId, IReadOnlyCollection<PresenceEntry> entries, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        ArgumentNullException.ThrowIfNull(entries);
        ValidateTtl(ttl);
        var list = entries.Distinct().ToList();
        return WriteAsync(
            (c, t) =>
            {
                long now = NowMs;
                long expires = now + (long)ttl.TotalMilliseconds;
                Execute(c, t, "CREATE TEMP TABLE IF NOT EXISTS heartbeat_keep (kind TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, id));");
                Execute(c, t, "DELETE FROM temp.heartbeat_keep;");
                foreach (var e in list)
                {
                    Execute(c, t, "INSERT INTO temp.heartbeat_keep (kind, id) VALUES (@k, @i);", ("@k", e.Kind), ("@i", e.Id));
                    Execute(
                        c,
                        t,
                        """
                        INSERT INTO presence (kind, id, node_id, expires_at) VALUES (@k, @i, @n, @e)
                        ON CONFLICT (kind, id, node_id) DO UPDATE SET expires_at = excluded.expires_at
                            WHERE presence.expires_at < @half;
                        """,
                        ("@k", e.Kind),
                        ("@i", e.Id),
                        ("@n", nodeId),
                        ("@e", expires),
                        ("@half", now + ((long)ttl.TotalMilliseconds / 2)));
                }

                Execute(
                    c,
                    t,
                    "DELETE FROM presence WHERE node_id = @n AND NOT EXISTS (SELECT 1 FROM temp.heartbeat_keep k WHERE k.kind = presence.kind AND k.id = presence.id);",
                    ("@n", nodeId));
                Execute(c, t, "DELETE FROM temp.heartbeat_keep;");
                Execute(c, t, "DELETE FROM presence WHERE expires_at < @old;", ("@old", now - PresenceGraceMs));
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<PresenceEntry>> ListPresenceAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<PresenceEntry>>(
            (c, t) => Query(
                c,
                t,
                "SELECT DISTINCT kind, id FROM presence WHERE expires_at > @now ORDER BY kind, id;",
                r => new PresenceEntry(r.GetString(0), r.GetString(1)),
                ("@now", NowMs)),
            cancellationToken);

    /// <inheritdoc />
    public Task RemovePresenceNodeAsync(string nodeId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        return WriteAsync((c, t) => Execute(c, t, "DELETE FROM presence WHERE node_id = @n;", ("@n", nodeId)), cancellationToken);
    }

    /// <inheritdoc />
    public Task<LeaseRecord?> TryAcquireLeaseAsync(string resource, string owner, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ValidateLease(resource, owner);
        ValidateTtl(ttl);
        return WriteAsync(
            (c, t) =>
            {
                long now = NowMs;
                long expires = now + (long)ttl.TotalMilliseconds;
                var stored = GetLease(c, t, resource);
                if (stored is null)
                {
                    Execute(c, t, "INSERT INTO leases (resource, owner, token, expires_at) VALUES (@r, @o, 1, @e);", ("@r", resource), ("@o", owner), ("@e", expires));
                }
                else if (stored.Owner == owner && stored.ExpiresAt.ToUnixTimeMilliseconds() > now)
                {
                    Execute(c, t, "UPDATE leases SET expires_at = @e WHERE resource = @r;", ("@r", resource), ("@e", expires));
                }
                else if (stored.Owner is null || stored.ExpiresAt.ToUnixTimeMilliseconds() <= now)
                {
                    Execute(c, t, "UPDATE leases SET owner = @o, token = token + 1, expires_at = @e WHERE resource = @r;", ("@r", resource), ("@o", owner), ("@e", expires));
                }
                else
                {
                    return null;
                }

                return GetLease(c, t, resource);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<LeaseRecord?> RenewLeaseAsync(string resource, string owner, long token, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ValidateLease(resource, owner);
        ValidateTtl(ttl);
        return WriteAsync(
            (c, t) =>
            {
                long expires = NowMs + (long)ttl.TotalMilliseconds;
                int changed = Execute(
                    c, t, "UPDATE leases SET expires_at = @e WHERE resource = @r AND owner = @o AND token = @t;", ("@r", resource), ("@o", owner), ("@t", token), ("@e", expires));
                return changed == 0 ? null : GetLease(c, t, resource);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> ReleaseLeaseAsync(string resource, string owner, long token, CancellationToken cancellationToken = default)
    {
        ValidateLease(resource, owner);
        return WriteAsync(
            (c, t) => Execute(
                c, t, "UPDATE leases SET owner = NULL, expires_at = 0 WHERE resource = @r AND owner = @o AND token = @t;", ("@r", resource), ("@o", owner), ("@t", token)) > 0,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<LeaseRecord?> GetLeaseAsync(string resource, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(resource);
        return ReadAsync((c, t) => GetLease(c, t, resource), cancellationToken);
    }

    /// <summary>
    /// Runs a fenced write (see <see cref="StoreFence"/>): when the flow carries a fence, the body runs only if the lease
    /// still carries its owner and token, in the same (immediate) transaction; otherwise nothing is written and the
    /// result is default (null), like a lost compare-and-set.
    /// </summary>
    private Task<T?> WriteFencedAsync<T>(Func<SqliteConnection, SqliteTransaction, T?> body, CancellationToken cancellationToken)
        where T : class
    {
        var fence = StoreFence.Current;
        return WriteAsync(
            (c, t) =>
            {
                if (fence is not null && !Exists(
                        c,
                        t,
                        "SELECT 1 FROM leases WHERE resource = @r AND owner = @o AND token = @t;",
                        ("@r", fence.Resource),
                        ("@o", fence.Owner),
                        ("@t", fence.Token)))
                {
                    return null;
                }

                return body(c, t);
            },
            cancellationToken);
    }

    /// <summary><see cref="WriteFencedAsync{T}"/> for a yes/no write: false when the fence no longer holds.</summary>
    private async Task<bool> WriteFencedFlagAsync(Func<SqliteConnection, SqliteTransaction, bool> body, CancellationToken cancellationToken) =>
        await WriteFencedAsync<object>((c, t) => body(c, t) ? FencedTrue : null, cancellationToken).ConfigureAwait(false) is not null;

    private static readonly object FencedTrue = new();

    private static LeaseRecord? GetLease(SqliteConnection c, SqliteTransaction t, string resource) =>
        QuerySingle(
            c,
            t,
            "SELECT resource, owner, token, expires_at FROM leases WHERE resource = @r;",
            r => new LeaseRecord
            {
                Resource = r.GetString(0),
                Owner = r.IsDBNull(1) ? null : r.GetString(1),
                Token = r.GetInt64(2),
                ExpiresAt = FromUnixMilliseconds(r.GetInt64(3)),
            },
            ("@r", resource));

    internal static void ValidateLease(string resource, string owner)
    {
        ArgumentException.ThrowIfNullOrEmpty(resource);
        ArgumentException.ThrowIfNullOrEmpty(owner);
    }

    internal static void ValidateTtl(TimeSpan ttl)
    {
        if (ttl <= TimeSpan.Zero || ttl > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "The TTL must be in (0, 1 h].");
        }
    }
}
