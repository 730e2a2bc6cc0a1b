using PrivateHealth.Testing;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>Coordinator processes of one cluster over one PostgreSQL schema, and what the cluster tests read about their leases.</summary>
internal static class ClusterNodes
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// <paramref name="count"/> coordinator processes (node-0, node-1, …) on <paramref name="schema"/>, sharing the
    /// development issuer key at <paramref name="issuerKeyPath"/>, with short ticks, a 3 s lease TTL and a 2 s presence
    /// TTL so a SIGKILLed node's work moves within seconds; <paramref name="extra"/> adds flags per node.
    /// </summary>
    public static List<CoordinatorProcess> Create(string directory, PostgresServer pg, string schema, string issuerKeyPath, int count, Func<int, IEnumerable<string>>? extra = null) =>
        [.. Enumerable.Range(0, count).Select(i => new CoordinatorProcess(Path.Combine(directory, $"node-{i}"),
        [
            .. CoordinatorProcess.ClusterArguments(pg.ConnectionStringWith(24), schema, issuerKeyPath, i),
            "--Coordinator:TickInterval=00:00:00.100",
            "--Coordinator:LeaseTtl=00:00:03",
            "--Coordinator:PresenceInterval=00:00:00.250",
            "--Coordinator:PresenceTtl=00:00:02",
            .. extra?.Invoke(i) ?? [],
        ]))];

    /// <summary>The surviving node that logged taking over <paramref name="resource"/>'s lease with a new fencing token.</summary>
    public static string TakenOverBy(List<CoordinatorProcess> nodes, int victim, string resource)
    {
        var takers = Enumerable.Range(0, nodes.Count).Where(i => i != victim && nodes[i].Log.Contains($"Took the lease of {resource} (fencing token", StringComparison.Ordinal)).ToList();
        Assert.True(takers.Count >= 1, $"no surviving node took over {resource}");
        return string.Join(",", takers.Select(i => $"node-{i}"));
    }

    /// <summary>The node holding an unexpired lease of <paramref name="resource"/>, or "".</summary>
    public static async Task<string> LeaseOwnerAsync(PostgresServer pg, string schema, string resource) =>
        await pg.ScalarAsync<string>($"SELECT owner FROM leases WHERE resource = '{resource}' AND expires_at > clock_timestamp();", schema) ?? "";

    /// <summary>
    /// The node holding an unexpired lease of <paramref name="resource"/>, once there is one: a single read can find none
    /// while the holder's renewal is late on a loaded machine (the lease expired a moment before it is renewed).
    /// </summary>
    public static async Task<string> WaitForLeaseOwnerAsync(PostgresServer pg, string schema, string resource, TimeSpan timeout)
    {
        string owner = "";
        await WaitUntilAsync(async () => (owner = await LeaseOwnerAsync(pg, schema, resource)) != "", timeout, $"a holder of {resource}'s lease");
        return owner;
    }

    /// <summary>Polls <paramref name="condition"/> every 25 ms until it holds; a timeout is an error.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string? what = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what ?? "condition"} not reached within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(25, Ct);
        }
    }
}
