using System.Numerics;
using PrivateHealth.Ethereum;
using PrivateHealth.Ethereum.Testing;

[assembly: AssemblyFixture(typeof(HardhatNode))]

namespace PrivateHealth.Settlement.Tests;

/// <summary>Helpers shared by the live-chain tests. Each test class funds its own fresh keys from its own hardhat account.</summary>
internal static class Live
{
    public static readonly BigInteger Ether = BigInteger.Pow(10, 18);

    public static string BuildDirectory => Path.Combine(HardhatNode.RepoRoot, "contracts", "build");

    /// <summary>Fast polling: hardhat automines every transaction.</summary>
    public static TransactionOptions Fast { get; } = new() { PollingInterval = TimeSpan.FromMilliseconds(25), ReceiptTimeout = TimeSpan.FromSeconds(30) };

    public static JsonRpcClient Client(HardhatNode node) =>
        new(node.RpcUrl, new JsonRpcClientOptions { Timeout = TimeSpan.FromSeconds(30), MaxRetries = 2 });

    public static EthereumAccount HardhatAccount(int index, JsonRpcClient rpc) =>
        new(EthKey.FromHex(HardhatNode.DefaultPrivateKeys[index]), rpc, null, Fast);

    public static EthereumAccount Account(EthKey key, JsonRpcClient rpc) => new(key, rpc, null, Fast);

    /// <summary>A fresh key funded with <paramref name="amount"/> wei by <paramref name="funder"/>.</summary>
    public static async Task<EthereumAccount> FundedAsync(EthereumAccount funder, JsonRpcClient rpc, BigInteger amount, CancellationToken ct)
    {
        EthKey key = EthKey.Generate();
        await funder.SendAndWaitAsync(new TransactionRequest { To = key.Address, Value = amount }, ct);
        return Account(key, rpc);
    }

    public static ulong Deadline(TimeSpan fromNow) => (ulong)DateTimeOffset.UtcNow.Add(fromNow).ToUnixTimeSeconds();

    public static BigInteger GasCost(TransactionReceipt receipt) => receipt.GasUsed * receipt.EffectiveGasPrice;

    /// <summary>Runs an action that must revert with the custom error <paramref name="errorName"/>; returns the decoded reason.</summary>
    public static async Task<RevertReason> AssertRevertsAsync(string errorName, Func<Task> action)
    {
        RevertReason? reason = null;
        try
        {
            await action();
        }
        catch (ContractRevertException ex)
        {
            reason = ex.Reason;
        }
        catch (TransactionRevertedException ex)
        {
            reason = ex.Reason;
        }

        Assert.True(reason is not null, $"Expected a revert with {errorName}, but the call succeeded.");
        Assert.True(reason!.Kind == RevertKind.Custom && reason.Error!.Name == errorName, $"Expected {errorName}, got {reason}.");
        return reason;
    }
}
