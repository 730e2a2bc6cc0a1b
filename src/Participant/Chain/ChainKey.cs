using System.Security.Cryptography;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Math;

namespace PrivateHealth.Participant.Chain;

/// <summary>
/// A participant's secp256k1 key for payouts, kept on the device. The Ethereum address is the last 20 bytes of
/// Keccak-256 of the uncompressed public key (without its 0x04 prefix), shown with the EIP-55 checksum.
/// </summary>
public sealed class ChainKey : IDisposable
{
    private static readonly Org.BouncyCastle.Asn1.X9.X9ECParameters Curve = SecNamedCurves.GetByName("secp256k1");
    private readonly byte[] _privateKey;

    private ChainKey(byte[] privateKey)
    {
        var d = new BigInteger(1, privateKey);
        if (d.SignValue <= 0 || d.CompareTo(Curve.N) >= 0)
        {
            throw new ArgumentException("A secp256k1 private key must be in [1, n − 1].");
        }

        _privateKey = privateKey;
        var q = Curve.G.Multiply(d).Normalize();
        PublicKey = q.GetEncoded(false); // 65 bytes: 0x04 ‖ X ‖ Y
        var hash = Keccak256(PublicKey.AsSpan(1));
        Address = hash[12..];
    }

    /// <summary>A new key from the operating system's CSPRNG.</summary>
    public static ChainKey Generate()
    {
        while (true)
        {
            var candidate = RandomNumberGenerator.GetBytes(32);
            var d = new BigInteger(1, candidate);
            if (d.SignValue > 0 && d.CompareTo(Curve.N) < 0)
            {
                return new ChainKey(candidate);
            }
        }
    }

    public static ChainKey FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != 32)
        {
            throw new ArgumentException("A secp256k1 private key is 32 bytes.", nameof(privateKey));
        }

        return new ChainKey(privateKey.ToArray());
    }

    /// <summary>The 32-byte private key (to persist in the encrypted secret store).</summary>
    public ReadOnlySpan<byte> PrivateKey => _privateKey;

    /// <summary>Uncompressed public key, 65 bytes.</summary>
    public byte[] PublicKey { get; }

    /// <summary>The 20-byte Ethereum address.</summary>
    public byte[] Address { get; }

    /// <summary>The address as 0x-prefixed hex with the EIP-55 mixed-case checksum.</summary>
    public string AddressHex => ToChecksumAddress(Address);

    public static byte[] Keccak256(ReadOnlySpan<byte> data)
    {
        var digest = new KeccakDigest(256);
        var input = data.ToArray();
        digest.BlockUpdate(input, 0, input.Length);
        var output = new byte[32];
        digest.DoFinal(output, 0);
        return output;
    }

    /// <summary>EIP-55: a hex letter is upper case when the matching nibble of Keccak-256(lower-case hex) is ≥ 8.</summary>
    public static string ToChecksumAddress(ReadOnlySpan<byte> address)
    {
        string lower = Convert.ToHexStringLower(address);
        var hash = Keccak256(System.Text.Encoding.ASCII.GetBytes(lower));
        var chars = new char[lower.Length];
        for (int i = 0; i < lower.Length; i++)
        {
            int nibble = (hash[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xF;
            chars[i] = nibble >= 8 ? char.ToUpperInvariant(lower[i]) : lower[i];
        }

        return "0x" + new string(chars);
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_privateKey);
}
