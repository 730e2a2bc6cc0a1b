using System.Numerics;
using PrivateHealth.Ethereum;
using PrivateHealth.Ethereum.Testing;

namespace PrivateHealth.Settlement.Tests;

/// <summary>
/// Deployment and the whole settlement flow from C# on the hardhat node (hardhat account 4 deploys and
/// funds fresh keys for the operator, relayer, payer and participants; the treasury is a fresh unfunded key).
/// </summary>
public sealed class SettlementFlowTests(HardhatNode node, ITestOutputHelper output)
{
    private sealed record World(JsonRpcClient Rpc, EthereumAccount Admin, EthereumAccount Operator, EthereumAccount Relayer, EthereumAccount Payer, Address Treasury, SettlementChain Chain);

    private static async Task<World> SetUpAsync(HardhatNode node, CancellationToken ct)
    {
        JsonRpcClient rpc = Live.Client(node);
        EthereumAccount admin = Live.HardhatAccount(4, rpc);
        EthereumAccount operatorAccount = await Live.FundedAsync(admin, rpc, 10 * Live.Ether, ct);
        EthereumAccount relayer = await Live.FundedAsync(admin, rpc, 10 * Live.Ether, ct);
        EthereumAccount payer = await Live.FundedAsync(admin, rpc, 100 * Live.Ether, ct);
        Address treasury = EthKey.Generate().Address;
        ChainDeployment deployment = await SettlementDeployer.DeployAsync(admin, operatorAccount.Address, relayer.Address, treasury, Live.BuildDirectory, ct);
        return new World(rpc, admin, operatorAccount, relayer, payer, treasury, new SettlementChain(rpc, deployment, Live.BuildDirectory));
    }

    [Fact]
    public async Task DeploymentWiresRolesAndRoundTripsThroughJson()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        World w = await SetUpAsync(node, ct);
        using JsonRpcClient rpc = w.Rpc;
        ChainDeployment d = w.Chain.Deployment;
        Assert.Equal(31337, d.ChainId);
        Assert.Equal(w.Treasury, d.Treasury);
        Assert.True(d.Block > 0 && d.Block <= (long)await rpc.GetBlockNumberAsync(ct));
        foreach (Address contract in new[] { d.RewardToken, d.ContributionRegistry, d.JobMarket, d.PayoutDistributor })
        {
            Assert.NotEmpty(await rpc.GetCodeAsync(contract, null, ct));
        }

        // Roles exactly as deploy.js wires them.
        Assert.True(await HasRoleAsync(rpc, "JobMarket", d.JobMarket, SettlementDeployer.OperatorRole, w.Operator.Address, ct));
        Assert.True(await HasRoleAsync(rpc, "PayoutDistributor", d.PayoutDistributor, SettlementDeployer.OperatorRole, w.Operator.Address, ct));
        Assert.True(await HasRoleAsync(rpc, "RewardToken", d.RewardToken, SettlementDeployer.MinterRole, w.Operator.Address, ct));
        Assert.True(await HasRoleAsync(rpc, "ContributionRegistry", d.ContributionRegistry, SettlementDeployer.RelayerRole, w.Relayer.Address, ct));
        Assert.True(await HasRoleAsync(rpc, "PayoutDistributor", d.PayoutDistributor, SettlementDeployer.FunderRole, d.JobMarket, ct));
        Assert.False(await HasRoleAsync(rpc, "PayoutDistributor", d.PayoutDistributor, SettlementDeployer.FunderRole, w.Operator.Address, ct));
        foreach ((string name, Address address) in new[] { ("RewardToken", d.RewardToken), ("ContributionRegistry", d.ContributionRegistry), ("JobMarket", d.JobMarket), ("PayoutDistributor", d.PayoutDistributor) })
        {
            Assert.True(await HasRoleAsync(rpc, name, address, Hash32.Zero, w.Admin.Address, ct));
        }

        ContractAbi marketAbi = ContractArtifact.Load(Path.Combine(Live.BuildDirectory, "JobMarket.json")).Abi;
        var market = new Contract(d.JobMarket, marketAbi, rpc);
        Assert.Equal(w.Treasury, (Address)(await market.CallAsync("treasury", [], ct))[0]!);
        Assert.Equal(d.PayoutDistributor, (Address)(await market.CallAsync("distributor", [], ct))[0]!);
        Assert.Equal(d.RewardToken, (Address)(await market.CallAsync("defaultToken", [], ct))[0]!);

        string path = Path.Combine(Path.GetTempPath(), $"deployment-{Guid.NewGuid():N}.json");
        try
        {
            d.Save(path);
            string json = await File.ReadAllTextAsync(path, ct);
            Assert.Contains($"\"jobMarket\": \"{d.JobMarket}\"", json, StringComparison.Ordinal);
            Assert.Contains("\"chainId\": 31337", json, StringComparison.Ordinal);
            Assert.Equal(d, ChainDeployment.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task PayCommitFinalizeAndClaimEverything()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        World w = await SetUpAsync(node, ct);
        using JsonRpcClient rpc = w.Rpc;
        SettlementChain chain = w.Chain;

        // Five participants: two fund their own claims, three are paid by the operator's batch.
        EthereumAccount self0 = await Live.FundedAsync(w.Admin, rpc, Live.Ether, ct);
        EthereumAccount self1 = await Live.FundedAsync(w.Admin, rpc, Live.Ether, ct);
        Address[] others = [EthKey.Generate().Address, EthKey.Generate().Address, EthKey.Generate().Address];
        Address[] participants = [self0.Address, self1.Address, .. others];

        Hash32 jobId = SettlementChain.JobId("flow-" + Guid.NewGuid());
        Hash32 quote = SettlementChain.HashOf("quote"u8);
        BigInteger escrow = (10 * Live.Ether) + 7;
        ulong deadline = Live.Deadline(TimeSpan.FromDays(2));

        // Pay.
        Assert.Equal(MarketJobState.None, (await chain.GetJobAsync(jobId, ct)).State);
        TransactionReceipt paid = await chain.PayNativeAsync(w.Payer, jobId, quote, escrow, deadline, ct);
        MarketJob job = await chain.GetJobAsync(jobId, ct);
        Assert.Equal(new MarketJob(MarketJobState.Escrowed, w.Payer.Address, Address.Zero, escrow, quote, deadline), job with { ResultHash = default, MetadataHash = default });
        IReadOnlyList<JobPaidEvent> events = await chain.JobPaidEventsAsync(jobId, ct);
        Assert.Equal([new JobPaidEvent(jobId, w.Payer.Address, Address.Zero, escrow, quote, deadline, (long)paid.BlockNumber, paid.TransactionHash)], events);
        Assert.Empty(await chain.JobPaidEventsAsync(SettlementChain.JobId("no-such-job"), ct));
        await Live.AssertRevertsAsync("JobExists", () => chain.PayNativeAsync(w.Payer, jobId, quote, 1, deadline, ct));

        // Commit.
        Hash32 result = SettlementChain.HashOf("result"u8), metadata = SettlementChain.HashOf("metadata"u8);
        await chain.CommitResultAsync(w.Operator, jobId, result, metadata, ct);
        job = await chain.GetJobAsync(jobId, ct);
        Assert.Equal((MarketJobState.ResultCommitted, result, metadata), (job.State, job.ResultHash, job.MetadataHash));

        // Finalize: 5 % fee, the rest split 1:2:3:4:5.
        BigInteger fee = escrow / 20;
        IReadOnlyList<PayoutLeaf> leaves = PayoutSplit.Split(escrow - fee, [.. participants.Select((p, i) => (p, (long)(i + 1)))]);
        Assert.Equal(5, leaves.Count);
        var tree = new PayoutTree(jobId, leaves);
        Assert.Equal(escrow - fee, tree.Total);
        foreach (PayoutLeaf leaf in leaves.Take(2))
        {
            Assert.Equal(PayoutTree.LeafHash(jobId, leaf.Account, leaf.Amount), await chain.LeafOfAsync(jobId, leaf.Account, leaf.Amount, ct));
        }

        await Live.AssertRevertsAsync("AmountMismatch", () => chain.FinalizeAsync(w.Operator, jobId, tree.Root, tree.Total + 1, fee, ct));
        RevertReason unauthorised = await Live.AssertRevertsAsync("AccessControlUnauthorizedAccount", () => chain.FinalizeAsync(w.Payer, jobId, tree.Root, tree.Total, fee, ct));
        Assert.Equal(w.Payer.Address, (Address)unauthorised.Arguments![0]!);
        await chain.FinalizeAsync(w.Operator, jobId, tree.Root, tree.Total, fee, ct);
        Assert.Equal(MarketJobState.Finalized, (await chain.GetJobAsync(jobId, ct)).State);
        Assert.Equal(fee, await chain.BalanceAsync(w.Treasury, ct));
        Assert.Equal(tree.Total, await chain.BalanceAsync(chain.Deployment.PayoutDistributor, ct));
        await Live.AssertRevertsAsync("WrongState", () => chain.FinalizeAsync(w.Operator, jobId, tree.Root, tree.Total, fee, ct));
        await Live.AssertRevertsAsync("WrongState", () => chain.CancelAsync(w.Payer, jobId, ct));

        // Two participants claim for themselves; their balance grows by the amount minus their gas.
        foreach (EthereumAccount self in new[] { self0, self1 })
        {
            PayoutLeaf leaf = tree.LeafFor(self.Address);
            BigInteger before = await chain.BalanceAsync(self.Address, ct);
            TransactionReceipt claim = await chain.ClaimAsync(self, jobId, self.Address, leaf.Amount, tree.ProofFor(self.Address), ct);
            Assert.Equal(before + leaf.Amount - Live.GasCost(claim), await chain.BalanceAsync(self.Address, ct));
            Assert.True(await chain.IsClaimedAsync(jobId, self.Address, ct));
        }

        Assert.False(await chain.IsClaimedAsync(jobId, others[0], ct));
        PayoutLeaf first = tree.LeafFor(self0.Address);
        await Live.AssertRevertsAsync("AlreadyClaimed", () => chain.ClaimAsync(self0, jobId, self0.Address, first.Amount, tree.ProofFor(self0.Address), ct));
        PayoutLeaf third = tree.LeafFor(others[0]);
        await Live.AssertRevertsAsync("InvalidProof", () => chain.ClaimAsync(self0, jobId, others[0], third.Amount + 1, tree.ProofFor(others[0]), ct));
        await Live.AssertRevertsAsync("InvalidProof", () => chain.ClaimAsync(self0, jobId, others[0], third.Amount, tree.ProofFor(others[1]), ct));

        // The operator pays everyone in one batch; the two claimed entries are skipped.
        BigInteger self0Before = await chain.BalanceAsync(self0.Address, ct), self1Before = await chain.BalanceAsync(self1.Address, ct);
        TransactionReceipt batch = await chain.ClaimBatchAsync(w.Operator, jobId, leaves, tree, ct);
        AbiEvent claimed = ContractArtifact.Load(Path.Combine(Live.BuildDirectory, "PayoutDistributor.json")).Abi.GetEvent("Claimed");
        Assert.Equal(3, batch.Logs.Count(l => l.Topics.Count > 0 && l.Topics[0] == claimed.Topic0));
        output.WriteLine($"claimBatch of 5 (3 paid, 2 skipped): {batch.GasUsed} gas");
        foreach (Address other in others)
        {
            Assert.Equal(tree.LeafFor(other).Amount, await chain.BalanceAsync(other, ct));
            Assert.True(await chain.IsClaimedAsync(jobId, other, ct));
        }

        Assert.Equal(self0Before, await chain.BalanceAsync(self0.Address, ct));
        Assert.Equal(self1Before, await chain.BalanceAsync(self1.Address, ct));
        Assert.Equal(BigInteger.Zero, await chain.BalanceAsync(chain.Deployment.PayoutDistributor, ct));
        Assert.Equal(BigInteger.Zero, await chain.BalanceAsync(chain.Deployment.JobMarket, ct));
        Assert.Equal(fee, await chain.BalanceAsync(w.Treasury, ct));
    }

    [Fact]
    public async Task CancelByThePayerRefundsAndOthersCannotCancel()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        World w = await SetUpAsync(node, ct);
        using JsonRpcClient rpc = w.Rpc;
        SettlementChain chain = w.Chain;
        Hash32 jobId = SettlementChain.JobId("cancel-" + Guid.NewGuid());
        BigInteger amount = 3 * Live.Ether;

        BigInteger before = await chain.BalanceAsync(w.Payer.Address, ct);
        TransactionReceipt pay = await chain.PayNativeAsync(w.Payer, jobId, SettlementChain.HashOf("q"u8), amount, Live.Deadline(TimeSpan.FromDays(1)), ct);
        Assert.Equal(before - amount - Live.GasCost(pay), await chain.BalanceAsync(w.Payer.Address, ct));
        await Live.AssertRevertsAsync("NotPayer", () => chain.CancelAsync(w.Operator, jobId, ct));
        await Live.AssertRevertsAsync("DeadlineNotReached", () => chain.RefundExpiredAsync(w.Operator, jobId, ct));

        TransactionReceipt cancel = await chain.CancelAsync(w.Payer, jobId, ct);
        Assert.Equal(before - Live.GasCost(pay) - Live.GasCost(cancel), await chain.BalanceAsync(w.Payer.Address, ct));
        Assert.Equal(MarketJobState.Refunded, (await chain.GetJobAsync(jobId, ct)).State);
        Assert.Equal(BigInteger.Zero, await chain.BalanceAsync(chain.Deployment.JobMarket, ct));
        await Live.AssertRevertsAsync("WrongState", () => chain.CancelAsync(w.Payer, jobId, ct));
        await Live.AssertRevertsAsync("WrongState", () => chain.CommitResultAsync(w.Operator, jobId, SettlementChain.HashOf("r"u8), SettlementChain.HashOf("m"u8), ct));
    }

    [Fact]
    public async Task AfterTheDeadlineAnyoneRefundsThePayer()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        // A node of its own, so that the chain's clock can be moved: on the shared node other test
        // projects mine blocks concurrently, and hardhat adds at least a second per block, so a
        // deadline "a few seconds ahead" raced past between paying and committing on a loaded CI box.
        await using HardhatNode own = HardhatNode.CreateLocal();
        await own.InitializeAsync();
        World w = await SetUpAsync(own, ct);
        using JsonRpcClient rpc = w.Rpc;
        SettlementChain chain = w.Chain;
        Hash32 jobId = SettlementChain.JobId("expiry-" + Guid.NewGuid());
        BigInteger amount = 2 * Live.Ether;

        ulong deadline = await LatestTimestampAsync(rpc, ct) + 3600;
        BigInteger before = await chain.BalanceAsync(w.Payer.Address, ct);
        TransactionReceipt pay = await chain.PayNativeAsync(w.Payer, jobId, SettlementChain.HashOf("q"u8), amount, deadline, ct);
        await chain.CommitResultAsync(w.Operator, jobId, SettlementChain.HashOf("r"u8), SettlementChain.HashOf("m"u8), ct);
        await Live.AssertRevertsAsync("DeadlineNotReached", () => chain.RefundExpiredAsync(w.Operator, jobId, ct));

        await own.RpcAsync("evm_increaseTime", 3601);
        await own.MineAsync();
        Assert.True(await LatestTimestampAsync(rpc, ct) > deadline);

        await Live.AssertRevertsAsync("JobExpired", () => chain.FinalizeAsync(w.Operator, jobId, SettlementChain.HashOf("root"u8), amount, 0, ct));
        await chain.RefundExpiredAsync(w.Operator, jobId, ct);
        Assert.Equal(MarketJobState.Refunded, (await chain.GetJobAsync(jobId, ct)).State);
        Assert.Equal(before - Live.GasCost(pay), await chain.BalanceAsync(w.Payer.Address, ct));
        await Live.AssertRevertsAsync("DeadlinePassed", () => chain.PayNativeAsync(w.Payer, SettlementChain.JobId("late-" + Guid.NewGuid()), SettlementChain.HashOf("q"u8), 1, deadline, ct));
    }

    private static async Task<ulong> LatestTimestampAsync(JsonRpcClient rpc, CancellationToken ct)
    {
        System.Text.Json.JsonElement block = await rpc.RequestAsync("eth_getBlockByNumber", ["latest", false], ct);
        return (ulong)Hex.DecodeQuantity(block.GetProperty("timestamp").GetString()!);
    }

    [Fact]
    public async Task RelayedConsentBatchRecordsConsentAndRejectsReplays()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        World w = await SetUpAsync(node, ct);
        using JsonRpcClient rpc = w.Rpc;
        SettlementChain chain = w.Chain;
        ChainDeployment d = chain.Deployment;
        Hash32 purpose = ConsentSigning.Purpose("cardiology-study");
        EthKey[] participants = [EthKey.Generate(), EthKey.Generate(), EthKey.Generate()];
        ulong deadline = Live.Deadline(TimeSpan.FromHours(1));

        var consents = new List<SignedConsent>();
        foreach (EthKey p in participants)
        {
            Assert.False(await chain.HasConsentAsync(p.Address, purpose, ct));
            BigInteger nonce = await chain.RegistryNonceAsync(p.Address, ct);
            Assert.Equal(BigInteger.Zero, nonce);
            consents.Add(ConsentSigning.Sign(p, d.ChainId, d.ContributionRegistry, purpose, true, nonce, deadline));
        }

        // Only the relayer may relay.
        await Live.AssertRevertsAsync("AccessControlUnauthorizedAccount", () => chain.RelayConsentBatchAsync(w.Operator, consents, ct));
        TransactionReceipt relayed = await chain.RelayConsentBatchAsync(w.Relayer, consents, ct);
        output.WriteLine($"relayConsentBatch of 3: {relayed.GasUsed} gas");
        foreach (EthKey p in participants)
        {
            Assert.True(await chain.HasConsentAsync(p.Address, purpose, ct));
            Assert.Equal(BigInteger.One, await chain.RegistryNonceAsync(p.Address, ct));
            Assert.False(await chain.HasConsentAsync(p.Address, ConsentSigning.Purpose("other"), ct));
        }

        RevertReason replay = await Live.AssertRevertsAsync("InvalidAccountNonce", () => chain.RelayConsentBatchAsync(w.Relayer, [consents[1]], ct));
        Assert.Equal(participants[1].Address, (Address)replay.Arguments![0]!);

        // A signature by someone else for the participant is rejected; a correct revocation with the next nonce works.
        SignedConsent forged = ConsentSigning.Sign(participants[0], d.ChainId, d.ContributionRegistry, purpose, false, 1, deadline) with { Participant = participants[2].Address };
        await Live.AssertRevertsAsync("InvalidSignature", () => chain.RelayConsentBatchAsync(w.Relayer, [forged], ct));
        await chain.RelayConsentBatchAsync(w.Relayer, [ConsentSigning.Sign(participants[2], d.ChainId, d.ContributionRegistry, purpose, false, 1, deadline)], ct);
        Assert.False(await chain.HasConsentAsync(participants[2].Address, purpose, ct));
    }

    private static async Task<bool> HasRoleAsync(JsonRpcClient rpc, string contract, Address address, Hash32 role, Address account, CancellationToken ct)
    {
        ContractAbi abi = ContractArtifact.Load(Path.Combine(Live.BuildDirectory, contract + ".json")).Abi;
        return (bool)(await new Contract(address, abi, rpc).CallAsync("hasRole", [role.ToArray(), account], ct))[0]!;
    }
}
