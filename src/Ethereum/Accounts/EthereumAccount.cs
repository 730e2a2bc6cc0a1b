using System.Numerics;
using System.Text.Json;

namespace PrivateHealth.Ethereum;

/// <summary>Fee, gas and waiting policy of <see cref="EthereumAccount"/>.</summary>
public sealed record TransactionOptions
{
    /// <summary>Gas estimate multiplier in percent. Default 120 (+20 %).</summary>
    public int GasMarginPercent { get; init; } = 120;

    /// <summary>Blocks of eth_feeHistory to sample. Default 5.</summary>
    public int FeeHistoryBlocks { get; init; } = 5;

    /// <summary>Percentile of priority fees paid in those blocks. Default 50 (median).</summary>
    public double RewardPercentile { get; init; } = 50;

    /// <summary>Used when neither fee history nor eth_maxPriorityFeePerGas give a tip. Default 1 gwei.</summary>
    public BigInteger FallbackPriorityFee { get; init; } = 1_000_000_000;

    /// <summary>Confirmations <see cref="EthereumAccount.SendAndWaitAsync"/> waits for. Default 1.</summary>
    public int Confirmations { get; init; } = 1;

    /// <summary>Receipt timeout. Default 2 minutes.</summary>
    public TimeSpan ReceiptTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Receipt polling interval. Default 1 s.</summary>
    public TimeSpan PollingInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>What to send; unset gas and fees are filled in.</summary>
public sealed record TransactionRequest
{
    /// <summary>The recipient; null deploys <see cref="Data"/> as creation code.</summary>
    public Address? To { get; init; }

    public BigInteger Value { get; init; }

    public byte[] Data { get; init; } = [];

    /// <summary>Skips estimation when set.</summary>
    public BigInteger? GasLimit { get; init; }

    /// <summary>Sends a legacy EIP-155 transaction at eth_gasPrice instead of EIP-1559.</summary>
    public bool Legacy { get; init; }

    /// <summary>Custom errors used to decode reverts during estimation.</summary>
    public IReadOnlyList<AbiError>? Errors { get; init; }
}

/// <summary>EIP-1559 fees.</summary>
public sealed record FeeEstimate(BigInteger MaxFeePerGas, BigInteger MaxPriorityFeePerGas, BigInteger BaseFee);

/// <summary>
/// Sends transactions from one key: fills nonce (via <see cref="NonceManager"/>), fees (EIP-1559
/// from eth_feeHistory) and gas (estimate + margin), signs, broadcasts and waits for receipts.
/// </summary>
public sealed class EthereumAccount
{
    private readonly NonceManager _nonces;
    private BigInteger? _chainId;

    public EthereumAccount(EthKey key, JsonRpcClient rpc, NonceManager? nonces = null, TransactionOptions? options = null)
    {
        Key = key ?? throw new ArgumentNullException(nameof(key));
        Rpc = rpc ?? throw new ArgumentNullException(nameof(rpc));
        _nonces = nonces ?? new NonceManager(rpc);
        Options = options ?? new TransactionOptions();
    }

    public EthKey Key { get; }

    public Address Address => Key.Address;

    public JsonRpcClient Rpc { get; }

    public TransactionOptions Options { get; }

    /// <summary>The chain id (read once).</summary>
    public async Task<BigInteger> GetChainIdAsync(CancellationToken cancellationToken = default) =>
        _chainId ??= await Rpc.GetChainIdAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// EIP-1559 fees: tip = median (configured percentile) of recent rewards, else
    /// eth_maxPriorityFeePerGas, else the fallback; maxFee = 2 × next base fee + tip.
    /// </summary>
    public async Task<FeeEstimate> EstimateFeesAsync(CancellationToken cancellationToken = default)
    {
        FeeHistory history = await Rpc.GetFeeHistoryAsync(Options.FeeHistoryBlocks, BlockTag.Latest, [Options.RewardPercentile], cancellationToken).ConfigureAwait(false);
        BigInteger baseFee = history.BaseFeePerGas.Count > 0 ? history.BaseFeePerGas[^1] : BigInteger.Zero;
        List<BigInteger> rewards = [.. history.Reward.Where(r => r.Count > 0).Select(r => r[0]).Where(r => r > 0).Order()];
        BigInteger tip;
        if (rewards.Count > 0)
        {
            tip = rewards[rewards.Count / 2];
        }
        else
        {
            try
            {
                tip = await Rpc.GetMaxPriorityFeePerGasAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                tip = Options.FallbackPriorityFee;
            }

            if (tip.IsZero)
            {
                tip = Options.FallbackPriorityFee;
            }
        }

        return new FeeEstimate((2 * baseFee) + tip, tip, baseFee);
    }

    /// <summary>Builds, signs and broadcasts a transaction; returns its hash without waiting.</summary>
    /// <exception cref="ContractRevertException">Gas estimation reverted (nothing was sent).</exception>
    public async Task<Hash32> SendAsync(TransactionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        BigInteger chainId = await GetChainIdAsync(cancellationToken).ConfigureAwait(false);
        BigInteger gasLimit = request.GasLimit ?? await EstimateGasAsync(request, cancellationToken).ConfigureAwait(false);
        FeeEstimate? fees = request.Legacy ? null : await EstimateFeesAsync(cancellationToken).ConfigureAwait(false);
        BigInteger gasPrice = request.Legacy ? await Rpc.GetGasPriceAsync(cancellationToken).ConfigureAwait(false) : BigInteger.Zero;

        for (int attempt = 0; ; attempt++)
        {
            using NonceLease lease = await _nonces.AcquireAsync(Address, cancellationToken).ConfigureAwait(false);
            SignedTransaction signed;
            try
            {
                IUnsignedTransaction tx = request.Legacy
                    ? new LegacyTransaction { ChainId = chainId, Nonce = lease.Nonce, GasPrice = gasPrice, GasLimit = gasLimit, To = request.To, Value = request.Value, Data = request.Data }
                    : new Eip1559Transaction { ChainId = chainId, Nonce = lease.Nonce, MaxFeePerGas = fees!.MaxFeePerGas, MaxPriorityFeePerGas = fees.MaxPriorityFeePerGas, GasLimit = gasLimit, To = request.To, Value = request.Value, Data = request.Data };
                signed = tx.Sign(Key);
            }
            catch
            {
                lease.NotBroadcast();
                throw;
            }

            try
            {
                await Rpc.SendRawTransactionAsync(signed.Raw, cancellationToken).ConfigureAwait(false);
                lease.Broadcast();
                return signed.Hash;
            }
            catch (RpcException ex)
            {
                // Some nodes report an error although the transaction is in the pool or even mined
                // (hardhat with automine answers a reverting transaction with an error; a transport
                // retry may resend a delivered transaction). The node is the judge: ask it.
                if (await IsKnownAsync(signed.Hash, cancellationToken).ConfigureAwait(false))
                {
                    lease.Broadcast();
                    return signed.Hash;
                }

                if (!ex.IsNonceConflict)
                {
                    // A rejection: the transaction is not in the pool, so its nonce is free again.
                    lease.NotBroadcast();
                    throw;
                }

                lease.Resync();
                if (attempt >= 2)
                {
                    throw;
                }
            }
            catch (RpcTransportException)
            {
                // Unknown whether it reached the node: re-read the pending nonce next time.
                lease.Resync();
                throw;
            }
        }
    }

    private async Task<bool> IsKnownAsync(Hash32 hash, CancellationToken cancellationToken)
    {
        try
        {
            return await Rpc.GetTransactionByHashAsync(hash, cancellationToken).ConfigureAwait(false) is not null;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    /// <summary>Sends and waits for the receipt (<see cref="TransactionOptions.Confirmations"/>).</summary>
    /// <exception cref="TransactionRevertedException">The transaction was mined with status 0.</exception>
    public async Task<TransactionReceipt> SendAndWaitAsync(TransactionRequest request, CancellationToken cancellationToken = default)
    {
        Hash32 hash = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await WaitForReceiptAsync(hash, Options.Confirmations, Options.ReceiptTimeout, Options.PollingInterval, request.Errors, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deploys creation bytecode with ABI-encoded constructor arguments and returns the contract address.</summary>
    public async Task<Address> DeployAsync(byte[] bytecode, ContractAbi? abi = null, object?[]? constructorArguments = null, BigInteger? value = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bytecode);
        byte[] arguments = abi is null ? [] : abi.EncodeConstructor(constructorArguments ?? []);
        TransactionReceipt receipt = await SendAndWaitAsync(new TransactionRequest { Data = [.. bytecode, .. arguments], Value = value ?? BigInteger.Zero, Errors = abi?.Errors }, cancellationToken).ConfigureAwait(false);
        return receipt.ContractAddress ?? throw new InvalidOperationException($"Deployment {receipt.TransactionHash} succeeded but the receipt has no contract address.");
    }

    private async Task<BigInteger> EstimateGasAsync(TransactionRequest request, CancellationToken cancellationToken)
    {
        BigInteger estimate = await Rpc.EstimateGasAsync(new CallRequest { From = Address, To = request.To, Value = request.Value, Data = request.Data }, request.Errors, cancellationToken).ConfigureAwait(false);
        return estimate * Options.GasMarginPercent / 100;
    }

    /// <summary>
    /// Polls for the receipt until it has <paramref name="confirmations"/> confirmations (1 = mined).
    /// A failed transaction is replayed with eth_call on the parent block to recover its revert reason.
    /// </summary>
    /// <exception cref="TimeoutException">No receipt (or not enough confirmations) within the timeout.</exception>
    /// <exception cref="TransactionRevertedException">Status 0.</exception>
    public async Task<TransactionReceipt> WaitForReceiptAsync(Hash32 hash, int confirmations, TimeSpan timeout, TimeSpan pollingInterval, IEnumerable<AbiError>? customErrors = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(confirmations, 1);
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            TransactionReceipt? receipt = await Rpc.GetTransactionReceiptAsync(hash, cancellationToken).ConfigureAwait(false);
            if (receipt is not null)
            {
                BigInteger head = await Rpc.GetBlockNumberAsync(cancellationToken).ConfigureAwait(false);
                if (head - receipt.BlockNumber + 1 >= confirmations)
                {
                    if (!receipt.Succeeded)
                    {
                        throw new TransactionRevertedException(receipt, await ReplayRevertReasonAsync(hash, receipt, customErrors, cancellationToken).ConfigureAwait(false));
                    }

                    return receipt;
                }
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException(receipt is null
                    ? Json.Invariant($"Transaction {hash} was not mined within {timeout.TotalSeconds:0.#} s.")
                    : Json.Invariant($"Transaction {hash} (block {receipt.BlockNumber}) did not reach {confirmations} confirmations within {timeout.TotalSeconds:0.#} s."));
            }

            await Task.Delay(pollingInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<RevertReason?> ReplayRevertReasonAsync(Hash32 hash, TransactionReceipt receipt, IEnumerable<AbiError>? customErrors, CancellationToken cancellationToken)
    {
        JsonElement? tx = await Rpc.GetTransactionByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        if (tx is null)
        {
            return null;
        }

        JsonElement t = tx.Value;
        var call = new CallRequest
        {
            From = receipt.From,
            To = receipt.To,
            Data = Hex.Decode((t.TryGetProperty("input", out JsonElement input) ? input : t.GetProperty("data")).GetString()!),
            Value = Json.Quantity(t, "value"),
            Gas = Json.Quantity(t, "gas"),
        };
        try
        {
            await Rpc.CallAsync(call, BlockTag.Number(receipt.BlockNumber - 1), customErrors, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (ContractRevertException ex)
        {
            return ex.Reason;
        }
        catch (RpcException)
        {
            return null;
        }
    }
}
