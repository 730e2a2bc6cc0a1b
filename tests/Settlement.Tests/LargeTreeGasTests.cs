using System.Diagnostics;
using System.Numerics;
using PrivateHealth.Ethereum;
using PrivateHealth.Ethereum.Testing;

namespace PrivateHealth.Settlement.Tests;

/// <summary>Finalisation cost does not depend on the number of payouts (hardhat account 6).</summary>
public sealed class LargeTreeGasTests(HardhatNode node, ITestOutputHelper output)
{
    [Fact]
    public async Task FinalizeOfTenThousandLeavesCostsTheSameAsTenAndClaimsWork()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using JsonRpcClient rpc = Live.Client(node);
        EthereumAccount admin = Live.HardhatAccount(6, rpc);
        EthereumAccount operatorAccount = await Live.FundedAsync(admin, rpc, 10 * Live.Ether, ct);
        Address treasury = EthKey.Generate().Address;
        ChainDeployment deployment = await SettlementDeployer.DeployAsync(admin, operatorAccount.Address, admin.Address, treasury, Live.BuildDirectory, ct);
        var chain = new SettlementChain(rpc, deployment, Live.BuildDirectory);
        BigInteger escrow = Live.Ether, fee = Live.Ether / 10;

        async Task<(TransactionReceipt Receipt, PayoutTree Tree, TimeSpan Build)> SettleAsync(string name, int leaves)
        {
            Hash32 jobId = SettlementChain.JobId($"{name}-{Guid.NewGuid()}");
            await chain.PayNativeAsync(admin, jobId, SettlementChain.HashOf("quote"u8), escrow, Live.Deadline(TimeSpan.FromDays(1)), ct);
            await chain.CommitResultAsync(operatorAccount, jobId, SettlementChain.HashOf("r"u8), SettlementChain.HashOf("m"u8), ct);
            var random = new Random(leaves);
            (Address, long)[] weights = [.. Enumerable.Range(0, leaves).Select(_ => (RandomAddress(random), (long)random.Next(1, 1000)))];
            var watch = Stopwatch.StartNew();
            var tree = new PayoutTree(jobId, PayoutSplit.Split(escrow - fee, weights));
            foreach (PayoutLeaf leaf in tree.Leaves)
            {
                _ = tree.ProofFor(leaf.Account);
            }

            watch.Stop();
            TransactionReceipt receipt = await chain.FinalizeAsync(operatorAccount, jobId, tree.Root, tree.Total, fee, ct);
            return (receipt, tree, watch.Elapsed);
        }

        // The first finalisation pays once for the distributor's reserve slot and the treasury's new account.
        (TransactionReceipt warmUp, _, _) = await SettleAsync("warm-up", 10);
        (TransactionReceipt ten, _, _) = await SettleAsync("ten", 10);
        (TransactionReceipt large, PayoutTree tree, TimeSpan build) = await SettleAsync("ten-thousand", 10_000);
        output.WriteLine($"finalize gas: first {warmUp.GasUsed}, 10 leaves {ten.GasUsed}, 10,000 leaves {large.GasUsed}; 10,000-leaf tree + all proofs built in {build.TotalMilliseconds:0} ms");
        Assert.InRange(BigInteger.Abs(large.GasUsed - ten.GasUsed), BigInteger.Zero, new BigInteger(100));

        // Claims from the big tree verify on chain (deepest and shallowest proofs).
        PayoutLeaf[] sample = [.. tree.Leaves.OrderByDescending(l => tree.ProofFor(l.Account).Count).Take(2), .. tree.Leaves.OrderBy(l => tree.ProofFor(l.Account).Count).Take(1)];
        TransactionReceipt batch = await chain.ClaimBatchAsync(operatorAccount, tree.JobId, sample, tree, ct);
        output.WriteLine($"claimBatch of 3 from the 10,000-leaf tree: {batch.GasUsed} gas");
        foreach (PayoutLeaf leaf in sample)
        {
            Assert.Equal(leaf.Amount, await chain.BalanceAsync(leaf.Account, ct));
        }
    }

    private static Address RandomAddress(Random random)
    {
        var bytes = new byte[20];
        random.NextBytes(bytes);
        return new Address(bytes);
    }
}
