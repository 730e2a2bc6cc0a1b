using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace PrivateHealth.Ethereum;

/// <summary>A block parameter: a tag ("latest", "pending", …) or a block number.</summary>
public readonly record struct BlockTag(string Value)
{
    public static BlockTag Latest { get; } = new("latest");

    public static BlockTag Pending { get; } = new("pending");

    public static BlockTag Earliest { get; } = new("earliest");

    public static BlockTag Safe { get; } = new("safe");

    public static BlockTag Finalized { get; } = new("finalized");

    /// <summary>A specific block number.</summary>
    public static BlockTag Number(BigInteger number) => new(Hex.EncodeQuantity(number));

    public override string ToString() => Value;
}

/// <summary>An event log from a receipt or eth_getLogs.</summary>
public sealed record EthLog(Address Address, IReadOnlyList<Hash32> Topics, byte[] Data, BigInteger BlockNumber, Hash32 TransactionHash, BigInteger LogIndex, bool Removed = false)
{
    internal static EthLog FromJson(JsonElement json) => new(
        Address.Parse(json.GetProperty("address").GetString()!),
        [.. json.GetProperty("topics").EnumerateArray().Select(t => Hash32.Parse(t.GetString()!))],
        Hex.Decode(json.GetProperty("data").GetString()!),
        Json.Quantity(json, "blockNumber") ?? BigInteger.Zero,
        json.TryGetProperty("transactionHash", out JsonElement h) && h.ValueKind == JsonValueKind.String ? Hash32.Parse(h.GetString()!) : Hash32.Zero,
        Json.Quantity(json, "logIndex") ?? BigInteger.Zero,
        json.TryGetProperty("removed", out JsonElement r) && r.ValueKind == JsonValueKind.True);
}

/// <summary>A transaction receipt.</summary>
public sealed record TransactionReceipt(
    Hash32 TransactionHash,
    BigInteger BlockNumber,
    Hash32 BlockHash,
    bool Succeeded,
    BigInteger GasUsed,
    BigInteger EffectiveGasPrice,
    Address From,
    Address? To,
    Address? ContractAddress,
    IReadOnlyList<EthLog> Logs)
{
    internal static TransactionReceipt FromJson(JsonElement json) => new(
        Hash32.Parse(json.GetProperty("transactionHash").GetString()!),
        Json.Quantity(json, "blockNumber") ?? BigInteger.Zero,
        Hash32.Parse(json.GetProperty("blockHash").GetString()!),
        Json.Quantity(json, "status") == BigInteger.One,
        Json.Quantity(json, "gasUsed") ?? BigInteger.Zero,
        Json.Quantity(json, "effectiveGasPrice") ?? BigInteger.Zero,
        Address.Parse(json.GetProperty("from").GetString()!),
        Json.OptionalAddress(json, "to"),
        Json.OptionalAddress(json, "contractAddress"),
        [.. json.GetProperty("logs").EnumerateArray().Select(EthLog.FromJson)]);
}

/// <summary>The result of eth_feeHistory.</summary>
/// <param name="OldestBlock">The first block in the range.</param>
/// <param name="BaseFeePerGas">Base fees of the blocks plus the next block's (count + 1 entries).</param>
/// <param name="GasUsedRatio">Gas used / gas limit per block.</param>
/// <param name="Reward">Per block, the priority fee at each requested percentile (empty when none requested).</param>
public sealed record FeeHistory(BigInteger OldestBlock, IReadOnlyList<BigInteger> BaseFeePerGas, IReadOnlyList<double> GasUsedRatio, IReadOnlyList<IReadOnlyList<BigInteger>> Reward);

/// <summary>Parameters of eth_call and eth_estimateGas.</summary>
public sealed record CallRequest
{
    public Address? From { get; init; }

    /// <summary>Null for a contract creation (estimateGas of a deployment).</summary>
    public Address? To { get; init; }

    public byte[]? Data { get; init; }

    public BigInteger? Value { get; init; }

    public BigInteger? Gas { get; init; }

    public BigInteger? GasPrice { get; init; }

    public BigInteger? MaxFeePerGas { get; init; }

    public BigInteger? MaxPriorityFeePerGas { get; init; }

    internal Dictionary<string, object?> ToJson()
    {
        var json = new Dictionary<string, object?>();
        if (From is not null)
        {
            json["from"] = From.Value.ToLowerHex();
        }

        if (To is not null)
        {
            json["to"] = To.Value.ToLowerHex();
        }

        if (Data is not null)
        {
            json["data"] = Hex.Encode(Data);
        }

        AddQuantity(json, "value", Value);
        AddQuantity(json, "gas", Gas);
        AddQuantity(json, "gasPrice", GasPrice);
        AddQuantity(json, "maxFeePerGas", MaxFeePerGas);
        AddQuantity(json, "maxPriorityFeePerGas", MaxPriorityFeePerGas);
        return json;
    }

    private static void AddQuantity(Dictionary<string, object?> json, string name, BigInteger? value)
    {
        if (value is not null)
        {
            json[name] = Hex.EncodeQuantity(value.Value);
        }
    }
}

/// <summary>An eth_getLogs filter. Topics: position i matches any of the listed hashes; null or empty matches anything.</summary>
public sealed record LogFilter
{
    public IReadOnlyList<Address>? Addresses { get; init; }

    public IReadOnlyList<IReadOnlyList<Hash32>?>? Topics { get; init; }

    public BlockTag? FromBlock { get; init; }

    public BlockTag? ToBlock { get; init; }

    internal Dictionary<string, object?> ToJson()
    {
        var json = new Dictionary<string, object?>();
        if (Addresses is { Count: > 0 })
        {
            json["address"] = Addresses.Select(a => a.ToLowerHex()).ToArray();
        }

        if (Topics is not null)
        {
            json["topics"] = Topics.Select(position => position is null || position.Count == 0
                ? null
                : (object)position.Select(t => t.ToString()).ToArray()).ToArray();
        }

        if (FromBlock is not null)
        {
            json["fromBlock"] = FromBlock.Value.Value;
        }

        if (ToBlock is not null)
        {
            json["toBlock"] = ToBlock.Value.Value;
        }

        return json;
    }
}

internal static class Json
{
    public static BigInteger? Quantity(JsonElement json, string name) =>
        json.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? Hex.DecodeQuantity(value.GetString()!)
            : null;

    public static Address? OptionalAddress(JsonElement json, string name) =>
        json.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? Address.Parse(value.GetString()!)
            : null;

    public static string Describe(JsonElement? element) =>
        element is null ? "(none)" : element.Value.GetRawText().Length > 300
            ? element.Value.GetRawText()[..300] + "..."
            : element.Value.GetRawText();

    public static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
