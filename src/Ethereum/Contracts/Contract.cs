using System.Numerics;
using System.Text.Json;

namespace PrivateHealth.Ethereum;

/// <summary>
/// A compiled contract as our contracts/ build writes it to contracts/build/&lt;Name&gt;.json:
/// {"contractName": "...", "abi": [...], "bytecode": "0x..."}.
/// </summary>
public sealed record ContractArtifact(string ContractName, ContractAbi Abi, byte[] Bytecode)
{
    /// <summary>Reads an artifact file.</summary>
    /// <exception cref="FormatException">The file is not an artifact.</exception>
    public static ContractArtifact Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"Contract artifact '{path}' is invalid: {ex.Message}", ex);
        }
    }

    /// <summary>Parses artifact JSON.</summary>
    public static ContractArtifact Parse(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        string name = root.TryGetProperty("contractName", out JsonElement n) ? n.GetString() ?? string.Empty : string.Empty;
        if (!root.TryGetProperty("abi", out JsonElement abi))
        {
            throw new FormatException("Artifact has no \"abi\".");
        }

        string bytecode = root.TryGetProperty("bytecode", out JsonElement b) && b.ValueKind == JsonValueKind.String ? b.GetString()! : "0x";
        return new ContractArtifact(name, ContractAbi.FromJson(abi), Hex.Decode(bytecode));
    }

    /// <summary>Deploys the artifact's bytecode with constructor arguments.</summary>
    public async Task<Contract> DeployAsync(EthereumAccount account, object?[]? constructorArguments = null, BigInteger? value = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (Bytecode.Length == 0)
        {
            throw new InvalidOperationException($"Artifact {ContractName} has no bytecode (abstract contract or interface?).");
        }

        Address address = await account.DeployAsync(Bytecode, Abi, constructorArguments, value, cancellationToken).ConfigureAwait(false);
        return new Contract(address, Abi, account.Rpc, account);
    }
}

/// <summary>A deployed contract: an address bound to an ABI, an RPC client and optionally a sending account.</summary>
public sealed class Contract
{
    private readonly EthereumAccount? _account;

    public Contract(Address address, ContractAbi abi, JsonRpcClient rpc, EthereumAccount? account = null)
    {
        Address = address;
        Abi = abi ?? throw new ArgumentNullException(nameof(abi));
        Rpc = rpc ?? throw new ArgumentNullException(nameof(rpc));
        _account = account;
    }

    public Address Address { get; }

    public ContractAbi Abi { get; }

    public JsonRpcClient Rpc { get; }

    /// <summary>eth_call of a function; returns the decoded outputs.</summary>
    /// <exception cref="ContractRevertException">The call reverted (reason decoded with this ABI's errors).</exception>
    public async Task<object?[]> CallAsync(string function, object?[]? arguments = null, CancellationToken cancellationToken = default)
    {
        AbiFunction f = Abi.GetFunction(function);
        byte[] result = await Rpc.CallAsync(new CallRequest { From = _account?.Address, To = Address, Data = f.EncodeCall(arguments ?? []) }, BlockTag.Latest, Abi.Errors, cancellationToken).ConfigureAwait(false);
        return f.DecodeOutput(result);
    }

    /// <summary>Sends a transaction calling a function and waits for its receipt.</summary>
    /// <exception cref="ContractRevertException">Gas estimation reverted; nothing was sent.</exception>
    /// <exception cref="TransactionRevertedException">Mined with status 0 (only when a gas limit skips estimation).</exception>
    public Task<TransactionReceipt> SendAsync(string function, object?[]? arguments = null, BigInteger? value = null, BigInteger? gasLimit = null, CancellationToken cancellationToken = default)
    {
        EthereumAccount account = _account ?? throw new InvalidOperationException($"Contract {Address} has no account to send from; bind one in the constructor.");
        return account.SendAndWaitAsync(new TransactionRequest
        {
            To = Address,
            Data = Abi.EncodeCall(function, arguments ?? []),
            Value = value ?? BigInteger.Zero,
            GasLimit = gasLimit,
            Errors = Abi.Errors,
        }, cancellationToken);
    }

    /// <summary>Decodes this contract's logs in a receipt (logs of other addresses and unknown events are skipped).</summary>
    public IReadOnlyList<DecodedEvent> DecodeEvents(TransactionReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return [.. receipt.Logs.Where(l => l.Address == Address).Select(Abi.TryDecodeLog).OfType<DecodedEvent>()];
    }
}
