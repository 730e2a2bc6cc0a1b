using System.Numerics;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Settlement;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Ethereum;
using PrivateHealth.Ethereum.Testing;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Settlement;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// Settlement on a real local chain: a researcher's query is paid into escrow by the marketplace's account (no wallet
/// for the researcher), runs only once the payment is observed, and after it completes the coordinator commits the
/// result, finalizes with one payout root and batches the claims, so every contributor with a payout address is paid
/// its share exactly once — although the RPC endpoint goes away while the job runs and the coordinator is restarted
/// before the settlement ends.
/// </summary>
public sealed class SettlementTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Schema = """
        {
          "version": 1, "id": "bc_paid", "minGroupSize": 10, "epsilon": 50, "delta": 1e-5,
          "dimensions": [ { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" } ],
          "measures": [ { "name": "mean_radius", "lo": 6.981, "hi": 28.11 } ]
        }
        """;

    [Fact]
    public async Task APaidQueryIsEscrowedCommittedFinalizedAndEveryContributorIsPaidOnceAcrossAnRpcOutageAndARestart()
    {
        await using var node = HardhatNode.CreateLocal();
        await node.InitializeAsync();
        using var rpc = new JsonRpcClient(node.RpcUrl);
        var admin = new EthereumAccount(EthKey.FromHex(HardhatNode.DefaultPrivateKeys[0]), rpc);
        var operatorKey = EthKey.FromHex(HardhatNode.DefaultPrivateKeys[1]);
        var payerKey = EthKey.FromHex(HardhatNode.DefaultPrivateKeys[2]);
        var treasury = EthKey.Generate().Address;
        string build = Path.Combine(HardhatNode.RepoRoot, "contracts", "build");
        var deployment = await SettlementDeployer.DeployAsync(admin, operatorKey.Address, operatorKey.Address, treasury, build, Ct);
        string directory = Path.Combine(Path.GetTempPath(), "ph-settle-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        string deploymentPath = Path.Combine(directory, "deployment.json");
        deployment.Save(deploymentPath);
        var chain = new SettlementChain(rpc, deployment, build);

        await using var proxy = new RpcProxy(node.RpcUrl);
        proxy.Start();
        var settings = new Dictionary<string, string>
        {
            ["Coordinator:Chain:Enabled"] = "true",
            ["Coordinator:Chain:RpcUrl"] = proxy.Url.ToString(),
            ["Coordinator:Chain:DeploymentPath"] = deploymentPath,
            ["Coordinator:Chain:BuildDirectory"] = build,
            ["Coordinator:Chain:OperatorKey"] = HardhatNode.DefaultPrivateKeys[1],
            ["Coordinator:Chain:PayerKey"] = HardhatNode.DefaultPrivateKeys[2],
            ["Coordinator:Chain:ClaimBatchSize"] = "16",
        };

        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        var harness = await CoordinatorHarness.StartAsync(directory, settings, Ct);
        string jobId;
        var addresses = new Dictionary<string, Address>();
        var keys = new Dictionary<string, EthKey>();
        BigInteger price;
        try
        {
            harness.StartCustodians([1, 2, 3], parameters);
            string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, [.. SlotLayout.RotationSteps(parameters.MaxSlots)], Ct, "AggregationLogN13LogQP216");
            using var op = harness.Operator();
            await op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = Schema }, Ct);

            // 40 people contribute; 36 registered a payout address when they enrolled, 4 did not
            var people = TestData.BreastCancerPeople(40);
            var schema = CohortSchema.Parse(Schema);
            var encoder = new ContributionEncoder(schema);
            var codec = new AnalyticsCodec(parameters, new SlotLayout(schema));
            var serializer = new CkksSerializer(parameters);
            using (var first = harness.Client("person-000", Roles.Participant))
            {
                var info = await first.GetCohortAsync("bc_paid", Ct);
                using var encryptor = new Encryptor(parameters.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span));
                for (int k = 0; k < 40; k++)
                {
                    var person = people[k];
                    string id = $"person-{k:D3}";
                    using var c = harness.Client(id, Roles.Participant);
                    var enroll = new EnrollRequest { ParticipantId = id, CohortId = "bc_paid", Analytics = true };
                    if (k < 36)
                    {
                        keys[id] = EthKey.Generate();
                        addresses[id] = keys[id].Address;
                        enroll.PayoutAddress = addresses[id].ToString();
                    }

                    await c.EnrollAsync(enroll, Ct);
                    var ok = await c.UploadContributionAsync(new ContributionRequest { CohortId = "bc_paid", ParticipantId = id, Ciphertext = ByteString.CopyFrom(serializer.Serialize(codec.Encrypt(encoder.Encode(person), encryptor))) }, Ct);
                    Assert.True(ok.Accepted);
                }

                // a payout address is fixed once set
                var change = await Assert.ThrowsAsync<PrivateHealth.Grpc.GrpcStatusException>(() => first.EnrollAsync(new EnrollRequest { ParticipantId = "person-000", CohortId = "bc_paid", Analytics = true, PayoutAddress = EthKey.Generate().Address.ToString() }, Ct));
                Assert.Equal(PrivateHealth.Grpc.StatusCode.AlreadyExists, change.StatusCode);
            }

            using var keygen = new KeyGenerator(parameters.Rlwe);
            using var secret = keygen.GenerateSecretKey();
            using var researcher = harness.Client("researcher-1", Roles.Researcher);
            const string sql = "SELECT COUNT(*), AVG(mean_radius) FROM bc_paid GROUP BY label";
            var quote = await researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "bc_paid", Query = sql, Epsilon = 10 }, Ct);
            price = new BigInteger(quote.PriceMicros) * 1_000_000_000_000;
            var job = await researcher.SubmitQueryAsync(new SubmitQueryRequest { QuoteId = quote.QuoteId, CohortId = "bc_paid", Query = sql, ResearcherPublicKey = ByteString.CopyFrom(serializer.Serialize(keygen.GeneratePublicKey(secret))), IdempotencyKey = "paid-1" }, Ct);
            jobId = job.JobId;

            // the job runs only once the payment is in escrow
            var running = await WaitAsync(researcher, jobId, s => s.State != "pending");
            var escrow = await chain.GetJobAsync(SettlementChain.JobId(jobId), Ct);
            Assert.Equal(MarketJobState.Escrowed, escrow.State);
            Assert.Equal(price, escrow.Amount);
            Assert.Equal(payerKey.Address, escrow.Payer);
            output.WriteLine($"escrowed {escrow.Amount} wei; job {running.State}");

            // the RPC endpoint goes away while the job runs: the job completes, its settlement waits
            proxy.Stop();
            var done = await WaitAsync(researcher, jobId, s => s.State is "completed" or "failed");
            Assert.Equal("completed", done.State);
            await Task.Delay(1500, Ct);
            var settlement = harness.App.Services.GetRequiredService<SettlementService>();
            Assert.DoesNotContain(await settlement.StepsAsync(jobId, Ct), s => s.Name == "commit");
            Assert.Equal(MarketJobState.Escrowed, (await chain.GetJobAsync(SettlementChain.JobId(jobId), Ct)).State);
        }
        finally
        {
            await harness.DisposeAsync();
        }

        // the coordinator restarts and the endpoint comes back: the settlement resumes from what it recorded; this time
        // the operator does not claim for the contributors right away, so that one of them claims itself first
        proxy.Start();
        settings["Coordinator:Chain:BatchClaims"] = "false";
        harness = await CoordinatorHarness.StartAsync(directory, settings, Ct);
        try
        {
            var settlement = harness.App.Services.GetRequiredService<SettlementService>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (!(await settlement.StepsAsync(jobId, Ct)).Any(s => s.Name == "closed") && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, Ct);
            }

            var steps = await settlement.StepsAsync(jobId, Ct);
            output.WriteLine(string.Join(", ", steps.Select(s => $"{s.Name} {s.Transaction}")));
            Assert.Equal(["escrow", "commit", "finalize", "closed"], steps.Select(s => s.Name));
            var market = await chain.GetJobAsync(SettlementChain.JobId(jobId), Ct);
            Assert.Equal(MarketJobState.Finalized, market.State);

            // person-005 reads its earnings and claims them itself, paying the gas from its payout account
            var gift = BigInteger.Pow(10, 18);
            await admin.SendAndWaitAsync(new TransactionRequest { To = addresses["person-005"], Value = gift }, Ct);
            using var agentRpc = new JsonRpcClient(node.RpcUrl);
            var wallet = new EthereumAccount(keys["person-005"], agentRpc);
            BigInteger gas;
            using (var agentClient = harness.Client("person-005", Roles.Participant))
            {
                var mine = Assert.Single(await PrivateHealth.Participant.Network.PayoutClaims.ClaimAsync(agentClient, "person-005", wallet, build, Ct));
                var receipt = (await agentRpc.GetTransactionReceiptAsync(mine.Transaction, Ct))!;
                gas = receipt.GasUsed * receipt.EffectiveGasPrice;
                Assert.Empty(await PrivateHealth.Participant.Network.PayoutClaims.ClaimAsync(agentClient, "person-005", wallet, build, Ct)); // nothing left to claim
            }

            // the operator claims the rest in batches; person-005 is skipped
            Assert.Equal(35, await settlement.ClaimRemainingAsync(jobId, Ct));
            Assert.Equal(0, await settlement.ClaimRemainingAsync(jobId, Ct));

            var payout = (await settlement.PayoutOfAsync(jobId, Ct))!;
            var fee = price * 10 / 100;
            Assert.Equal(fee.ToString(), payout.OperatorFee);
            Assert.Equal((price - fee).ToString(), payout.TotalPayout);
            Assert.Equal(4, payout.Unpaid.Count);
            Assert.Equal(fee, await chain.BalanceAsync(treasury, Ct));

            // every contributor with an address got its share, once; the shares sum to the payout exactly
            BigInteger sum = 0;
            foreach (var (id, address) in addresses)
            {
                var entry = payout.Entries.Single(e => e.ParticipantId == id);
                var balance = await chain.BalanceAsync(address, Ct);
                if (id == "person-005")
                {
                    balance -= gift - gas;
                }

                Assert.Equal(BigInteger.Parse(entry.Amount), balance);
                Assert.True(await chain.IsClaimedAsync(SettlementChain.JobId(jobId), address, Ct));
                sum += balance;
            }

            Assert.Equal(price - fee, sum);
            output.WriteLine($"{addresses.Count} contributors paid {sum} wei in total (each {payout.Entries[0].Amount}); fee {fee}");

            // stepping again pays nothing more
            await settlement.StepAllAsync(Ct);
            Assert.Equal(sum + gift - gas, (await Task.WhenAll(addresses.Values.Select(a => chain.BalanceAsync(a, Ct)))).Aggregate(BigInteger.Zero, (x, y) => x + y));

            // a participant sees its earnings and that they were claimed
            using var participant = harness.Client("person-005", Roles.Participant);
            var earnings = await participant.GetEarningsAsync("person-005", Ct);
            var earning = Assert.Single(earnings.Earnings);
            Assert.Equal(jobId, earning.JobId);
            Assert.True(earning.Claimed);
            Assert.Equal(addresses["person-005"].ToString(), earning.PayoutAddress);
            Assert.True(PayoutTree.Verify(Hash32.Parse(earning.Root), PayoutTree.LeafHash(SettlementChain.JobId(jobId), addresses["person-005"], BigInteger.Parse(earning.Amount)), [.. earning.Proof.Select(Hash32.Parse)]));

            // a second job is paid for and then cancelled before it can run (no custodians after the restart): refunded
            var payerBefore = await chain.BalanceAsync(payerKey.Address, Ct);
            using var keygen2 = new KeyGenerator(parameters.Rlwe);
            using var secret2 = keygen2.GenerateSecretKey();
            using var researcher2 = harness.Client("researcher-1", Roles.Researcher);
            const string sql2 = "SELECT COUNT(*) FROM bc_paid GROUP BY label";
            var quote2 = await researcher2.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "bc_paid", Query = sql2, Epsilon = 5 }, Ct);
            var job2 = await researcher2.SubmitQueryAsync(new SubmitQueryRequest { QuoteId = quote2.QuoteId, CohortId = "bc_paid", Query = sql2, ResearcherPublicKey = ByteString.CopyFrom(new CkksSerializer(parameters).Serialize(keygen2.GeneratePublicKey(secret2))), IdempotencyKey = "paid-2" }, Ct);
            await WaitAsync(researcher2, job2.JobId, s => s.State != "pending");
            Assert.Equal(MarketJobState.Escrowed, (await chain.GetJobAsync(SettlementChain.JobId(job2.JobId), Ct)).State);
            await harness.App.Services.GetRequiredService<PrivateHealth.Coordinator.Analytics.QueryJobService>().CancelAsync(job2.JobId, "researcher-1", isOperator: false, Ct);
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!(await settlement.StepsAsync(job2.JobId, Ct)).Any(s => s.Name == "refunded") && DateTime.UtcNow < until)
            {
                await Task.Delay(200, Ct);
            }

            Assert.Contains(await settlement.StepsAsync(job2.JobId, Ct), s => s.Name == "refunded");
            Assert.Equal(MarketJobState.Refunded, (await chain.GetJobAsync(SettlementChain.JobId(job2.JobId), Ct)).State);
            var spent = payerBefore - await chain.BalanceAsync(payerKey.Address, Ct);
            output.WriteLine($"cancelled job refunded; the payer spent {spent} wei in gas for paying and cancelling");
            Assert.InRange(spent, BigInteger.One, BigInteger.Pow(10, 16)); // gas only, not the price
        }
        finally
        {
            await harness.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<QueryJobStatus> WaitAsync(PrivateHealth.Participant.Network.CoordinatorClient researcher, string jobId, Func<QueryJobStatus, bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var status = await researcher.GetQueryJobAsync(jobId, Ct);
            if (until(status) || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(100, Ct);
        }
    }
}
