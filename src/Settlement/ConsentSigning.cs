using System.Numerics;
using System.Text;
using PrivateHealth.Ethereum;

namespace PrivateHealth.Settlement;

/// <summary>A participant's signed consent change, ready for <c>relayConsentBatch</c>; Signature = 65 bytes r ‖ s ‖ v (v 27/28, low s).</summary>
public sealed record SignedConsent(Address Participant, Hash32 Purpose, bool Granted, BigInteger Nonce, ulong Deadline, byte[] Signature);

/// <summary>
/// EIP-712 signing of ContributionRegistry consents (docs/contracts.md): domain
/// EIP712Domain(name "PrivateHealth ContributionRegistry", version "1", chainId, verifyingContract = registry),
/// type Consent(address participant,bytes32 purpose,bool granted,uint256 nonce,uint256 deadline).
/// </summary>
public static class ConsentSigning
{
    /// <summary>The registry's EIP-712 domain name.</summary>
    public const string DomainName = "PrivateHealth ContributionRegistry";

    /// <summary>The registry's EIP-712 domain version.</summary>
    public const string DomainVersion = "1";

    /// <summary>The prefix of <see cref="Purpose"/>.</summary>
    public const string PurposePrefix = "privatehealth:purpose:";

    /// <summary>keccak256("Consent(address participant,bytes32 purpose,bool granted,uint256 nonce,uint256 deadline)").</summary>
    public static Hash32 ConsentTypeHash { get; } = new(Keccak256.Hash("Consent(address participant,bytes32 purpose,bool granted,uint256 nonce,uint256 deadline)"));

    private static readonly Hash32 DomainTypeHash = new(Keccak256.Hash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"));

    /// <summary>The purpose id of a purpose name: keccak256(utf8("privatehealth:purpose:" + name)).</summary>
    public static Hash32 Purpose(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new Hash32(Keccak256.Hash(Encoding.UTF8.GetBytes(PurposePrefix + name)));
    }

    /// <summary>The registry's domain separator (as <c>domainSeparator()</c> returns it).</summary>
    public static Hash32 DomainSeparator(long chainId, Address registry) =>
        Hash32.Keccak(AbiCodec.Encode(
            [AbiType.FixedBytes(32), AbiType.FixedBytes(32), AbiType.FixedBytes(32), AbiType.UInt(256), AbiType.AddressType],
            [DomainTypeHash.ToArray(), Keccak256.Hash(DomainName), Keccak256.Hash(DomainVersion), new BigInteger(chainId), registry]));

    /// <summary>The EIP-712 digest keccak256(0x1901 ‖ domainSeparator ‖ structHash) the participant signs (as <c>hashConsent</c> returns it).</summary>
    public static Hash32 Digest(long chainId, Address registry, Address participant, Hash32 purpose, bool granted, BigInteger nonce, ulong deadline)
    {
        byte[] structEncoding = AbiCodec.Encode(
            [AbiType.FixedBytes(32), AbiType.AddressType, AbiType.FixedBytes(32), AbiType.BoolType, AbiType.UInt(256), AbiType.UInt(256)],
            [ConsentTypeHash.ToArray(), participant, purpose.ToArray(), granted, nonce, deadline]);
        byte[] message = [0x19, 0x01, .. DomainSeparator(chainId, registry).Span, .. Keccak256.Hash(structEncoding)];
        return Hash32.Keccak(message);
    }

    /// <summary>Signs a consent change with the participant's key.</summary>
    public static SignedConsent Sign(EthKey participantKey, long chainId, Address registry, Hash32 purpose, bool granted, BigInteger nonce, ulong deadline)
    {
        ArgumentNullException.ThrowIfNull(participantKey);
        Hash32 digest = Digest(chainId, registry, participantKey.Address, purpose, granted, nonce, deadline);
        byte[] signature = participantKey.SignHash(digest.Span).ToBytes();
        return new SignedConsent(participantKey.Address, purpose, granted, nonce, deadline, signature);
    }
}
