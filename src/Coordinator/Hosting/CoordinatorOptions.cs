using Microsoft.Extensions.Options;

namespace PrivateHealth.Coordinator.Hosting;

/// <summary>Coordinator settings (configuration section <c>Coordinator</c>); validated at start-up.</summary>
public sealed class CoordinatorOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Coordinator";

    /// <summary>Directory for the SQLite database and the development issuer key. Default <c>./coordinator-data</c>.</summary>
    public string DataDirectory { get; set; } = "coordinator-data";

    /// <summary>SQLite database file; default <c>{DataDirectory}/coordinator.db</c>.</summary>
    public string? DatabasePath { get; set; }

    /// <summary>Address to listen on. Default 127.0.0.1 (loopback only).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>gRPC port: HTTP/2 cleartext (h2c) or, with <see cref="TlsCertificatePath"/>, TLS with ALPN. 0 picks a free port.</summary>
    public int GrpcPort { get; set; } = 5070;

    /// <summary>HTTP/1.1 port for health checks (and the job API). 0 picks a free port; -1 disables it.</summary>
    public int HttpPort { get; set; } = 5071;

    /// <summary>PFX certificate for TLS on the gRPC port (null: cleartext h2c, for loopback).</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>Password of <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsCertificatePassword { get; set; }

    /// <summary>Largest accepted gRPC message (an upload with all its ciphertexts), in bytes. Default 16 MiB.</summary>
    public int MaxUploadBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest single ciphertext in an upload, in bytes. Default 4 MiB.</summary>
    public int MaxCiphertextBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Use the embedded development token issuer (demo and tests). Default true.</summary>
    public bool DevelopmentIssuer { get; set; } = true;

    /// <summary>PEM file of the development issuer's key (created when missing); default <c>{DataDirectory}/dev-issuer.pem</c>.</summary>
    public string? DevelopmentIssuerKeyPath { get; set; }

    /// <summary>External OIDC issuer (when <see cref="DevelopmentIssuer"/> is false).</summary>
    public string? Authority { get; set; }

    /// <summary>Expected audience of external tokens.</summary>
    public string? Audience { get; set; }

    /// <summary>Require https for the external issuer's metadata. Default true.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>How often the round and ceremony state machines are stepped when nothing signals them. Default 250 ms.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a custodian task may stay unanswered before the round (or ceremony) fails. Default 2 minutes.</summary>
    public TimeSpan CustodianTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>On-chain settlement (off by default).</summary>
    public Settlement.ChainSettings Chain { get; set; } = new();

    /// <summary>"sqlite" (default: one node, the database file in the data directory) or "postgres" (several nodes over one PostgreSQL).</summary>
    public string StoreProvider { get; set; } = "sqlite";

    /// <summary>Npgsql connection string when <see cref="StoreProvider"/> is "postgres".</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>Optional PostgreSQL schema for the coordinator's tables (created when missing).</summary>
    public string? PostgresSchema { get; set; }

    /// <summary>
    /// This node's id in presence rows and lease owners (decision 0018). Default: random per process
    /// (<c>{machine}-{pid}-{random}</c>), so a restarted node never mistakes an old lease for its own.
    /// </summary>
    public string NodeId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>
    /// Several nodes over one store: shared presence heartbeats, per-job leases with fencing and polling wakeups.
    /// Default: on when <see cref="StoreProvider"/> is "postgres", off for SQLite (one node).
    /// </summary>
    public bool? Cluster { get; set; }

    /// <summary>Lease of a job (training, query, ceremony, cohort fold, settlement) held while a node steps it; renewed every third of it. Default 8 s.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>How often a node writes its presence heartbeat and reads everyone's (also at once when a connection to it opens or closes). Default 1 s.</summary>
    public TimeSpan PresenceInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a node's presence rows outlive its last heartbeat. Default 5 s.</summary>
    public TimeSpan PresenceTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a cluster node wakes its watchers (round and task streams) to re-read the store, so that what another node wrote reaches them. Default 500 ms.</summary>
    public TimeSpan WakeInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Whether the cluster mode is on (see <see cref="Cluster"/>).</summary>
    public bool ClusterEnabled => Cluster ?? StoreProvider == "postgres";

    /// <summary>How long online agents have to answer a federated query's collection round (default 2 min).</summary>
    public TimeSpan FederatedQueryDeadline { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>After a federated collection has its minimum of answers, how long to wait for more (default 5 s).</summary>
    public TimeSpan FederatedQueryWaitAfterMinimum { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Write OpenTelemetry metrics to the console exporter. Default false.</summary>
    public bool ConsoleMetrics { get; set; }

    /// <summary>Resolved database path.</summary>
    public string ResolvedDatabasePath => DatabasePath ?? Path.Combine(DataDirectory, "coordinator.db");

    /// <summary>Resolved issuer key path.</summary>
    public string ResolvedIssuerKeyPath => DevelopmentIssuerKeyPath ?? Path.Combine(DataDirectory, "dev-issuer.pem");

    /// <summary>Every problem of these settings (empty when valid).</summary>
    public IReadOnlyList<string> Problems()
    {
        var p = new List<string>();
        if (string.IsNullOrWhiteSpace(DataDirectory)) { p.Add("DataDirectory is required."); }
        if (!System.Net.IPAddress.TryParse(ListenAddress, out _)) { p.Add($"ListenAddress '{ListenAddress}' is not an IP address."); }
        if (GrpcPort is < 0 or > 65535) { p.Add("GrpcPort must be in [0, 65535]."); }
        if (HttpPort is < -1 or > 65535) { p.Add("HttpPort must be in [-1, 65535]."); }
        if (MaxUploadBytes is < 1024 or > 1024 * 1024 * 1024) { p.Add("MaxUploadBytes must be in [1 KiB, 1 GiB]."); }
        if (MaxCiphertextBytes < 1024 || MaxCiphertextBytes > MaxUploadBytes) { p.Add("MaxCiphertextBytes must be in [1 KiB, MaxUploadBytes]."); }
        if (!DevelopmentIssuer && (string.IsNullOrWhiteSpace(Authority) || string.IsNullOrWhiteSpace(Audience)))
        {
            p.Add("Without the development issuer, Authority and Audience are required.");
        }

        if (TickInterval <= TimeSpan.Zero || TickInterval > TimeSpan.FromMinutes(1)) { p.Add("TickInterval must be in (0, 1 min]."); }
        if (CustodianTimeout < TimeSpan.FromSeconds(1)) { p.Add("CustodianTimeout must be at least 1 s."); }
        p.AddRange(Chain.Problems());
        if (StoreProvider is not ("sqlite" or "postgres")) { p.Add($"StoreProvider '{StoreProvider}' must be 'sqlite' or 'postgres'."); }
        if (StoreProvider == "postgres" && string.IsNullOrWhiteSpace(PostgresConnectionString)) { p.Add("StoreProvider 'postgres' needs PostgresConnectionString."); }
        if (string.IsNullOrWhiteSpace(NodeId) || NodeId.Length > 200) { p.Add("NodeId must be 1 to 200 characters."); }
        if (LeaseTtl < TimeSpan.FromSeconds(1) || LeaseTtl > TimeSpan.FromMinutes(10)) { p.Add("LeaseTtl must be in [1 s, 10 min]."); }
        if (PresenceInterval < TimeSpan.FromMilliseconds(50) || PresenceInterval > TimeSpan.FromSeconds(30)) { p.Add("PresenceInterval must be in [50 ms, 30 s]."); }
        if (WakeInterval < TimeSpan.FromMilliseconds(20) || WakeInterval > TimeSpan.FromSeconds(30)) { p.Add("WakeInterval must be in [20 ms, 30 s]."); }
        if (PresenceTtl < PresenceInterval * 2 || PresenceTtl > TimeSpan.FromMinutes(10)) { p.Add("PresenceTtl must be at least twice PresenceInterval (and at most 10 min)."); }
        if (FederatedQueryDeadline < TimeSpan.FromMilliseconds(100)) { p.Add("FederatedQueryDeadline must be at least 100 ms."); }
        if (FederatedQueryWaitAfterMinimum < TimeSpan.Zero) { p.Add("FederatedQueryWaitAfterMinimum must be >= 0."); }
        if (TlsCertificatePath is not null && !File.Exists(TlsCertificatePath)) { p.Add($"TlsCertificatePath '{TlsCertificatePath}' does not exist."); }
        return p;
    }
}

/// <summary>Fails start-up with every problem of <see cref="CoordinatorOptions"/>.</summary>
internal sealed class CoordinatorOptionsValidator : IValidateOptions<CoordinatorOptions>
{
    public ValidateOptionsResult Validate(string? name, CoordinatorOptions options)
    {
        var problems = options.Problems();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
