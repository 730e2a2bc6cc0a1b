using System.Net;
using System.Net.Sockets;
using System.Numerics;
using PrivateHealth.Ethereum.Testing;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>Live tests of transfers, receipts and fees on the shared node (hardhat account 0).</summary>
public sealed class ChainTests(HardhatNode node)
{
    private static readonly BigInteger OneEther = BigInteger.Pow(10, 18);

    [Fact]
    public async Task ChainIdBlockNumberAndFundedBalance()
    {
        using JsonRpcClient rpc = Live.Client(node);
        Assert.Equal(new BigInteger(31337), await rpc.GetChainIdAsync(TestContext.Current.CancellationToken));
        Assert.True(await rpc.GetBlockNumberAsync(TestContext.Current.CancellationToken) >= 0);
        Address account0 = EthKey.FromHex(HardhatNode.DefaultPrivateKeys[0]).Address;
        Assert.True(await rpc.GetBalanceAsync(account0, null, TestContext.Current.CancellationToken) > 1000 * OneEther);
        Assert.Empty(await rpc.GetCodeAsync(account0, null, TestContext.Current.CancellationToken));
        Assert.True(await rpc.GetGasPriceAsync(TestContext.Current.CancellationToken) > 0);
    }

    [Fact]
    public async Task Eip1559AndLegacyValueTransfers()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using JsonRpcClient rpc = Live.Client(node);
        EthereumAccount account = Live.Account(node, 0, rpc);
        Address recipient = EthKey.Generate().Address;

        TransactionReceipt eip1559 = await account.SendAndWaitAsync(new TransactionRequest { To = recipient, Value = OneEther }, ct);
        Assert.True(eip1559.Succeeded);
        Assert.Equal(account.Address, eip1559.From);
        Assert.Equal(recipient, eip1559.To);
        Assert.Equal(new BigInteger(21000), eip1559.GasUsed);
        Assert.True(eip1559.EffectiveGasPrice > 0);
        var tx = (await rpc.GetTransactionByHashAsync(eip1559.TransactionHash, ct))!.Value;
        Assert.Equal("0x2", tx.GetProperty("type").GetString());

        TransactionReceipt legacy = await account.SendAndWaitAsync(new TransactionRequest { To = recipient, Value = 2 * OneEther, Legacy = true }, ct);
        Assert.True(legacy.Succeeded);
        var legacyTx = (await rpc.GetTransactionByHashAsync(legacy.TransactionHash, ct))!.Value;
        Assert.Equal("0x0", legacyTx.GetProperty("type").GetString());
        Assert.Equal(3 * OneEther, await rpc.GetBalanceAsync(recipient, null, ct));
    }

    [Fact]
    public async Task ReceiptWaitsForConfirmations()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using JsonRpcClient rpc = Live.Client(node);
        EthereumAccount account = Live.Account(node, 0, rpc);
        Hash32 hash = await account.SendAsync(new TransactionRequest { To = EthKey.Generate().Address, Value = 1 }, ct);

        Task<TransactionReceipt> waiting = account.WaitForReceiptAsync(hash, confirmations: 3, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(50), null, ct);
        await Task.Delay(200, ct);
        await node.MineAsync(2);
        TransactionReceipt receipt = await waiting.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(hash, receipt.TransactionHash);

        // Other test classes share the node and may mine too, so check the condition rather than the timing.
        Assert.True(await rpc.GetBlockNumberAsync(ct) >= receipt.BlockNumber + 2);
        TransactionReceipt mined = await account.WaitForReceiptAsync(hash, 1, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50), null, ct);
        Assert.Equal(receipt.BlockNumber, mined.BlockNumber);

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => account.WaitForReceiptAsync(Hash32.Keccak([1, 2, 3]), 1, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(50), null, ct));
        Assert.Contains("was not mined", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FeesFollowTheFeeHistory()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using JsonRpcClient rpc = Live.Client(node);
        EthereumAccount account = Live.Account(node, 0, rpc);

        // Other projects mine on the shared node and the base fee moves with every block, so the
        // comparison is made only for a history and an estimate read at the same block height.
        for (int attempt = 0; ; attempt++)
        {
            var before = await rpc.GetBlockNumberAsync(ct);
            FeeHistory history = await rpc.GetFeeHistoryAsync(3, BlockTag.Latest, [50], ct);
            Assert.NotEmpty(history.BaseFeePerGas);
            FeeEstimate fees = await account.EstimateFeesAsync(ct);
            Assert.True(fees.MaxPriorityFeePerGas > 0);
            Assert.Equal((2 * fees.BaseFee) + fees.MaxPriorityFeePerGas, fees.MaxFeePerGas);
            if (await rpc.GetBlockNumberAsync(ct) != before && attempt < 20)
            {
                continue;
            }

            Assert.Equal(history.BaseFeePerGas[^1], fees.BaseFee);
            break;
        }
    }

    [Fact]
    public async Task JsonRpcErrorsAreNotRetriedAndCarryCodeAndMessage()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using JsonRpcClient rpc = Live.Client(node);
        var ex = await Assert.ThrowsAsync<RpcException>(() => rpc.RequestAsync("eth_noSuchMethod", [], ct));
        Assert.NotEqual(0, ex.Code);
        Assert.Contains("eth_noSuchMethod", ex.Message, StringComparison.Ordinal);

        using var fake = new FakeRpcServer(_ => (200, """{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"insufficient funds","data":"0x"}}"""));
        using var client = new JsonRpcClient(fake.Url, new JsonRpcClientOptions { MaxRetries = 5, InitialBackoff = TimeSpan.FromMilliseconds(10) });
        var rpcError = await Assert.ThrowsAsync<RpcException>(() => client.GetBlockNumberAsync(ct));
        Assert.Equal(-32000, rpcError.Code);
        Assert.Equal("insufficient funds", rpcError.RpcMessage);
        Assert.Equal(1, fake.Requests);
    }

    [Fact]
    public async Task Http5xxIsRetriedWithBackoffThenSucceeds()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using var fake = new FakeRpcServer(n => n <= 2 ? (503, "busy") : (200, """{"jsonrpc":"2.0","id":1,"result":"0x2a"}"""));
        using var client = new JsonRpcClient(fake.Url, new JsonRpcClientOptions { MaxRetries = 3, InitialBackoff = TimeSpan.FromMilliseconds(20) });
        Assert.Equal(new BigInteger(42), await client.GetBlockNumberAsync(ct));
        Assert.Equal(3, fake.Requests);

        using var alwaysDown = new FakeRpcServer(_ => (502, "bad gateway"));
        using var giveUp = new JsonRpcClient(alwaysDown.Url, new JsonRpcClientOptions { MaxRetries = 2, InitialBackoff = TimeSpan.FromMilliseconds(10) });
        var ex = await Assert.ThrowsAsync<RpcTransportException>(() => giveUp.GetBlockNumberAsync(ct));
        Assert.Contains("HTTP 502", ex.Message, StringComparison.Ordinal);
        Assert.Equal(3, alwaysDown.Requests);
    }

    [Fact]
    public async Task ATimeoutGivesAClearException()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        // A listener that accepts connections and never answers.
        using var blackHole = new TcpListener(IPAddress.Loopback, 0);
        blackHole.Start();
        int port = ((IPEndPoint)blackHole.LocalEndpoint).Port;
        using var client = new JsonRpcClient(new Uri($"http://127.0.0.1:{port}"), new JsonRpcClientOptions { Timeout = TimeSpan.FromMilliseconds(300), MaxRetries = 1, InitialBackoff = TimeSpan.FromMilliseconds(10) });
        var started = DateTime.UtcNow;
        var ex = await Assert.ThrowsAsync<RpcTimeoutException>(() => client.GetChainIdAsync(ct));
        Assert.Contains("eth_chainId", ex.Message, StringComparison.Ordinal);
        Assert.Contains("timed out after 0.3 s", ex.Message, StringComparison.Ordinal);
        Assert.Contains("attempt 2 of 2", ex.Message, StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "two 0.3 s attempts must not hang");
    }
}
