using System.Diagnostics;
using System.Numerics;
using System.Text.Json;
using Google.Protobuf;
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
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Settlement;
using PrivateHealth.Testing;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// Settlement across a node failure (decisions 0018, 0019): three coordinator processes over one PostgreSQL schema and
/// one local chain settle a paid query. The node holding the job's settlement lease broadcasts a batch of payout claims
/// — the chain pays those contributors — and is SIGKILLed before it learns so (its RPC answers are withheld from that
/// moment). A surviving node takes the lease over, finds those claims paid on chain, pays only the others and closes the
/// settlement: every contributor is paid its share exactly once and the shares add up to the escrow minus the fee.
/// </summary>
public sealed class MultiNodeSettlementTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Schema = """
        {
          "version": 1, "id": "bc_cluster", "minGroupSize": 10, "epsilon": 50, "delta": 1e-5,
          "dimensions": [ { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" } ],
          "measures": [ { "name": "mean_radius", "lo": 6.981, "hi": 28.11 } ]
        }
        """;

    private const int People = 40;
    private const int WithAddress = 36;
    private const int ClaimBatch = 8;

    [Fact]
    public async Task ThreeNodes_TheSettlingNodeKilledAfterBroadcastingClaims_EveryContributorIsPaidExactlyOnce()
    {
        var clock = Stopwatch.StartNew();
        await using var chainNode = HardhatNode.CreateLocal();
        await chainNode.InitializeAsync();
        using var rpc = new JsonRpcClient(chainNode.RpcUrl);
        var admin = new EthereumAccount(EthKey.FromHex(HardhatNode.DefaultPrivateKeys[0]), rpc);
        var operatorKey = EthKey.FromHex(HardhatNode.DefaultPrivateKeys[1]);
        var treasury = EthKey.Generate().Address;
        string build = Path.Combine(HardhatNode.RepoRoot, "contracts", "build");
        var deployment = await SettlementDeployer.DeployAsync(admin, operatorKey.Address, operatorKey.Address, treasury, build, Ct);
        var chain = new SettlementChain(rpc, deployment, build);

        var pg = await PostgresServer.SharedAsync();
        string schema = PostgresServer.NewSchemaName("ph_settle_cluster");
        string dir = Path.Combine(Path.GetTempPath(), "ph-settle-cluster-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        string deploymentPath = Path.Combine(dir, "deployment.json");
        deployment.Save(deploymentPath);
        using var issuer = new DevelopmentTokenIssuer();
        string keyPath = Path.Combine(dir, "shared-issuer.pem");
        await File.WriteAllTextAsync(keyPath, issuer.ExportPrivateKeyPem(), Ct);

        // each node reaches the chain through a proxy of its own, so the test can cut one node off mid-transaction
        var proxies = new List<JsonRpcFaultProxy>();
        for (int i = 0; i < 3; i++)
        {
            proxies.Add(await JsonRpcFaultProxy.StartAsync(chainNode.RpcUrl));
        }

        var nodes = ClusterNodes.Create(dir, pg, schema, keyPath, 3, i =>
        [
            "--Coordinator:Chain:Enabled=true",
            $"--Coordinator:Chain:RpcUrl={proxies[i].Url}",
            $"--Coordinator:Chain:DeploymentPath={deploymentPath}",
            $"--Coordinator:Chain:BuildDirectory={build}",
            $"--Coordinator:Chain:OperatorKey={HardhatNode.DefaultPrivateKeys[1]}",
            $"--Coordinator:Chain:PayerKey={HardhatNode.DefaultPrivateKeys[2]}",
            $"--Coordinator:Chain:ClaimBatchSize={ClaimBatch}",
        ]);
        var fronts = new List<FailoverProxy>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var runners = new List<CustodianRunner>();
        try
        {
            await Task.WhenAll(nodes.Select(n => n.StartAsync(Ct)));
            fronts.AddRange(Enumerable.Range(0, 3).Select(i => new FailoverProxy([nodes[i].Port, nodes[(i + 1) % 3].Port, nodes[(i + 2) % 3].Port])));
            var retry = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(400), MaxServerErrors = 50 };
            CoordinatorClient Client(int front, string subject, string role) => new(fronts[front % 3].Url, issuer.CreateToken(subject, role));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: chain and three nodes up (schema {schema})");

            // a 2-of-3 committee, one custodian per front, and the analytics key ceremony
            var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
            for (int party = 1; party <= 3; party++)
            {
                var runner = new CustodianRunner(Client(party, $"custodian-{party}", Roles.Custodian), $"custodian-{party}", party, parameters, new InMemoryCustodianVault(), retry);
                runners.Add(runner);
                _ = Task.Run(() => runner.RunAsync(stop.Token), stop.Token);
            }

            using var op = Client(0, "operator-1", Roles.Operator);
            var ceremony = await retry.RunAsync(c => op.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Preset = "AggregationLogN13LogQP216", Members = 3, Threshold = 2, Rotations = { SlotLayout.RotationSteps(parameters.MaxSlots) } }, c), Ct);
            await CoordinatorHarness.WaitForCeremonyAsync(op, ceremony.KeySetId, Ct);
            await retry.RunAsync(c => op.CreateCohortAsync(new CreateCohortRequest { KeySetId = ceremony.KeySetId, SchemaJson = Schema }, c), Ct);

            // 40 people enroll and contribute over the three nodes; 36 of them registered a payout address
            var people = TestData.BreastCancerPeople(People);
            var cohortSchema = CohortSchema.Parse(Schema);
            var encoder = new ContributionEncoder(cohortSchema);
            var codec = new AnalyticsCodec(parameters, new SlotLayout(cohortSchema));
            var serializer = new CkksSerializer(parameters);
            var info = await retry.RunAsync(c => op.GetCohortAsync("bc_cluster", c), Ct);
            var addresses = new Dictionary<string, Address>();
            using (var encryptor = new Encryptor(parameters.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span)))
            {
                for (int k = 0; k < People; k++)
                {
                    string id = $"person-{k:D3}";
                    using var c = Client(k, id, Roles.Participant);
                    var enroll = new EnrollRequest { ParticipantId = id, CohortId = "bc_cluster", Analytics = true };
                    if (k < WithAddress)
                    {
                        addresses[id] = EthKey.Generate().Address;
                        enroll.PayoutAddress = addresses[id].ToString();
                    }

                    await retry.RunAsync(x => c.EnrollAsync(enroll, x), Ct);
                    var upload = new ContributionRequest { CohortId = "bc_cluster", ParticipantId = id, Ciphertext = ByteString.CopyFrom(serializer.Serialize(codec.Encrypt(encoder.Encode(people[k]), encryptor))) };
                    Assert.True((await retry.RunAsync(x => c.UploadContributionAsync(upload, x), Ct)).Accepted);
                }
            }

            // a researcher buys a query; the marketplace's account pays it into escrow (through whichever node settles)
            using var keygen = new KeyGenerator(parameters.Rlwe);
            using var secret = keygen.GenerateSecretKey();
            using var researcher = Client(1, "researcher-1", Roles.Researcher);
            const string sql = "SELECT COUNT(*), AVG(mean_radius) FROM bc_cluster GROUP BY label";
            var quote = await retry.RunAsync(c => researcher.QuoteQueryAsync(new QuoteQueryRequest { CohortId = "bc_cluster", Query = sql, Epsilon = 10 }, c), Ct);
            var price = new BigInteger(quote.PriceMicros) * 1_000_000_000_000;
            var submit = new SubmitQueryRequest { QuoteId = quote.QuoteId, CohortId = "bc_cluster", Query = sql, IdempotencyKey = "cluster-1", ResearcherPublicKey = ByteString.CopyFrom(serializer.Serialize(keygen.GeneratePublicKey(secret))) };
            var job = await retry.RunAsync(c => researcher.SubmitQueryAsync(submit, c), Ct);
            var chainJobId = SettlementChain.JobId(job.JobId);
            await ClusterNodes.WaitUntilAsync(async () => await ArtifactAsync(pg, schema, job.JobId, "escrow") is not null, TimeSpan.FromMinutes(1), "escrow observed");
            Assert.Equal(price, (await chain.GetJobAsync(chainJobId, Ct)).Amount);

            // the first claim batch (recognised by the claimBatch selector in the raw transaction, whichever node sends
            // it and however many commitment or finalization sends came before it) reaches the chain, its answer never
            // reaches the node
            var claimBatch = ContractArtifact.Load(Path.Combine(build, "PayoutDistributor.json")).Abi.GetFunction("claimBatch").Selector;
            foreach (var proxy in proxies)
            {
                proxy.HoldCall(claimBatch);
            }

            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: escrow of {price} wei observed; settlement lease held by {await ClusterNodes.LeaseOwnerAsync(pg, schema, "settle:" + job.JobId)}");
            var held = await Task.WhenAny(proxies.Select(p => p.Held)).WaitAsync(TimeSpan.FromMinutes(3), Ct);
            int victim = proxies.FindIndex(p => p.Held == held);
            string heldTx = await held;
            foreach (var proxy in proxies.Where(p => p.Held != held))
            {
                proxy.Disarm(); // the survivors' transactions go through
            }

            var receipt = await rpc.GetTransactionReceiptAsync(Hash32.Parse(heldTx), Ct);
            Assert.NotNull(receipt);
            Assert.True(receipt.Succeeded, "the withheld claim batch was mined and succeeded");
            Assert.Equal(MarketJobState.Finalized, (await chain.GetJobAsync(chainJobId, Ct)).State);
            Assert.Null(await ArtifactAsync(pg, schema, job.JobId, "claims"));
            int paidBeforeKill = 0;
            foreach (var address in addresses.Values)
            {
                paidBeforeKill += await chain.IsClaimedAsync(chainJobId, address, Ct) ? 1 : 0;
            }

            Assert.Equal(ClaimBatch, paidBeforeKill);
            await nodes[victim].KillAsync();
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: node-{victim} broadcast claim batch {heldTx} ({paidBeforeKill} contributors paid on chain) and was SIGKILLed before recording it");

            // a survivor takes the settlement over and closes it
            await ClusterNodes.WaitUntilAsync(async () => await ArtifactAsync(pg, schema, job.JobId, "closed") is not null, TimeSpan.FromMinutes(2), "settlement closed");
            string survivor = ClusterNodes.TakenOverBy(nodes, victim, "settle:" + job.JobId);
            var claims = JsonDocument.Parse((await ArtifactAsync(pg, schema, job.JobId, "claims"))!).RootElement.GetProperty("details");
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: settlement closed by {survivor}; it claimed {claims.GetProperty("claimedByOperator").GetInt32()} payouts in {claims.GetProperty("transactions").GetArrayLength()} transaction(s)");
            Assert.Equal(WithAddress - ClaimBatch, claims.GetProperty("claimedByOperator").GetInt32());
            Assert.Equal((WithAddress - ClaimBatch + ClaimBatch - 1) / ClaimBatch, claims.GetProperty("transactions").GetArrayLength());

            // exactly once: every contributor with an address holds its share (equal contributions: the escrow minus
            // the 10 % fee, split evenly, each within 1 wei), the shares sum to the payout, the treasury got the fee
            var fee = price * 10 / 100;
            var total = price - fee;
            var payout = JsonSerializer.Deserialize<JsonElement>((await ArtifactAsync(pg, schema, job.JobId, "payout"))!);
            Assert.Equal(total.ToString(), payout.GetProperty("totalPayout").GetString());
            BigInteger sum = 0;
            foreach (var (id, address) in addresses)
            {
                var balance = await chain.BalanceAsync(address, Ct);
                Assert.True(await chain.IsClaimedAsync(chainJobId, address, Ct), $"{id} claimed");
                Assert.InRange(balance, total / WithAddress, (total / WithAddress) + 1);
                sum += balance;
            }

            Assert.Equal(total, sum);
            Assert.Equal(fee, await chain.BalanceAsync(treasury, Ct));
            Assert.Equal(BigInteger.Zero, await chain.BalanceAsync(deployment.PayoutDistributor, Ct));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {WithAddress} contributors paid {sum} wei in all, once each; fee {fee}; distributor empty");
        }
        catch (Exception)
        {
            output.WriteLine(CoordinatorProcess.LogTails(nodes, 40));

            throw;
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var runner in runners)
            {
                runner.Dispose();
            }

            foreach (var f in fronts)
            {
                await f.DisposeAsync();
            }

            foreach (var n in nodes)
            {
                await n.DisposeAsync();
            }

            foreach (var p in proxies)
            {
                await p.DisposeAsync();
            }

            await pg.DropSchemaAsync(schema, CancellationToken.None);
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A settlement step (or the payout) as recorded in the shared store, or null.</summary>
    private static async Task<byte[]?> ArtifactAsync(PostgresServer pg, string schema, string jobId, string name) =>
        await pg.ScalarAsync<byte[]>($"SELECT data FROM artifacts WHERE scope = 'settlement:{jobId}' AND name = '{name}';", schema);
}
