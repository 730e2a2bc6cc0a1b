using System.Numerics;
using System.Text;
using PrivateHealth.Ethereum;

namespace PrivateHealth.Settlement;

/// <summary>JobMarket's job state (the order of <c>JobMarket.State</c>).</summary>
public enum MarketJobState
{
    None = 0,
    Escrowed = 1,
    ResultCommitted = 2,
    Finalized = 3,
    Refunded = 4,
}

/// <summary>A job as <c>JobMarket.getJob</c> reports it. <paramref name="Asset"/> is <see cref="Address.Zero"/> for native ETH.</summary>
public sealed record MarketJob(MarketJobState State, Address Payer, Address Asset, BigInteger Amount, Hash32 QuoteHash, ulong Deadline)
{
    /// <summary>The committed result hash (zero before commitResult).</summary>
    public Hash32 ResultHash { get; init; }

    /// <summary>The committed metadata hash (zero before commitResult).</summary>
    public Hash32 MetadataHash { get; init; }
}

/// <summary>A <c>JobPaid</c> log.</summary>
public sealed record JobPaidEvent(Hash32 JobId, Address Payer, Address Asset, BigInteger Amount, Hash32 QuoteHash, ulong Deadline, long BlockNumber, Hash32 TransactionHash);

/// <summary>
/// Typed bindings over one deployment of the settlement contracts. Transactions are sent from the
/// given account and awaited; reverts surface as <see cref="ContractRevertException"/> (gas estimation
/// reverted, nothing sent) or <see cref="TransactionRevertedException"/> (mined with status 0), with the
/// reason decoded against the custom errors of all four contracts.
/// </summary>
public sealed class SettlementChain
{
    private const string JobPrefix = "privatehealth:job:";
    private readonly JsonRpcClient _rpc;
    private readonly ContractAbi _market;
    private readonly ContractAbi _distributor;
    private readonly ContractAbi _registry;
    private readonly ContractAbi _token;
    private readonly IReadOnlyList<AbiError> _errors;

    public SettlementChain(JsonRpcClient rpc, ChainDeployment deployment, string buildDirectory)
    {
        _rpc = rpc ?? throw new ArgumentNullException(nameof(rpc));
        Deployment = deployment ?? throw new ArgumentNullException(nameof(deployment));
        ArgumentNullException.ThrowIfNull(buildDirectory);
        _market = LoadArtifact(buildDirectory, "JobMarket").Abi;
        _distributor = LoadArtifact(buildDirectory, "PayoutDistributor").Abi;
        _registry = LoadArtifact(buildDirectory, "ContributionRegistry").Abi;
        _token = LoadArtifact(buildDirectory, "RewardToken").Abi;

        // One error table for all: a revert inside a nested call (JobMarket -> PayoutDistributor) is decoded too.
        var errors = new Dictionary<string, AbiError>(StringComparer.Ordinal);
        foreach (AbiError error in new[] { _market, _distributor, _registry, _token }.SelectMany(a => a.Errors))
        {
            errors.TryAdd(Hex.Encode(error.Selector), error);
        }

        _errors = [.. errors.Values];
    }

    public ChainDeployment Deployment { get; }

    /// <summary>The custom errors of the four contracts (deduplicated by selector).</summary>
    public IReadOnlyList<AbiError> Errors => _errors;

    /// <summary>The on-chain job id of a coordinator job id: keccak256(utf8("privatehealth:job:" + jobId)).</summary>
    public static Hash32 JobId(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return new Hash32(Keccak256.Hash(Encoding.UTF8.GetBytes(JobPrefix + jobId)));
    }

    /// <summary>keccak256 of the data.</summary>
    public static Hash32 HashOf(ReadOnlySpan<byte> data) => new(Keccak256.Hash(data));

    internal static ContractArtifact LoadArtifact(string buildDirectory, string name)
    {
        string path = Path.Combine(buildDirectory, name + ".json");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Contract artifact {path} not found (contracts/build holds the compiled contracts).", path);
        }

        return ContractArtifact.Load(path);
    }

    // ---------------------------------------------------------------- JobMarket

    public async Task<MarketJob> GetJobAsync(Hash32 jobId, CancellationToken ct = default)
    {
        object?[] job = (object?[])(await CallAsync(Deployment.JobMarket, _market, "getJob", [jobId.ToArray()], ct).ConfigureAwait(false))[0]!;
        // (payer, deadline, state, asset, amount, quoteHash, resultHash, metadataHash)
        return new MarketJob(
            (MarketJobState)(int)(BigInteger)job[2]!,
            (Address)job[0]!,
            (Address)job[3]!,
            (BigInteger)job[4]!,
            new Hash32((byte[])job[5]!),
            (ulong)(BigInteger)job[1]!)
        {
            ResultHash = new Hash32((byte[])job[6]!),
            MetadataHash = new Hash32((byte[])job[7]!),
        };
    }

    /// <summary>Escrows <paramref name="amountWei"/> for the job (<c>payNative</c>).</summary>
    public Task<TransactionReceipt> PayNativeAsync(EthereumAccount payer, Hash32 jobId, Hash32 quoteHash, BigInteger amountWei, ulong deadlineUnix, CancellationToken ct = default) =>
        SendAsync(payer, Deployment.JobMarket, _market, "payNative", [jobId.ToArray(), quoteHash.ToArray(), new BigInteger(deadlineUnix)], amountWei, ct);

    public Task<TransactionReceipt> CommitResultAsync(EthereumAccount operatorAccount, Hash32 jobId, Hash32 resultHash, Hash32 metadataHash, CancellationToken ct = default) =>
        SendAsync(operatorAccount, Deployment.JobMarket, _market, "commitResult", [jobId.ToArray(), resultHash.ToArray(), metadataHash.ToArray()], null, ct);

    /// <summary><c>finalize</c>: <paramref name="operatorFee"/> to the treasury, <paramref name="totalPayout"/> and the root to the distributor.</summary>
    public Task<TransactionReceipt> FinalizeAsync(EthereumAccount operatorAccount, Hash32 jobId, Hash32 payoutRoot, BigInteger totalPayout, BigInteger operatorFee, CancellationToken ct = default) =>
        SendAsync(operatorAccount, Deployment.JobMarket, _market, "finalize", [jobId.ToArray(), payoutRoot.ToArray(), totalPayout, operatorFee], null, ct);

    /// <summary><c>finalizeWithClaimWindow</c> (window in seconds, 1 to 3650 days).</summary>
    public Task<TransactionReceipt> FinalizeWithClaimWindowAsync(EthereumAccount operatorAccount, Hash32 jobId, Hash32 payoutRoot, BigInteger totalPayout, BigInteger operatorFee, ulong claimWindowSeconds, CancellationToken ct = default) =>
        SendAsync(operatorAccount, Deployment.JobMarket, _market, "finalizeWithClaimWindow", [jobId.ToArray(), payoutRoot.ToArray(), totalPayout, operatorFee, new BigInteger(claimWindowSeconds)], null, ct);

    /// <summary><c>cancel</c> by the payer while Escrowed (refund to the payer).</summary>
    public Task<TransactionReceipt> CancelAsync(EthereumAccount payer, Hash32 jobId, CancellationToken ct = default) =>
        SendAsync(payer, Deployment.JobMarket, _market, "cancel", [jobId.ToArray()], null, ct);

    /// <summary><c>reject</c> by the operator (refund to the payer).</summary>
    public Task<TransactionReceipt> RejectAsync(EthereumAccount operatorAccount, Hash32 jobId, CancellationToken ct = default) =>
        SendAsync(operatorAccount, Deployment.JobMarket, _market, "reject", [jobId.ToArray()], null, ct);

    /// <summary><c>refundExpired</c> by anyone after the deadline (refund to the payer).</summary>
    public Task<TransactionReceipt> RefundExpiredAsync(EthereumAccount sender, Hash32 jobId, CancellationToken ct = default) =>
        SendAsync(sender, Deployment.JobMarket, _market, "refundExpired", [jobId.ToArray()], null, ct);

    /// <summary>The JobPaid logs of a job (eth_getLogs from the deployment block).</summary>
    public async Task<IReadOnlyList<JobPaidEvent>> JobPaidEventsAsync(Hash32 jobId, CancellationToken ct = default)
    {
        AbiEvent jobPaid = _market.GetEvent("JobPaid");
        IReadOnlyList<EthLog> logs = await _rpc.GetLogsAsync(new LogFilter
        {
            Addresses = [Deployment.JobMarket],
            Topics = [[jobPaid.Topic0], [jobId]],
            FromBlock = BlockTag.Number(Deployment.Block),
            ToBlock = BlockTag.Latest,
        }, ct).ConfigureAwait(false);

        var result = new List<JobPaidEvent>(logs.Count);
        foreach (EthLog log in logs)
        {
            if (log.Removed)
            {
                continue;
            }

            DecodedEvent e = jobPaid.Decode(log.Topics, log.Data, log);
            result.Add(new JobPaidEvent(
                new Hash32((byte[])e["jobId"]!),
                (Address)e["payer"]!,
                (Address)e["asset"]!,
                (BigInteger)e["amount"]!,
                new Hash32((byte[])e["quoteHash"]!),
                (ulong)(BigInteger)e["deadline"]!,
                (long)log.BlockNumber,
                log.TransactionHash));
        }

        return result;
    }

    /// <summary>Native balance (wei).</summary>
    public Task<BigInteger> BalanceAsync(Address account, CancellationToken ct = default) =>
        _rpc.GetBalanceAsync(account, BlockTag.Latest, ct);

    /// <summary>RewardToken balance.</summary>
    public async Task<BigInteger> TokenBalanceAsync(Address account, CancellationToken ct = default) =>
        (BigInteger)(await CallAsync(Deployment.RewardToken, _token, "balanceOf", [account], ct).ConfigureAwait(false))[0]!;

    // -------------------------------------------------------- PayoutDistributor

    public async Task<bool> IsClaimedAsync(Hash32 jobId, Address account, CancellationToken ct = default) =>
        (bool)(await CallAsync(Deployment.PayoutDistributor, _distributor, "claimed", [jobId.ToArray(), account], ct).ConfigureAwait(false))[0]!;

    /// <summary>The on-chain leaf (<c>leafOf</c>), for cross-checks.</summary>
    public async Task<Hash32> LeafOfAsync(Hash32 jobId, Address account, BigInteger amount, CancellationToken ct = default) =>
        new((byte[])(await CallAsync(Deployment.PayoutDistributor, _distributor, "leafOf", [jobId.ToArray(), account, amount], ct).ConfigureAwait(false))[0]!);

    /// <summary><c>claim</c>: pays <paramref name="amount"/> to <paramref name="account"/>; anyone may send it.</summary>
    public Task<TransactionReceipt> ClaimAsync(EthereumAccount sender, Hash32 jobId, Address account, BigInteger amount, IReadOnlyList<Hash32> proof, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(proof);
        return SendAsync(sender, Deployment.PayoutDistributor, _distributor, "claim", [jobId.ToArray(), account, amount, ProofArray(proof)], null, ct);
    }

    /// <summary><c>claimBatch</c> of the given leaves with their proofs from <paramref name="tree"/> (already claimed entries are skipped on chain).</summary>
    public Task<TransactionReceipt> ClaimBatchAsync(EthereumAccount sender, Hash32 jobId, IReadOnlyList<PayoutLeaf> leaves, PayoutTree tree, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        ArgumentNullException.ThrowIfNull(tree);
        object?[] accounts = [.. leaves.Select(l => (object?)l.Account)];
        object?[] amounts = [.. leaves.Select(l => (object?)l.Amount)];
        object?[] proofs = [.. leaves.Select(l => (object?)ProofArray(tree.ProofFor(l.Account)))];
        return SendAsync(sender, Deployment.PayoutDistributor, _distributor, "claimBatch", [jobId.ToArray(), accounts, amounts, proofs], null, ct);
    }

    // ----------------------------------------------------- ContributionRegistry

    /// <summary>The participant's next EIP-712 nonce (<c>nonces</c>).</summary>
    public async Task<BigInteger> RegistryNonceAsync(Address participant, CancellationToken ct = default) =>
        (BigInteger)(await CallAsync(Deployment.ContributionRegistry, _registry, "nonces", [participant], ct).ConfigureAwait(false))[0]!;

    /// <summary><c>relayConsentBatch</c> (atomic; needs RELAYER_ROLE).</summary>
    public Task<TransactionReceipt> RelayConsentBatchAsync(EthereumAccount relayer, IReadOnlyList<SignedConsent> consents, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(consents);
        object?[] requests = [.. consents.Select(c => (object?)ConsentTuple(c.Participant, c.Purpose, c.Granted, c.Nonce, c.Deadline))];
        object?[] signatures = [.. consents.Select(c => (object?)c.Signature)];
        return SendAsync(relayer, Deployment.ContributionRegistry, _registry, "relayConsentBatch", [requests, signatures], null, ct);
    }

    public async Task<bool> HasConsentAsync(Address participant, Hash32 purpose, CancellationToken ct = default) =>
        (bool)(await CallAsync(Deployment.ContributionRegistry, _registry, "hasConsent", [participant, purpose.ToArray()], ct).ConfigureAwait(false))[0]!;

    /// <summary>The registry's own digest of a consent (<c>hashConsent</c>), for cross-checks.</summary>
    public async Task<Hash32> HashConsentOnChainAsync(Address participant, Hash32 purpose, bool granted, BigInteger nonce, ulong deadline, CancellationToken ct = default) =>
        new((byte[])(await CallAsync(Deployment.ContributionRegistry, _registry, "hashConsent", [ConsentTuple(participant, purpose, granted, nonce, deadline)], ct).ConfigureAwait(false))[0]!);

    /// <summary>The registry's <c>domainSeparator()</c>.</summary>
    public async Task<Hash32> RegistryDomainSeparatorAsync(CancellationToken ct = default) =>
        new((byte[])(await CallAsync(Deployment.ContributionRegistry, _registry, "domainSeparator", [], ct).ConfigureAwait(false))[0]!);

    // ------------------------------------------------------------------ plumbing

    private static object?[] ConsentTuple(Address participant, Hash32 purpose, bool granted, BigInteger nonce, ulong deadline) =>
        [participant, purpose.ToArray(), granted, nonce, new BigInteger(deadline)];

    private static object?[] ProofArray(IReadOnlyList<Hash32> proof) => [.. proof.Select(h => (object?)h.ToArray())];

    private async Task<object?[]> CallAsync(Address to, ContractAbi abi, string function, object?[] arguments, CancellationToken ct)
    {
        AbiFunction f = abi.GetFunction(function);
        byte[] result = await _rpc.CallAsync(new CallRequest { To = to, Data = f.EncodeCall(arguments) }, BlockTag.Latest, _errors, ct).ConfigureAwait(false);
        return f.DecodeOutput(result);
    }

    private Task<TransactionReceipt> SendAsync(EthereumAccount sender, Address to, ContractAbi abi, string function, object?[] arguments, BigInteger? value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return sender.SendAndWaitAsync(new TransactionRequest
        {
            To = to,
            Data = abi.EncodeCall(function, arguments),
            Value = value ?? BigInteger.Zero,
            Errors = _errors,
        }, ct);
    }
}
