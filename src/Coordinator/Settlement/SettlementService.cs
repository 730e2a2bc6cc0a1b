using System.Numerics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Analytics;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Ethereum;
using PrivateHealth.Protocol.V1;
using PrivateHealth.Settlement;

namespace PrivateHealth.Coordinator.Settlement;

/// <summary>A paid job as settlement sees it (a query job, or a training job bought with a quote).</summary>
internal sealed record PaidJob(string JobId, string Kind, string QuoteId, long PriceMicros, string State);

/// <summary>One step of a job's settlement as recorded (write-once artifacts in scope <c>settlement:&lt;job&gt;</c>).</summary>
public sealed record SettlementStep(string Name, string? Transaction, DateTimeOffset At, JsonElement? Details = null);

/// <summary>A contributor's payout as recorded in a job's payout (before the tree is published on chain).</summary>
public sealed record PayoutEntry(string ParticipantId, string Address, string Amount, long Weight);

/// <summary>The payout of a job: written once before finalization, so a restart never computes another tree.</summary>
public sealed record PayoutRecord(string Root, string TotalPayout, string OperatorFee, string Escrowed, IReadOnlyList<PayoutEntry> Entries, IReadOnlyList<string> Unpaid);

/// <summary>
/// Settles paid jobs on chain, one idempotent step at a time: escrow observed (the marketplace's paying account pays the
/// quoted price for the researcher, or the researcher pays the job id itself) → the job runs → result commitment (hash of
/// the result and of its metadata) → payout split by contribution and its Merkle root, recorded once → finalize (fee
/// to the treasury, payout to the distributor) → batched claims for every contributor. A failed or cancelled job is
/// refunded. Every step first reads the chain's state of the job and then records what it saw, and the contracts refuse
/// a second payment, commitment, finalization or claim, so a crash or an RPC failure between any two steps neither pays
/// twice nor loses a payment (docs/settlement.md).
/// </summary>
public sealed class SettlementService(
    ICoordinatorStore store,
    IQueryJobStore queryJobs,
    ICohortStore cohorts,
    IOptions<CoordinatorOptions> options,
    TimeProvider time,
    ILogger<SettlementService> logger,
    JobLeases leases) : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ChainSettings _settings = options.Value.Chain;
    private readonly Lock _gate = new();
    private ChainClients? _clients;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _closed = new(StringComparer.Ordinal);

    /// <summary>Whether settlement is on.</summary>
    public bool Enabled => _settings.Enabled;

    /// <summary>Artifact scope of a job's settlement records.</summary>
    public static string Scope(string jobId) => "settlement:" + jobId;

    /// <summary>Artifact scope of participants' payout addresses.</summary>
    public const string AddressScope = "payout-address";

    private sealed record ChainClients(JsonRpcClient Rpc, SettlementChain Chain, EthereumAccount Operator, EthereumAccount? Payer);

    private ChainClients Clients()
    {
        lock (_gate)
        {
            if (_clients is not null)
            {
                return _clients;
            }

            var rpc = new JsonRpcClient(new Uri(_settings.RpcUrl!));
            var deployment = ChainDeployment.Load(_settings.DeploymentPath!);
            var chain = new SettlementChain(rpc, deployment, _settings.BuildDirectory);
            var nonces = new NonceManager(rpc);
            var tx = new TransactionOptions { Confirmations = _settings.Confirmations, PollingInterval = TimeSpan.FromMilliseconds(200) };
            var op = new EthereumAccount(EthKey.FromHex(_settings.OperatorKey!), rpc, nonces, tx);
            var payer = string.IsNullOrWhiteSpace(_settings.PayerKey) ? null : new EthereumAccount(EthKey.FromHex(_settings.PayerKey), rpc, nonces, tx);
            return _clients = new ChainClients(rpc, chain, op, payer);
        }
    }

    // ------------------------------------------------------------------ gates and addresses

    /// <summary>Whether a paid job may run: settlement off, or its payment observed in escrow.</summary>
    public async Task<bool> IsFundedAsync(string jobId, CancellationToken ct) =>
        !Enabled || await store.GetArtifactAsync(Scope(jobId), "escrow", ct).ConfigureAwait(false) is not null;

    /// <summary>Records a participant's payout address once; a different address later is refused.</summary>
    /// <exception cref="ArgumentException">Not an address.</exception>
    /// <exception cref="InvalidOperationException">Another address is already recorded.</exception>
    public async Task SetPayoutAddressAsync(string participantId, string address, CancellationToken ct)
    {
        if (!Address.TryParse(address, out var parsed))
        {
            throw new ArgumentException($"payout_address '{address}' is not an Ethereum address (0x and 40 hex digits; mixed case must be a valid EIP-55 checksum).", nameof(address));
        }

        var bytes = Encoding.UTF8.GetBytes(parsed.ToString());
        if (!await store.PutArtifactAsync(AddressScope, participantId, bytes, ct).ConfigureAwait(false)
            && await PayoutAddressAsync(participantId, ct).ConfigureAwait(false) is { } existing && existing != parsed)
        {
            throw new InvalidOperationException($"Participant '{participantId}' already has payout address {existing}; it cannot be changed.");
        }
    }

    /// <summary>The participant's payout address, if recorded.</summary>
    public async Task<Address?> PayoutAddressAsync(string participantId, CancellationToken ct) =>
        await store.GetArtifactAsync(AddressScope, participantId, ct).ConfigureAwait(false) is { } b ? Address.Parse(Encoding.UTF8.GetString(b)) : null;

    // ------------------------------------------------------------------ state machine

    /// <summary>Steps the settlement of every paid job (errors are logged; the next pass retries).</summary>
    public async Task StepAllAsync(CancellationToken ct)
    {
        if (!Enabled)
        {
            return;
        }

        var open = new List<PaidJob>();
        foreach (var job in await PaidJobsAsync(ct).ConfigureAwait(false))
        {
            // a closed settlement never changes again: remembered here, and checked before taking its lease
            if (_closed.ContainsKey(job.JobId) || await Has(Scope(job.JobId), "closed", ct).ConfigureAwait(false))
            {
                if (_closed.TryAdd(job.JobId, 0))
                {
                    await leases.ReleaseAsync("settle:" + job.JobId, ct).ConfigureAwait(false); // a no-op unless held here
                }
            }
            else
            {
                open.Add(job);
            }
        }

        // PostgreSQL cluster: the free leases of the pass in one statement; settlements held elsewhere cost no round trip
        var mine = await leases.ClaimAsync(open.Select(j => "settle:" + j.JobId), ct).ConfigureAwait(false);
        foreach (var job in open)
        {
            string resource = "settle:" + job.JobId;
            if (mine is not null && !mine.Contains(resource))
            {
                continue;
            }

            try
            {
                using var lease = (await leases.TryAcquireAsync(resource, ct).ConfigureAwait(false))?.Enter();
                if (lease is not null)
                {
                    // the chain transactions stop waiting when the lease is lost (the next holder reads the chain first)
                    await StepAsync(job, lease.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                logger.LogWarning("Settlement of job {JobId} paused: {Error}", job.JobId, ex.Message);
                await leases.ReleaseAsync(resource, ct).ConfigureAwait(false); // another node may try
            }
        }
    }

    /// <summary>Every job bought with a quote (query jobs and training jobs created through the REST API).</summary>
    internal async Task<List<PaidJob>> PaidJobsAsync(CancellationToken ct)
    {
        var result = new List<PaidJob>();
        foreach (var q in await queryJobs.ListQueryJobsAsync(null, ct).ConfigureAwait(false))
        {
            var quote = await queryJobs.GetQuoteAsync(q.QuoteId, ct).ConfigureAwait(false);
            if (quote is not null)
            {
                result.Add(new PaidJob(q.JobId, "query", q.QuoteId, quote.PriceMicros, q.State));
            }
        }

        foreach (var t in await store.ListJobsAsync(ct).ConfigureAwait(false))
        {
            var spec = TrainingJobSpec.Parser.ParseFrom(t.Spec);
            if (string.IsNullOrEmpty(spec.QuoteId))
            {
                continue;
            }

            var quote = await Api.TrainingJobApi.FindQuoteAsync(store, queryJobs, spec.QuoteId, ct).ConfigureAwait(false);
            if (quote is not null)
            {
                result.Add(new PaidJob(t.JobId, "training", spec.QuoteId, quote.PriceMicros, t.State.ToString().ToLowerInvariant()));
            }
        }

        return result;
    }

    private async Task StepAsync(PaidJob job, CancellationToken ct)
    {
        string scope = Scope(job.JobId);
        if (await Has(scope, "closed", ct).ConfigureAwait(false))
        {
            return;
        }

        var c = Clients();
        var chainJobId = SettlementChain.JobId(job.JobId);
        var market = await c.Chain.GetJobAsync(chainJobId, ct).ConfigureAwait(false);
        bool finished = job.State is "completed";
        bool dead = job.State is "failed" or "cancelled";

        if (!await Has(scope, "escrow", ct).ConfigureAwait(false))
        {
            var expected = Wei(job.PriceMicros);
            if (market.State == MarketJobState.None)
            {
                if (dead || c.Payer is null)
                {
                    return; // nothing paid, nothing to do; or waiting for the researcher's own payment
                }

                var quoteHash = SettlementChain.HashOf(Encoding.UTF8.GetBytes($"{job.QuoteId}|{job.PriceMicros}"));
                ulong deadline = (ulong)(time.GetUtcNow() + _settings.JobDeadline).ToUnixTimeSeconds();
                try
                {
                    var receipt = await c.Chain.PayNativeAsync(c.Payer, chainJobId, quoteHash, expected, deadline, ct).ConfigureAwait(false);
                    logger.LogInformation("Job {JobId}: paid {Amount} wei into escrow (tx {Tx})", job.JobId, expected, receipt.TransactionHash);
                }
                catch (Exception ex) when (ex is TransactionRevertedException or ContractRevertException)
                {
                    logger.LogInformation("Job {JobId}: payment refused ({Reason}); reading the escrow again", job.JobId, ex.Message);
                }

                market = await c.Chain.GetJobAsync(chainJobId, ct).ConfigureAwait(false);
                if (market.State == MarketJobState.None)
                {
                    return;
                }
            }

            if (market.Amount < expected)
            {
                logger.LogWarning("Job {JobId}: escrow holds {Amount} wei, the quote asks {Expected}; the job stays unfunded", job.JobId, market.Amount, expected);
                return;
            }

            var paid = await c.Chain.JobPaidEventsAsync(chainJobId, ct).ConfigureAwait(false);
            long head = (long)await c.Rpc.GetBlockNumberAsync(ct).ConfigureAwait(false);
            if (paid.Count == 0 || head - paid[0].BlockNumber + 1 < _settings.Confirmations)
            {
                return; // not yet confirmed
            }

            await RecordAsync(scope, "escrow", paid[0].TransactionHash.ToString(), new { payer = paid[0].Payer.ToString(), amount = market.Amount.ToString(), block = paid[0].BlockNumber }, ct).ConfigureAwait(false);
            logger.LogInformation("Job {JobId}: escrow of {Amount} wei observed (block {Block})", job.JobId, market.Amount, paid[0].BlockNumber);
        }

        if (dead)
        {
            if (market.State == MarketJobState.Escrowed && c.Payer is not null && market.Payer == c.Payer.Address)
            {
                var receipt = await c.Chain.CancelAsync(c.Payer, chainJobId, ct).ConfigureAwait(false);
                await RecordAsync(scope, "refunded", receipt.TransactionHash.ToString(), new { amount = market.Amount.ToString() }, ct).ConfigureAwait(false);
                await RecordAsync(scope, "closed", null, null, ct).ConfigureAwait(false);
                logger.LogInformation("Job {JobId} {State}: escrow refunded", job.JobId, job.State);
            }
            else if (market.State == MarketJobState.Refunded)
            {
                await RecordAsync(scope, "closed", null, null, ct).ConfigureAwait(false);
            }

            return; // otherwise the payer (or anyone after the deadline) refunds on chain
        }

        if (!finished)
        {
            return;
        }

        if (!await Has(scope, "commit", ct).ConfigureAwait(false))
        {
            var (resultHash, metadataHash) = await ResultHashesAsync(job, ct).ConfigureAwait(false);
            string? tx = null;
            if (market.State == MarketJobState.Escrowed)
            {
                tx = (await c.Chain.CommitResultAsync(c.Operator, chainJobId, resultHash, metadataHash, ct).ConfigureAwait(false)).TransactionHash.ToString();
                market = await c.Chain.GetJobAsync(chainJobId, ct).ConfigureAwait(false);
            }

            if (market.State is not (MarketJobState.ResultCommitted or MarketJobState.Finalized))
            {
                throw new InvalidOperationException($"the escrow is {market.State}; the result cannot be committed");
            }

            await RecordAsync(scope, "commit", tx, new { resultHash = resultHash.ToString(), metadataHash = metadataHash.ToString() }, ct).ConfigureAwait(false);
        }

        var payout = await PayoutAsync(job, market.Amount, chainJobId, ct).ConfigureAwait(false);
        var tree = Tree(chainJobId, payout);
        if (!await Has(scope, "finalize", ct).ConfigureAwait(false))
        {
            string? tx = null;
            if (market.State == MarketJobState.ResultCommitted)
            {
                tx = (await c.Chain.FinalizeAsync(c.Operator, chainJobId, tree?.Root ?? Hash32.Zero, BigInteger.Parse(payout.TotalPayout), BigInteger.Parse(payout.OperatorFee), ct).ConfigureAwait(false)).TransactionHash.ToString();
                market = await c.Chain.GetJobAsync(chainJobId, ct).ConfigureAwait(false);
            }

            if (market.State != MarketJobState.Finalized)
            {
                throw new InvalidOperationException($"the escrow is {market.State}; it cannot be finalized");
            }

            await RecordAsync(scope, "finalize", tx, new { root = payout.Root, total = payout.TotalPayout, fee = payout.OperatorFee }, ct).ConfigureAwait(false);
            logger.LogInformation("Job {JobId} finalized: {Total} wei to {Count} contributors, fee {Fee}", job.JobId, payout.TotalPayout, payout.Entries.Count, payout.OperatorFee);
        }

        if (_settings.BatchClaims && tree is not null)
        {
            await ClaimRemainingAsync(job.JobId, ct).ConfigureAwait(false);
        }

        await RecordAsync(scope, "closed", null, null, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Claims, as the operator and in batches, every payout of a finalized job that its contributor has not claimed
    /// (claimed leaves are skipped on chain too); returns how many were paid. Runs after finalization when
    /// <see cref="ChainSettings.BatchClaims"/> is on.
    /// </summary>
    public async Task<int> ClaimRemainingAsync(string jobId, CancellationToken ct)
    {
        var c = Clients();
        var chainJobId = SettlementChain.JobId(jobId);
        if (await PayoutOfAsync(jobId, ct).ConfigureAwait(false) is not { } payout || Tree(chainJobId, payout) is not { } tree
            || (await c.Chain.GetJobAsync(chainJobId, ct).ConfigureAwait(false)).State != MarketJobState.Finalized)
        {
            return 0;
        }

        var open = new List<PayoutLeaf>();
        foreach (var leaf in tree.Leaves)
        {
            if (!await c.Chain.IsClaimedAsync(chainJobId, leaf.Account, ct).ConfigureAwait(false))
            {
                open.Add(leaf);
            }
        }

        var txs = new List<string>();
        foreach (var batch in open.Chunk(_settings.ClaimBatchSize))
        {
            txs.Add((await c.Chain.ClaimBatchAsync(c.Operator, chainJobId, batch, tree, ct).ConfigureAwait(false)).TransactionHash.ToString());
        }

        await RecordAsync(Scope(jobId), "claims", txs.Count > 0 ? txs[^1] : null, new { claimedByOperator = open.Count, transactions = txs }, ct).ConfigureAwait(false);
        if (open.Count > 0)
        {
            logger.LogInformation("Job {JobId}: the operator claimed {Count} payouts in {Batches} transaction(s)", jobId, open.Count, txs.Count);
        }

        return open.Count;
    }

    /// <summary>Hash of the result the researcher receives and of the job's public metadata.</summary>
    private async Task<(Hash32 Result, Hash32 Metadata)> ResultHashesAsync(PaidJob job, CancellationToken ct)
    {
        byte[] result;
        object metadata;
        if (job.Kind == "query")
        {
            var q = (await queryJobs.GetQueryJobAsync(job.JobId, ct).ConfigureAwait(false))!;
            result = await store.GetArtifactAsync("query:" + job.JobId, "result", ct).ConfigureAwait(false) ?? [];
            var data = QueryJobData.Parse(q.Data);
            metadata = new { jobId = q.JobId, kind = "query", cohortId = q.CohortId, query = q.QueryText, mode = data.Mode, contributors = data.Contributors, releasedSlots = data.ReleasedSlots, countSigma = data.CountSigma, statisticsSigma = data.StatisticsSigma };
        }
        else
        {
            var t = (await store.GetJobAsync(job.JobId, ct).ConfigureAwait(false))!;
            result = new byte[t.GlobalModel.Length * sizeof(double)];
            Buffer.BlockCopy(t.GlobalModel, 0, result, 0, result.Length);
            var spec = TrainingJobSpec.Parser.ParseFrom(t.Spec);
            metadata = new { jobId = t.JobId, kind = "training", cohortId = spec.CohortId, model = spec.Model, rounds = spec.Rounds, features = spec.Features };
        }

        return (SettlementChain.HashOf(result), SettlementChain.HashOf(JsonSerializer.SerializeToUtf8Bytes(metadata, Json)));
    }

    /// <summary>The job's payout, computed once (the first record wins) from who contributed.</summary>
    private async Task<PayoutRecord> PayoutAsync(PaidJob job, BigInteger escrowed, Hash32 chainJobId, CancellationToken ct)
    {
        string scope = Scope(job.JobId);
        if (await store.GetArtifactAsync(scope, "payout", ct).ConfigureAwait(false) is { } existing)
        {
            return JsonSerializer.Deserialize<PayoutRecord>(existing, Json)!;
        }

        var weights = await ContributionWeightsAsync(job, ct).ConfigureAwait(false);
        var paid = new List<(string Participant, Address Account, long Weight)>();
        var unpaid = new List<string>();
        foreach (var (participant, weight) in weights.OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            if (await PayoutAddressAsync(participant, ct).ConfigureAwait(false) is { } address)
            {
                paid.Add((participant, address, weight));
            }
            else
            {
                unpaid.Add(participant);
            }
        }

        // one leaf per address: a participant id maps to one address, but two ids may share one
        var byAddress = paid.GroupBy(p => p.Account).Select(g => (Account: g.Key, Weight: g.Sum(x => x.Weight), Members: g.ToList())).ToList();
        var fee = paid.Count == 0 ? escrowed : escrowed * _settings.OperatorFeePercent / 100;
        var total = escrowed - fee;
        var leaves = PayoutSplit.Split(total, [.. byAddress.Select(a => (a.Account, a.Weight))]);
        var amounts = leaves.ToDictionary(l => l.Account, l => l.Amount);
        // the address's amount is listed on its first participant (one leaf per address)
        var entries = byAddress.SelectMany(a => a.Members.Select((m, i) => new PayoutEntry(m.Participant, a.Account.ToString(), i == 0 && amounts.TryGetValue(a.Account, out var amt) ? amt.ToString() : "0", m.Weight))).ToList();
        var root = leaves.Count == 0 ? Hash32.Zero : new PayoutTree(chainJobId, leaves).Root;
        var record = new PayoutRecord(root.ToString(), total.ToString(), fee.ToString(), escrowed.ToString(), entries, unpaid);
        await store.PutArtifactAsync(scope, "payout", JsonSerializer.SerializeToUtf8Bytes(record, Json), ct).ConfigureAwait(false);
        // the first writer wins: read back what is stored
        return JsonSerializer.Deserialize<PayoutRecord>((await store.GetArtifactAsync(scope, "payout", ct).ConfigureAwait(false))!, Json)!;
    }

    private static PayoutTree? Tree(Hash32 chainJobId, PayoutRecord payout)
    {
        var leaves = payout.Entries.Where(e => e.Amount != "0").Select(e => new PayoutLeaf(Address.Parse(e.Address), BigInteger.Parse(e.Amount))).ToList();
        return leaves.Count == 0 ? null : new PayoutTree(chainJobId, leaves);
    }

    /// <summary>Who contributed to a job and how much (query: one per person in the answered aggregate; training: rounds contributed).</summary>
    private async Task<Dictionary<string, long>> ContributionWeightsAsync(PaidJob job, CancellationToken ct)
    {
        var weights = new Dictionary<string, long>(StringComparer.Ordinal);
        if (job.Kind == "query")
        {
            var q = (await queryJobs.GetQueryJobAsync(job.JobId, ct).ConfigureAwait(false))!;
            var data = QueryJobData.Parse(q.Data);
            if (data.CollectionJobId is { } collection)
            {
                foreach (var upload in await store.ListUploadsAsync(collection, 0, ct).ConfigureAwait(false))
                {
                    weights[upload.ParticipantId] = 1;
                }

                return weights;
            }

            // replay the cohort's ledger up to the frozen aggregate: the active contributors are those counted in it
            var active = new HashSet<string>(StringComparer.Ordinal);
            long after = 0;
            while (true)
            {
                var events = await cohorts.ListContributionEventsAsync(q.CohortId, after, 1000, ct).ConfigureAwait(false);
                foreach (var e in events.Where(e => e.Sequence <= data.FrozenThrough))
                {
                    if (e.Kind == ContributionEventKind.Add)
                    {
                        active.Add(e.ParticipantId);
                    }
                    else
                    {
                        active.Remove(e.ParticipantId);
                    }
                }

                if (events.Count < 1000 || events[^1].Sequence >= data.FrozenThrough)
                {
                    break;
                }

                after = events[^1].Sequence;
            }

            foreach (var p in active)
            {
                weights[p] = 1;
            }

            return weights;
        }

        foreach (var round in await store.ListRoundsAsync(job.JobId, ct).ConfigureAwait(false))
        {
            if (round.State != RoundState.Completed)
            {
                continue;
            }

            var (participants, _) = await store.GetUploadSummaryAsync(job.JobId, round.Round, ct).ConfigureAwait(false);
            foreach (var p in participants)
            {
                weights[p] = weights.GetValueOrDefault(p) + 1;
            }
        }

        return weights;
    }

    private BigInteger Wei(long micros) => new BigInteger(micros) * _settings.WeiPerMicro;

    private async Task<bool> Has(string scope, string name, CancellationToken ct) =>
        await store.GetArtifactAsync(scope, name, ct).ConfigureAwait(false) is not null;

    private async Task RecordAsync(string scope, string name, string? transaction, object? details, CancellationToken ct)
    {
        var step = new SettlementStep(name, transaction, time.GetUtcNow(), details is null ? null : JsonSerializer.SerializeToElement(details, Json));
        await store.PutArtifactAsync(scope, name, JsonSerializer.SerializeToUtf8Bytes(step, Json), ct).ConfigureAwait(false);
    }

    // ------------------------------------------------------------------ reading

    /// <summary>The recorded steps of a job's settlement, in order.</summary>
    public async Task<IReadOnlyList<SettlementStep>> StepsAsync(string jobId, CancellationToken ct)
    {
        var steps = new List<SettlementStep>();
        foreach (var name in new[] { "escrow", "commit", "finalize", "claims", "refunded", "closed" })
        {
            if (await store.GetArtifactAsync(Scope(jobId), name, ct).ConfigureAwait(false) is { } bytes)
            {
                steps.Add(JsonSerializer.Deserialize<SettlementStep>(bytes, Json)!);
            }
        }

        return steps;
    }

    /// <summary>The payout of a job once decided (null before).</summary>
    public async Task<PayoutRecord?> PayoutOfAsync(string jobId, CancellationToken ct) =>
        await store.GetArtifactAsync(Scope(jobId), "payout", ct).ConfigureAwait(false) is { } b ? JsonSerializer.Deserialize<PayoutRecord>(b, Json) : null;

    /// <summary>A participant's earnings over every finalized job, with proofs and claim status.</summary>
    public async Task<EarningsReply> EarningsAsync(string participantId, CancellationToken ct)
    {
        var reply = new EarningsReply { PayoutAddress = (await PayoutAddressAsync(participantId, ct).ConfigureAwait(false))?.ToString() ?? string.Empty };
        if (!Enabled)
        {
            return reply;
        }

        var c = Clients();
        foreach (var job in await PaidJobsAsync(ct).ConfigureAwait(false))
        {
            if (!await Has(Scope(job.JobId), "finalize", ct).ConfigureAwait(false) || await PayoutOfAsync(job.JobId, ct).ConfigureAwait(false) is not { } payout)
            {
                continue;
            }

            var mine = payout.Entries.FirstOrDefault(e => e.ParticipantId == participantId);
            if (mine is null || mine.Amount == "0")
            {
                continue;
            }

            var chainJobId = SettlementChain.JobId(job.JobId);
            var tree = Tree(chainJobId, payout)!;
            var account = Address.Parse(mine.Address);
            var earning = new Earning
            {
                JobId = job.JobId,
                ChainJobId = chainJobId.ToString(),
                Distributor = c.Chain.Deployment.PayoutDistributor.ToString(),
                ChainId = c.Chain.Deployment.ChainId,
                PayoutAddress = mine.Address,
                Amount = mine.Amount,
                Root = payout.Root,
                Claimed = await c.Chain.IsClaimedAsync(chainJobId, account, ct).ConfigureAwait(false),
            };
            earning.Proof.AddRange(tree.ProofFor(account).Select(h => h.ToString()));
            reply.Earnings.Add(earning);
        }

        return reply;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _clients?.Rpc.Dispose();
            _clients = null;
        }
    }
}
