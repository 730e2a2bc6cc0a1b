using System.Numerics;
using PrivateHealth.Ethereum.Testing;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>Nonce management under concurrency and failures (hardhat account 2).</summary>
public sealed class NonceManagerTests(HardhatNode node)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TwentyConcurrentSendsAreAllMinedWithContiguousNonces()
    {
        using JsonRpcClient rpc = Live.Client(node);
        EthereumAccount account = Live.Account(node, 2, rpc);
        BigInteger start = await rpc.GetTransactionCountAsync(account.Address, BlockTag.Pending, Ct);

        Task<TransactionReceipt>[] sends = [.. Enumerable.Range(0, 20).Select(i => Task.Run(() => account.SendAndWaitAsync(new TransactionRequest { To = EthKey.Generate().Address, Value = i + 1, Legacy = i % 5 == 0 }, Ct), Ct))];
        TransactionReceipt[] receipts = await Task.WhenAll(sends);

        Assert.All(receipts, r => Assert.True(r.Succeeded));
        var nonces = new List<BigInteger>();
        foreach (TransactionReceipt receipt in receipts)
        {
            var tx = (await rpc.GetTransactionByHashAsync(receipt.TransactionHash, Ct))!.Value;
            nonces.Add(Hex.DecodeQuantity(tx.GetProperty("nonce").GetString()!));
        }

        Assert.Equal(Enumerable.Range(0, 20).Select(i => start + i), nonces.Order());
        Assert.Equal(start + 20, await rpc.GetTransactionCountAsync(account.Address, BlockTag.Pending, Ct));
    }

    [Fact]
    public async Task ARejectedSendLeavesNoGapAndAForeignSendIsResynced()
    {
        using JsonRpcClient rpc = Live.Client(node);
        var nonces = new NonceManager(rpc);
        EthereumAccount account = Live.Account(node, 3, rpc, nonces);
        BigInteger start = await rpc.GetTransactionCountAsync(account.Address, BlockTag.Pending, Ct);

        // More value than the balance with an explicit gas limit: the node rejects it, nothing is broadcast.
        BigInteger balance = await rpc.GetBalanceAsync(account.Address, null, Ct);
        await Assert.ThrowsAsync<RpcException>(() => account.SendAsync(new TransactionRequest { To = EthKey.Generate().Address, Value = balance * 2, GasLimit = 21000 }, Ct));
        TransactionReceipt next = await account.SendAndWaitAsync(new TransactionRequest { To = EthKey.Generate().Address, Value = 1 }, Ct);
        Assert.Equal(start, await NonceOf(rpc, next.TransactionHash));

        // Another sender (own nonce manager) uses the next nonce behind our manager's back.
        var foreign = Live.Account(node, 3, rpc, new NonceManager(rpc));
        await foreign.SendAndWaitAsync(new TransactionRequest { To = EthKey.Generate().Address, Value = 1 }, Ct);

        // Our manager's local count is stale: the node answers "nonce too low", the manager resyncs and retries.
        TransactionReceipt afterConflict = await account.SendAndWaitAsync(new TransactionRequest { To = EthKey.Generate().Address, Value = 1 }, Ct);
        Assert.Equal(start + 2, await NonceOf(rpc, afterConflict.TransactionHash));
        Assert.Equal(start + 3, await rpc.GetTransactionCountAsync(account.Address, BlockTag.Pending, Ct));
    }

    [Fact]
    public async Task LeaseOutcomesControlTheNextNonce()
    {
        using JsonRpcClient rpc = Live.Client(node);
        var nonces = new NonceManager(rpc);
        Address fresh = EthKey.Generate().Address;
        using (NonceLease lease = await nonces.AcquireAsync(fresh, Ct))
        {
            Assert.Equal(BigInteger.Zero, lease.Nonce);
            lease.Broadcast();
        }

        using (NonceLease lease = await nonces.AcquireAsync(fresh, Ct))
        {
            Assert.Equal(BigInteger.One, lease.Nonce);
            lease.NotBroadcast();
        }

        Task<NonceLease> blocked;
        using (NonceLease lease = await nonces.AcquireAsync(fresh, Ct))
        {
            Assert.Equal(BigInteger.One, lease.Nonce);
            blocked = nonces.AcquireAsync(fresh, Ct);
            await Task.Delay(100, Ct);
            Assert.False(blocked.IsCompleted, "A second lease must wait until the first is released.");
            lease.Resync();
        }

        using (NonceLease resynced = await blocked)
        {
            Assert.Equal(BigInteger.Zero, resynced.Nonce); // re-read from the node: nothing was really sent
        }
    }

    private async Task<BigInteger> NonceOf(JsonRpcClient rpc, Hash32 hash) =>
        Hex.DecodeQuantity((await rpc.GetTransactionByHashAsync(hash, Ct))!.Value.GetProperty("nonce").GetString()!);
}
