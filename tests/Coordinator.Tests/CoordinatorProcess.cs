using System.Diagnostics;
using System.Globalization;
using System.Text;
using PrivateHealth.Networking;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>A real coordinator process (dotnet PrivateHealth.Coordinator.dll) on a fixed loopback port, killable with SIGKILL.</summary>
internal sealed class CoordinatorProcess : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private Process? _process;

    public CoordinatorProcess(string dataDirectory, IReadOnlyList<string>? extraArguments = null)
    {
        DataDirectory = dataDirectory;
        Port = LoopbackPort.Free();
        ExtraArguments = extraArguments ?? [];
    }

    /// <summary>More <c>--Coordinator:…</c> flags (e.g. the PostgreSQL store of a cluster node); later flags win.</summary>
    public IReadOnlyList<string> ExtraArguments { get; }

    /// <summary>Whether the process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    public string DataDirectory { get; }
    public int Port { get; }
    public Uri Address => new($"http://127.0.0.1:{Port}");
    public int Starts { get; private set; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>
    /// The flags of cluster node <paramref name="node"/> ("node-{i}") over one PostgreSQL schema, sharing the development
    /// issuer key at <paramref name="issuerKeyPath"/>; timings are left to the caller.
    /// </summary>
    public static List<string> ClusterArguments(string connectionString, string schema, string issuerKeyPath, int node) =>
    [
        "--Coordinator:StoreProvider=postgres",
        $"--Coordinator:PostgresConnectionString={connectionString}",
        $"--Coordinator:PostgresSchema={schema}",
        $"--Coordinator:DevelopmentIssuerKeyPath={issuerKeyPath}",
        $"--Coordinator:NodeId=node-{node}",
    ];

    /// <summary>The index of the node owning a lease ("node-2#a1b2c3": NodeId, then the process's suffix → 2).</summary>
    public static int NodeIndex(string? owner) =>
        owner?.Split('#')[0] is { } node && node.StartsWith("node-", StringComparison.Ordinal)
            ? int.Parse(node[5..], CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"no lease owner ('{owner}')");

    /// <summary>The last <paramref name="lines"/> lines of every node's log (to show why a run failed).</summary>
    public static string LogTails(IReadOnlyList<CoordinatorProcess> nodes, int lines) =>
        string.Join('\n', nodes.Select((n, i) => $"---- node-{i} log (last {lines} lines)\n{string.Join('\n', n.Log.Split('\n').TakeLast(lines))}"));

    /// <summary>Starts the process and waits for its "ready" line.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "PrivateHealth.Coordinator.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add($"--Coordinator:DataDirectory={DataDirectory}");
        info.ArgumentList.Add($"--Coordinator:GrpcPort={Port}");
        info.ArgumentList.Add("--Coordinator:HttpPort=-1");
        info.ArgumentList.Add("--Coordinator:TickInterval=00:00:00.050");
        info.ArgumentList.Add("--Logging:LogLevel:Default=Information");
        info.ArgumentList.Add("--Logging:LogLevel:Microsoft=Warning");
        foreach (var argument in ExtraArguments)
        {
            info.ArgumentList.Add(argument);
        }
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_log)
            {
                _log.AppendLine(e.Data);
            }

            if (e.Data.Contains("coordinator ready", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_log)
                {
                    _log.AppendLine("ERR " + e.Data);
                }
            }
        };
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("coordinator exited before it was ready:\n" + Log));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Starts++;
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await KillAsync();
}
