using System.Numerics;
using PrivateHealth.Ethereum.Testing;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>Live contract tests with Probe.sol compiled by solc-js at test time (hardhat account 1).</summary>
public sealed class ContractTests(HardhatNode node, ProbeArtifact probe) : IClassFixture<ProbeArtifact>
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(Contract Contract, EthereumAccount Account, JsonRpcClient Rpc)> DeployAsync(BigInteger initial)
    {
        JsonRpcClient rpc = Live.Client(node);
        EthereumAccount account = Live.Account(node, 1, rpc);
        BigInteger nonce = await rpc.GetTransactionCountAsync(account.Address, BlockTag.Pending, Ct);
        Contract contract = await probe.Artifact.DeployAsync(account, [initial], null, Ct);
        Assert.Equal(ContractAddress.Create(account.Address, nonce), contract.Address);
        return (contract, account, rpc);
    }

    [Fact]
    public async Task DeployCallAndSendWithEvents()
    {
        (Contract probeContract, EthereumAccount account, JsonRpcClient rpc) = await DeployAsync(5);
        using (rpc)
        {
            Assert.Equal("Probe", probe.Artifact.ContractName);
            Assert.NotEmpty(await rpc.GetCodeAsync(probeContract.Address, null, Ct));
            Assert.Equal(account.Address, (await probeContract.CallAsync("owner", null, Ct))[0]);
            Assert.Equal(new BigInteger(5), (await probeContract.CallAsync("total", null, Ct))[0]);

            byte[] tag = Keccak256.Hash("consent");
            TransactionReceipt receipt = await probeContract.SendAsync("store", [7, "first note ✓", new object[] { tag, new byte[32] }], null, null, Ct);
            Assert.True(receipt.Succeeded);
            DecodedEvent stored = Assert.Single(probeContract.DecodeEvents(receipt));
            Assert.Equal("Stored", stored.Name);
            Assert.Equal(account.Address, stored["who"]);
            Assert.Equal(new BigInteger(7), stored["key"]);
            Assert.Equal("first note ✓", stored["note"]);
            Assert.Equal(tag, ((object?[])stored["tags"]!)[0]);
            Assert.Equal(new BigInteger(12), (await probeContract.CallAsync("total", null, Ct))[0]);
            Assert.Equal("first note ✓", (await probeContract.CallAsync("notes", [7], Ct))[0]);

            BigInteger gas = await rpc.EstimateGasAsync(new CallRequest { From = account.Address, To = probeContract.Address, Data = probe.Artifact.Abi.EncodeCall("store", 1, "x", Array.Empty<object>()) }, null, Ct);
            Assert.InRange(gas, new BigInteger(21_001), new BigInteger(200_000));
        }
    }

    [Fact]
    public async Task TuplesAndFixedArraysRoundTripThroughTheEvm()
    {
        (Contract probeContract, _, JsonRpcClient rpc) = await DeployAsync(0);
        using (rpc)
        {
            object?[] items = [new object?[] { new BigInteger(1), new object?[] { Keccak256.Hash("a"), Keccak256.Hash("b") } }, new object?[] { new BigInteger(2), Array.Empty<object?>() }];
            object?[] who = [EthKey.Generate().Address, Address.Zero, EthKey.Generate().Address];
            object?[] result = await probeContract.CallAsync("echo", [items, who, new BigInteger(-8_388_608)], Ct);
            Assert.True(RandomData.DeepEquals(items, result[0]));
            Assert.True(RandomData.DeepEquals(who, result[1]));
            Assert.Equal(new BigInteger(-8_388_608), result[2]);
        }
    }

    [Fact]
    public async Task RevertReasonsAreDecoded()
    {
        (Contract probeContract, EthereumAccount account, JsonRpcClient rpc) = await DeployAsync(0);
        using (rpc)
        {
            var require = await Assert.ThrowsAsync<ContractRevertException>(() => probeContract.CallAsync("failRequire", [11], Ct));
            Assert.Equal(RevertKind.Error, require.Reason.Kind);
            Assert.Equal("x too large", require.Reason.Message);
            Assert.Contains("x too large", require.Message, StringComparison.Ordinal);
            Assert.Equal(new BigInteger(3), (await probeContract.CallAsync("failRequire", [3], Ct))[0]);

            var custom = await Assert.ThrowsAsync<ContractRevertException>(() => probeContract.CallAsync("failCustom", null, Ct));
            Assert.Equal(RevertKind.Custom, custom.Reason.Kind);
            Assert.Equal("Unauthorized", custom.Reason.Error!.Name);
            Assert.Equal(account.Address, custom.Reason.Arguments![0]);
            Assert.Equal(new BigInteger(42), custom.Reason.Arguments[1]);

            var panic = await Assert.ThrowsAsync<ContractRevertException>(() => probeContract.CallAsync("failPanic", [0], Ct));
            Assert.Equal(RevertKind.Panic, panic.Reason.Kind);
            Assert.Equal(new BigInteger(0x12), panic.Reason.PanicCode);

            // Estimation reverts before anything is sent.
            var estimate = await Assert.ThrowsAsync<ContractRevertException>(() => probeContract.SendAsync("setTotal", [13], null, null, Ct));
            Assert.Equal("unlucky", estimate.Reason.Message);

            // With an explicit gas limit the transaction is mined with status 0 and the reason is recovered by replay.
            var mined = await Assert.ThrowsAsync<TransactionRevertedException>(() => probeContract.SendAsync("failCustomTx", null, null, 100_000, Ct));
            Assert.False(mined.Receipt.Succeeded);
            Assert.NotNull(mined.Reason);
            Assert.Equal(RevertKind.Custom, mined.Reason.Kind);
            Assert.Equal(new BigInteger(7), mined.Reason.Arguments![1]);
            Assert.Contains("Unauthorized", mined.Message, StringComparison.Ordinal);

            // The failed transaction consumed its nonce; the next send works.
            Assert.True((await probeContract.SendAsync("setTotal", [14], null, null, Ct)).Succeeded);
        }
    }

    [Fact]
    public async Task GetLogsFiltersByAddressTopicAndBlockRange()
    {
        (Contract first, _, JsonRpcClient rpc) = await DeployAsync(0);
        (Contract second, _, JsonRpcClient rpc2) = await DeployAsync(0);
        using (rpc)
        using (rpc2)
        {
            var blocks = new List<BigInteger>();
            for (int round = 1; round <= 4; round++)
            {
                blocks.Add((await first.SendAsync("ping", [round, round * 100], null, null, Ct)).BlockNumber);
                await second.SendAsync("ping", [round, 1], null, null, Ct);
            }

            AbiEvent ping = probe.Artifact.Abi.GetEvent("Ping");
            IReadOnlyList<EthLog> all = await rpc.GetLogsAsync(new LogFilter { Addresses = [first.Address], Topics = [[ping.Topic0]], FromBlock = BlockTag.Number(blocks[0]), ToBlock = BlockTag.Latest }, Ct);
            Assert.Equal(4, all.Count);
            Assert.All(all, l => Assert.Equal(first.Address, l.Address));

            IReadOnlyList<EthLog> range = await rpc.GetLogsAsync(new LogFilter { Addresses = [first.Address], FromBlock = BlockTag.Number(blocks[1]), ToBlock = BlockTag.Number(blocks[2]) }, Ct);
            Assert.Equal([new BigInteger(200), new BigInteger(300)], range.Select(l => (BigInteger)ping.Decode(l.Topics, l.Data)["value"]!));

            Hash32 roundThree = AbiEvent.TopicFor(AbiType.UInt(256), 3);
            IReadOnlyList<EthLog> byRound = await rpc.GetLogsAsync(new LogFilter { Topics = [[ping.Topic0], [roundThree]], FromBlock = BlockTag.Number(blocks[0]) }, Ct);
            Assert.Equal(2, byRound.Count);
            Assert.Equal(new HashSet<Address> { first.Address, second.Address }, byRound.Select(l => l.Address).ToHashSet());
        }
    }
}
