using System.Diagnostics;
using System.Text;
using System.Text.Json;
using PrivateHealth.Networking;

namespace PrivateHealth.Ethereum.Testing;

/// <summary>
/// xUnit fixture for a local Ethereum node. Uses the endpoint in PRIVATEHEALTH_ETH_RPC when set;
/// otherwise starts the hardhat node from &lt;repo&gt;/contracts/node_modules on a free port
/// (chain id 31337, funded accounts from the "test test … junk" mnemonic) and waits until
/// eth_chainId answers. Dispose kills the process tree. <see cref="StopAsync"/> and
/// <see cref="RestartAsync"/> (same port, fresh chain) support fault tests.
/// Self-contained (no project references; it needs src/Shared/LoopbackPort.cs linked too) so that other test projects can link this file.
/// </summary>
public sealed class HardhatNode : IAsyncLifetime
{
    /// <summary>The variable naming an external node (e.g. http://127.0.0.1:8545).</summary>
    public const string EnvironmentVariable = "PRIVATEHEALTH_ETH_RPC";

    /// <summary>Hardhat's default mnemonic.</summary>
    public const string Mnemonic = "test test test test test test test test test test test junk";

    /// <summary>Private keys of hardhat's first default accounts (10000 ETH each on a fresh node).</summary>
    public static readonly IReadOnlyList<string> DefaultPrivateKeys =
    [
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
        "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
        "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
        "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    ];

    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(60);
    private readonly bool _allowExternal;
    private readonly StringBuilder _output = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private Process? _process;
    private int _port;

    /// <summary>Uses PRIVATEHEALTH_ETH_RPC when set (the shared fixture).</summary>
    public HardhatNode()
        : this(allowExternal: true)
    {
    }

    private HardhatNode(bool allowExternal) => _allowExternal = allowExternal;

    /// <summary>A node that always starts locally, ignoring PRIVATEHEALTH_ETH_RPC (needed for Stop/Restart).</summary>
    public static HardhatNode CreateLocal() => new(allowExternal: false);

    /// <summary>The JSON-RPC endpoint.</summary>
    public Uri RpcUrl { get; private set; } = new("http://127.0.0.1:8545");

    /// <summary>True when the node came from PRIVATEHEALTH_ETH_RPC (Stop/Restart are then unavailable).</summary>
    public bool IsExternal { get; private set; }

    /// <summary>What the node process printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The folder holding PrivateHealth.sln, found by walking up from the test assembly.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "PrivateHealth.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"PrivateHealth.sln not found above {AppContext.BaseDirectory}.");
        }
    }

    public async ValueTask InitializeAsync()
    {
        string? external = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (_allowExternal && !string.IsNullOrWhiteSpace(external))
        {
            RpcUrl = new Uri(external);
            IsExternal = true;
            await WaitUntilReadyAsync(process: null);
            return;
        }

        _port = LoopbackPort.Free();
        RpcUrl = new Uri($"http://127.0.0.1:{_port}");
        await StartProcessAsync();
    }

    /// <summary>Kills the node (process tree) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        ThrowIfExternal();
        Process? process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>Starts the node again on the same port (a fresh chain).</summary>
    public async Task RestartAsync()
    {
        ThrowIfExternal();
        await StopAsync();
        await StartProcessAsync();
    }

    /// <summary>A raw JSON-RPC call (for test helpers such as evm_mine); returns the "result" element.</summary>
    public async Task<JsonElement> RpcAsync(string method, params object[] parameters)
    {
        string body = JsonSerializer.Serialize(new { jsonrpc = "2.0", id = 1, method, @params = parameters });
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _http.PostAsync(RpcUrl, content);
        using JsonDocument document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        if (document.RootElement.TryGetProperty("error", out JsonElement error))
        {
            throw new InvalidOperationException($"{method} failed: {error.GetRawText()}");
        }

        return document.RootElement.GetProperty("result").Clone();
    }

    /// <summary>Mines <paramref name="blocks"/> empty blocks.</summary>
    public async Task MineAsync(int blocks = 1)
    {
        for (int i = 0; i < blocks; i++)
        {
            await RpcAsync("evm_mine");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!IsExternal)
        {
            await StopAsync();
        }

        _http.Dispose();
    }

    private async Task StartProcessAsync()
    {
        string contracts = Path.Combine(RepoRoot, "contracts");
        string cli = Path.Combine(contracts, "node_modules", "hardhat", "internal", "cli", "cli.js");
        if (!File.Exists(cli))
        {
            throw new InvalidOperationException($"{cli} is missing. Run `npm ci --prefix contracts` in the repository root ({RepoRoot}).");
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = contracts,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { cli, "node", "--hostname", "127.0.0.1", "--port", _port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["HARDHAT_DISABLE_TELEMETRY_PROMPT"] = "true";
        start.Environment["CI"] = "true";
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("Could not start `node` (is Node.js 20+ on PATH?). Then run `npm ci --prefix contracts`.", ex);
        }

        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        await WaitUntilReadyAsync(process);
    }

    private async Task WaitUntilReadyAsync(Process? process)
    {
        var watch = Stopwatch.StartNew();
        Exception? last = null;
        while (watch.Elapsed < StartupTimeout)
        {
            if (process is { HasExited: true })
            {
                throw new InvalidOperationException($"The hardhat node exited with code {process.ExitCode} before answering eth_chainId. Output:\n{Output}");
            }

            try
            {
                await RpcAsync("eth_chainId");
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
            {
                last = ex;
            }

            await Task.Delay(150);
        }

        if (process is not null)
        {
            process.Kill(entireProcessTree: true);
        }

        throw new TimeoutException($"The Ethereum node at {RpcUrl} did not answer eth_chainId within {StartupTimeout.TotalSeconds} s (last error: {last?.Message}). Output:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 200_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    private void ThrowIfExternal()
    {
        if (IsExternal)
        {
            throw new InvalidOperationException($"Stop/Restart need a node started by the fixture; this one comes from {EnvironmentVariable}. Use HardhatNode.CreateLocal().");
        }
    }
}
