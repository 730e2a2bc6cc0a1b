using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using PrivateHealth.Ethereum.Testing;
using PrivateHealth.Networking;

[assembly: AssemblyFixture(typeof(HardhatNode))]

namespace PrivateHealth.Ethereum.Tests;

/// <summary>Compiles tests/Ethereum.Tests/contracts/Probe.sol with solc-js once and writes the artifact file.</summary>
public sealed class ProbeArtifact : IAsyncLifetime
{
    public string ArtifactPath { get; private set; } = string.Empty;

    public ContractArtifact Artifact { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        NodeTools.RequireNodePackages("solc");
        string source = Path.Combine(AppContext.BaseDirectory, "contracts", "Probe.sol");
        string output = await NodeTools.RunAsync(NodeTools.Script("compile.js"), string.Empty, TimeSpan.FromSeconds(60), NodeTools.NodeModules, source);
        JsonNode probe = JsonNode.Parse(output)!.AsArray().Single(a => a!["contractName"]!.GetValue<string>() == "Probe")!;
        ArtifactPath = Path.Combine(Path.GetTempPath(), $"Probe-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(ArtifactPath, probe.ToJsonString());
        Artifact = ContractArtifact.Load(ArtifactPath);
    }

    public ValueTask DisposeAsync()
    {
        File.Delete(ArtifactPath);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Helpers shared by the live-chain tests.</summary>
internal static class Live
{
    public static JsonRpcClient Client(HardhatNode node, JsonRpcClientOptions? options = null) =>
        new(node.RpcUrl, options ?? new JsonRpcClientOptions { Timeout = TimeSpan.FromSeconds(10), MaxRetries = 2 });

    /// <summary>Fast polling: hardhat automines every transaction.</summary>
    public static TransactionOptions Fast { get; } = new() { PollingInterval = TimeSpan.FromMilliseconds(50), ReceiptTimeout = TimeSpan.FromSeconds(20) };

    public static EthereumAccount Account(HardhatNode node, int index, JsonRpcClient rpc, NonceManager? nonces = null) =>
        new(EthKey.FromHex(HardhatNode.DefaultPrivateKeys[index]), rpc, nonces, Fast);
}

/// <summary>A scripted HTTP JSON-RPC endpoint that counts requests (for retry policy tests).</summary>
internal sealed class FakeRpcServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<int, (int Status, string Body)> _respond;
    private int _requests;

    public FakeRpcServer(Func<int, (int Status, string Body)> respond)
    {
        _respond = respond;
        int port = LoopbackPort.Free();
        Url = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public Uri Url { get; }

    public int Requests => Volatile.Read(ref _requests);

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            int n = Interlocked.Increment(ref _requests);
            (int status, string body) = _respond(n);
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
    }
}
