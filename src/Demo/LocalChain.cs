using System.Diagnostics;
using System.Globalization;
using System.Text;
using PrivateHealth.Ethereum;
using PrivateHealth.Networking;

namespace PrivateHealth.Demo;

/// <summary>
/// A local `hardhat node` (chain id 31337, funded accounts from hardhat's default mnemonic) started from
/// contracts/node_modules on a free loopback port; disposing it kills the process tree.
/// </summary>
internal sealed class LocalChain : IAsyncDisposable
{
    /// <summary>Private keys of hardhat's first default accounts (10,000 ETH each on a fresh node): admin, operator, payer, relayer.</summary>
    public static readonly IReadOnlyList<string> DefaultPrivateKeys =
    [
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    ];

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private LocalChain(Process process, Uri rpcUrl)
    {
        _process = process;
        RpcUrl = rpcUrl;
    }

    public Uri RpcUrl { get; }

    /// <summary>What the node printed so far (bounded).</summary>
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

    /// <summary>The folder holding PrivateHealth.sln: walking up from the binaries, then from the working directory.</summary>
    public static string RepoRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "PrivateHealth.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException($"PrivateHealth.sln not found above {AppContext.BaseDirectory}; run the demo from the repository (./privatehealth demo).");
    }

    public static async Task<LocalChain> StartAsync(string repoRoot, CancellationToken ct)
    {
        string contracts = Path.Combine(repoRoot, "contracts");
        string cli = Path.Combine(contracts, "node_modules", "hardhat", "internal", "cli", "cli.js");
        if (!File.Exists(cli))
        {
            throw new InvalidOperationException($"{cli} is missing: run `npm ci --prefix contracts` in {repoRoot} (./privatehealth demo does it).");
        }

        int port = LoopbackPort.Free();
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = contracts,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { cli, "node", "--hostname", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture) })
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
            throw new InvalidOperationException("Could not start `node` (Node.js 20+ must be on PATH).", ex);
        }

        var chain = new LocalChain(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => chain.Append(e.Data);
        process.ErrorDataReceived += (_, e) => chain.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await chain.WaitUntilReadyAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            await chain.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return chain;
    }

    private async Task WaitUntilReadyAsync(CancellationToken ct)
    {
        using var rpc = new JsonRpcClient(RpcUrl, new JsonRpcClientOptions { Timeout = TimeSpan.FromSeconds(3), MaxRetries = 0 });
        var watch = Stopwatch.StartNew();
        Exception? last = null;
        while (watch.Elapsed < TimeSpan.FromSeconds(90))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The hardhat node exited with code {_process.ExitCode}. Output:\n{Output}");
            }

            try
            {
                await rpc.GetChainIdAsync(ct).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when ((ex is HttpRequestException or TaskCanceledException or IOException or RpcException or RpcTransportException) && !ct.IsCancellationRequested)
            {
                last = ex;
            }

            await Task.Delay(200, ct).ConfigureAwait(false);
        }

        throw new TimeoutException($"The hardhat node at {RpcUrl} did not answer eth_chainId within 90 s (last error: {last?.Message}).");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 100_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            _process.Dispose();
        }
    }
}
