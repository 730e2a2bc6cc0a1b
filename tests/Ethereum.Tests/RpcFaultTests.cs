using System.Numerics;
using PrivateHealth.Ethereum.Testing;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>A private hardhat node per class (always local, even with PRIVATEHEALTH_ETH_RPC) that is stopped and restarted.</summary>
public sealed class PrivateHardhatNode : IAsyncLifetime
{
    public HardhatNode Node { get; } = HardhatNode.CreateLocal();

    public ValueTask InitializeAsync() => Node.InitializeAsync();

    public ValueTask DisposeAsync() => Node.DisposeAsync();
}

/// <summary>Transport failures are retried: a call made while the node is down succeeds once it is back.</summary>
public sealed class RpcFaultTests(PrivateHardhatNode fixture) : IClassFixture<PrivateHardhatNode>
{
    [Fact]
    public async Task ACallRetriesThroughANodeRestart()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        HardhatNode node = fixture.Node;
        using var rpc = new JsonRpcClient(node.RpcUrl, new JsonRpcClientOptions
        {
            Timeout = TimeSpan.FromSeconds(5),
            MaxRetries = 200, // about 3 minutes of retrying: a cold hardhat restart on a loaded 2-core box can take a minute
            InitialBackoff = TimeSpan.FromMilliseconds(100),
            MaxBackoff = TimeSpan.FromSeconds(1),
        });
        Assert.Equal(new BigInteger(31337), await rpc.GetChainIdAsync(ct));

        await node.StopAsync();
        using var down = new JsonRpcClient(node.RpcUrl, new JsonRpcClientOptions { MaxRetries = 1, InitialBackoff = TimeSpan.FromMilliseconds(10) });
        var refused = await Assert.ThrowsAsync<RpcTransportException>(() => down.GetChainIdAsync(ct));
        Assert.Contains("attempt 2 of 2", refused.Message, StringComparison.Ordinal);

        Task<BigInteger> duringOutage = rpc.GetChainIdAsync(ct);
        await Task.Delay(500, ct);
        Assert.False(duringOutage.IsCompleted);
        await node.RestartAsync();
        Assert.Equal(new BigInteger(31337), await duringOutage.WaitAsync(TimeSpan.FromSeconds(120), ct));
    }
}
