using System.Numerics;
using PrivateHealth.Ethereum;

namespace PrivateHealth.Settlement;

/// <summary>Deploys the settlement contracts from contracts/build and wires the roles like contracts/scripts/deploy.js.</summary>
public static class SettlementDeployer
{
    /// <summary>keccak256("FUNDER_ROLE"): the JobMarket's role on the PayoutDistributor.</summary>
    public static Hash32 FunderRole { get; } = new(Keccak256.Hash("FUNDER_ROLE"));

    /// <summary>keccak256("OPERATOR_ROLE").</summary>
    public static Hash32 OperatorRole { get; } = new(Keccak256.Hash("OPERATOR_ROLE"));

    /// <summary>keccak256("RELAYER_ROLE").</summary>
    public static Hash32 RelayerRole { get; } = new(Keccak256.Hash("RELAYER_ROLE"));

    /// <summary>keccak256("MINTER_ROLE").</summary>
    public static Hash32 MinterRole { get; } = new(Keccak256.Hash("MINTER_ROLE"));

    /// <summary>
    /// Deploys RewardToken(admin, operator as minter), ContributionRegistry(admin, relayer),
    /// PayoutDistributor(admin, operator, treasury) and JobMarket(admin, operator, treasury, distributor,
    /// token as default token), then grants FUNDER_ROLE on the distributor to the JobMarket. The admin
    /// account (the deployer) keeps DEFAULT_ADMIN_ROLE everywhere.
    /// </summary>
    public static async Task<ChainDeployment> DeployAsync(EthereumAccount admin, Address operatorAddress, Address relayerAddress, Address treasury, string buildDirectory, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(admin);
        ArgumentNullException.ThrowIfNull(buildDirectory);
        ContractArtifact token = SettlementChain.LoadArtifact(buildDirectory, "RewardToken");
        ContractArtifact registry = SettlementChain.LoadArtifact(buildDirectory, "ContributionRegistry");
        ContractArtifact distributor = SettlementChain.LoadArtifact(buildDirectory, "PayoutDistributor");
        ContractArtifact market = SettlementChain.LoadArtifact(buildDirectory, "JobMarket");

        long chainId = (long)await admin.GetChainIdAsync(ct).ConfigureAwait(false);
        (Address tokenAddress, BigInteger firstBlock) = await DeployOneAsync(admin, token, [admin.Address, operatorAddress], ct).ConfigureAwait(false);
        (Address registryAddress, _) = await DeployOneAsync(admin, registry, [admin.Address, relayerAddress], ct).ConfigureAwait(false);
        (Address distributorAddress, _) = await DeployOneAsync(admin, distributor, [admin.Address, operatorAddress, treasury], ct).ConfigureAwait(false);
        (Address marketAddress, _) = await DeployOneAsync(admin, market, [admin.Address, operatorAddress, treasury, distributorAddress, tokenAddress], ct).ConfigureAwait(false);

        await admin.SendAndWaitAsync(new TransactionRequest
        {
            To = distributorAddress,
            Data = distributor.Abi.EncodeCall("grantRole", FunderRole.ToArray(), marketAddress),
            Errors = distributor.Abi.Errors,
        }, ct).ConfigureAwait(false);

        return new ChainDeployment(chainId, tokenAddress, registryAddress, marketAddress, distributorAddress, treasury, (long)firstBlock);
    }

    private static async Task<(Address Address, BigInteger Block)> DeployOneAsync(EthereumAccount admin, ContractArtifact artifact, object?[] arguments, CancellationToken ct)
    {
        byte[] data = [.. artifact.Bytecode, .. artifact.Abi.EncodeConstructor(arguments)];
        TransactionReceipt receipt = await admin.SendAndWaitAsync(new TransactionRequest { Data = data, Errors = artifact.Abi.Errors }, ct).ConfigureAwait(false);
        Address address = receipt.ContractAddress ?? throw new InvalidOperationException($"Deployment of {artifact.ContractName} ({receipt.TransactionHash}) has no contract address.");
        return (address, receipt.BlockNumber);
    }
}
