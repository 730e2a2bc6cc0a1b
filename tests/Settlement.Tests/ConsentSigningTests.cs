using System.Numerics;
using System.Text;
using PrivateHealth.Ethereum;
using PrivateHealth.Ethereum.Testing;

namespace PrivateHealth.Settlement.Tests;

/// <summary>ConsentSigning: the docs' EIP-712 vector, signatures, and the registry's own hashConsent (hardhat account 5).</summary>
public sealed class ConsentSigningTests(HardhatNode node)
{
    private static readonly Address DocsRegistry = Address.Parse("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512");
    private static readonly Address DocsParticipant = Address.Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

    [Fact]
    public void DocumentedDomainSeparatorAndDigest()
    {
        Assert.Equal(Hash32.Parse("0xeaf2bae0d2ed30fcfb06ea7f557f34f6d1a65f531389205159565246e82af30e"), ConsentSigning.ConsentTypeHash);
        Assert.Equal(Hash32.Parse("0xd8218a9912a15ff73b1e3ce188dd320068a1ba175c05b9e8a81bc309601697ba"), ConsentSigning.DomainSeparator(31337, DocsRegistry));
        Hash32 purpose = new(Keccak256.Hash("purpose:example"));
        Hash32 digest = ConsentSigning.Digest(31337, DocsRegistry, DocsParticipant, purpose, true, 0, 1893456000);
        Assert.Equal(Hash32.Parse("0xd8a8d26aa8b6f672914127614e3d6ced806c851c60dca47424952a96f5fa9818"), digest);

        // Any changed field changes the digest.
        Assert.NotEqual(digest, ConsentSigning.Digest(31337, DocsRegistry, DocsParticipant, purpose, false, 0, 1893456000));
        Assert.NotEqual(digest, ConsentSigning.Digest(31337, DocsRegistry, DocsParticipant, purpose, true, 1, 1893456000));
        Assert.NotEqual(digest, ConsentSigning.Digest(1, DocsRegistry, DocsParticipant, purpose, true, 0, 1893456000));
    }

    [Fact]
    public void SignatureRecoversToTheParticipant()
    {
        EthKey key = EthKey.Generate();
        Hash32 purpose = ConsentSigning.Purpose("research");
        SignedConsent signed = ConsentSigning.Sign(key, 31337, DocsRegistry, purpose, true, 3, 1893456000);
        Assert.Equal(65, signed.Signature.Length);
        Assert.Contains(signed.Signature[64], new byte[] { 27, 28 });
        Assert.Equal((key.Address, purpose, true, new BigInteger(3), 1893456000UL), (signed.Participant, signed.Purpose, signed.Granted, signed.Nonce, signed.Deadline));
        Hash32 digest = ConsentSigning.Digest(31337, DocsRegistry, key.Address, purpose, true, 3, 1893456000);
        Assert.Equal(key.Address, Secp256k1.RecoverAddress(digest.Span, EthSignature.FromBytes(signed.Signature)));
    }

    [Fact]
    public void PurposeAndJobIdDerivations()
    {
        Assert.Equal(new Hash32(Keccak256.Hash(Encoding.UTF8.GetBytes("privatehealth:purpose:diabetes-study"))), ConsentSigning.Purpose("diabetes-study"));
        Assert.Equal(new Hash32(Keccak256.Hash(Encoding.UTF8.GetBytes("privatehealth:job:job-42"))), SettlementChain.JobId("job-42"));
        Assert.Equal(new Hash32(Keccak256.Hash([1, 2, 3])), SettlementChain.HashOf([1, 2, 3]));
        Assert.NotEqual(SettlementChain.JobId("a"), SettlementChain.JobId("b"));
    }

    [Fact]
    public async Task OnChainHashConsentEqualsOurDigest()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using JsonRpcClient rpc = Live.Client(node);
        EthereumAccount admin = Live.HardhatAccount(5, rpc);
        ChainDeployment deployment = await SettlementDeployer.DeployAsync(admin, admin.Address, admin.Address, admin.Address, Live.BuildDirectory, ct);
        var chain = new SettlementChain(rpc, deployment, Live.BuildDirectory);

        Assert.Equal(ConsentSigning.DomainSeparator(deployment.ChainId, deployment.ContributionRegistry), await chain.RegistryDomainSeparatorAsync(ct));
        var random = new Random(5);
        for (int i = 0; i < 6; i++)
        {
            Address participant = EthKey.Generate().Address;
            Hash32 purpose = ConsentSigning.Purpose("purpose-" + i);
            bool granted = i % 2 == 0;
            BigInteger nonce = i == 5 ? (BigInteger.One << 255) + 1 : random.Next();
            ulong deadline = i == 4 ? ulong.MaxValue : (ulong)random.NextInt64(0, long.MaxValue);
            Assert.Equal(
                ConsentSigning.Digest(deployment.ChainId, deployment.ContributionRegistry, participant, purpose, granted, nonce, deadline),
                await chain.HashConsentOnChainAsync(participant, purpose, granted, nonce, deadline, ct));
        }
    }
}
