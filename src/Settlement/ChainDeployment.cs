using System.Text.Json;
using PrivateHealth.Ethereum;

namespace PrivateHealth.Settlement;

/// <summary>
/// The addresses of one deployment of the settlement contracts. JSON with camelCase properties,
/// addresses as EIP-55 checksummed 0x-hex strings: {"chainId", "rewardToken", "contributionRegistry",
/// "jobMarket", "payoutDistributor", "treasury", "block"}. <see cref="Load"/> also reads the file
/// written by contracts/scripts/deploy.js ({chainId, block, roles{treasury}, addresses{RewardToken,…}}).
/// Block is the first deployment block (events are scanned from there).
/// </summary>
public sealed record ChainDeployment(long ChainId, Address RewardToken, Address ContributionRegistry, Address JobMarket, Address PayoutDistributor, Address Treasury, long Block)
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = true };

    /// <summary>Reads a deployment file.</summary>
    /// <exception cref="FormatException">Missing or malformed properties.</exception>
    public static ChainDeployment Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new FormatException($"Deployment file '{path}' is invalid: {ex.Message}", ex);
        }
    }

    /// <summary>Parses deployment JSON (ours or deploy.js's).</summary>
    public static ChainDeployment Parse(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        if (root.TryGetProperty("addresses", out JsonElement addresses))
        {
            // contracts/scripts/deploy.js
            return new ChainDeployment(
                root.GetProperty("chainId").GetInt64(),
                Address.Parse(addresses.GetProperty("RewardToken").GetString()!),
                Address.Parse(addresses.GetProperty("ContributionRegistry").GetString()!),
                Address.Parse(addresses.GetProperty("JobMarket").GetString()!),
                Address.Parse(addresses.GetProperty("PayoutDistributor").GetString()!),
                Address.Parse(root.GetProperty("roles").GetProperty("treasury").GetString()!),
                root.GetProperty("block").GetInt64());
        }

        return new ChainDeployment(
            root.GetProperty("chainId").GetInt64(),
            Address.Parse(root.GetProperty("rewardToken").GetString()!),
            Address.Parse(root.GetProperty("contributionRegistry").GetString()!),
            Address.Parse(root.GetProperty("jobMarket").GetString()!),
            Address.Parse(root.GetProperty("payoutDistributor").GetString()!),
            Address.Parse(root.GetProperty("treasury").GetString()!),
            root.GetProperty("block").GetInt64());
    }

    /// <summary>Writes the deployment as indented JSON (creates the folder).</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        File.WriteAllText(path, ToJson() + "\n");
    }

    /// <summary>The JSON form.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteNumber("chainId", ChainId);
            writer.WriteString("rewardToken", RewardToken.ToString());
            writer.WriteString("contributionRegistry", ContributionRegistry.ToString());
            writer.WriteString("jobMarket", JobMarket.ToString());
            writer.WriteString("payoutDistributor", PayoutDistributor.ToString());
            writer.WriteString("treasury", Treasury.ToString());
            writer.WriteNumber("block", Block);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
