using PrivateHealth.Ethereum;

namespace PrivateHealth.Settlement.Tests;

/// <summary>ChainDeployment JSON: our camelCase form round trip, deploy.js's output, malformed files.</summary>
public sealed class ChainDeploymentTests
{
    private static readonly ChainDeployment Sample = new(
        31337,
        Address.Parse("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        Address.Parse("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
        Address.Parse("0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"),
        Address.Parse("0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"),
        Address.Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        1);

    [Fact]
    public void SaveWritesCamelCaseChecksummedJsonAndLoadReadsItBack()
    {
        string path = Path.Combine(Path.GetTempPath(), $"deployment-{Guid.NewGuid():N}", "local.json");
        try
        {
            Sample.Save(path);
            string json = File.ReadAllText(path);
            foreach (string property in new[] { "chainId", "rewardToken", "contributionRegistry", "jobMarket", "payoutDistributor", "treasury", "block" })
            {
                Assert.Contains($"\"{property}\":", json, StringComparison.Ordinal);
            }

            Assert.Contains("\"0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9\"", json, StringComparison.Ordinal);
            Assert.Equal(Sample, ChainDeployment.Load(path));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void ParsesTheOutputOfDeployJs()
    {
        const string json = """
            {
              "chainId": 31337,
              "block": 1,
              "deployer": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
              "roles": { "admin": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "operator": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                         "relayer": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "treasury": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" },
              "addresses": { "RewardToken": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "ContributionRegistry": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
                             "PayoutDistributor": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0", "JobMarket": "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9" },
              "contracts": {},
              "sourceHash": "x",
              "deployedAt": "2025-01-01T00:00:00.000Z"
            }
            """;
        Assert.Equal(Sample, ChainDeployment.Parse(json));
    }

    [Fact]
    public void MalformedFilesAreRejected()
    {
        string path = Path.Combine(Path.GetTempPath(), $"deployment-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, Sample.ToJson().Replace("\"jobMarket\"", "\"market\"", StringComparison.Ordinal));
            Assert.Throws<FormatException>(() => ChainDeployment.Load(path));

            // A mixed-case address with a wrong EIP-55 checksum.
            File.WriteAllText(path, Sample.ToJson().Replace("0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9", "0xcF7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9", StringComparison.Ordinal));
            Assert.Throws<FormatException>(() => ChainDeployment.Load(path));
            File.WriteAllText(path, "{");
            Assert.Throws<FormatException>(() => ChainDeployment.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
