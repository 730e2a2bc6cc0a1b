using System.Numerics;
using System.Security.Cryptography;

namespace PrivateHealth.Ethereum;

/// <summary>A secp256k1 private key with its public key and address.</summary>
public sealed class EthKey
{
    private readonly BigInteger _privateKey;

    /// <summary>Creates a key from 32 big-endian bytes.</summary>
    /// <exception cref="ArgumentException">Not 32 bytes, zero, or not below the curve order.</exception>
    public EthKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != 32)
        {
            throw new ArgumentException($"A private key has 32 bytes; got {privateKey.Length}.", nameof(privateKey));
        }

        _privateKey = Hex.FromBigEndian(privateKey);
        if (_privateKey.Sign == 0 || _privateKey >= Secp256k1.N)
        {
            throw new ArgumentException("A private key must be in [1, n-1] of secp256k1.", nameof(privateKey));
        }

        PublicKey = Secp256k1.PublicKeyOf(_privateKey);
        Address = AddressOf(PublicKey);
    }

    /// <summary>Parses a 0x-prefixed 64-digit hex private key.</summary>
    public static EthKey FromHex(string privateKeyHex) => new(Hex.Decode(privateKeyHex));

    /// <summary>A new random key from the OS CSPRNG.</summary>
    public static EthKey Generate()
    {
        while (true)
        {
            byte[] candidate = RandomNumberGenerator.GetBytes(32);
            BigInteger value = Hex.FromBigEndian(candidate);
            if (value.Sign > 0 && value < Secp256k1.N)
            {
                return new EthKey(candidate);
            }
        }
    }

    /// <summary>The 64-byte uncompressed public key (x ‖ y).</summary>
    public byte[] PublicKey { get; }

    /// <summary>The account address: the last 20 bytes of Keccak-256 of the public key.</summary>
    public Address Address { get; }

    /// <summary>The private key bytes (handle with care).</summary>
    public byte[] PrivateKeyBytes() => Hex.ToFixedBytes(_privateKey, 32);

    /// <summary>Signs a 32-byte hash (RFC 6979, low s).</summary>
    public EthSignature SignHash(ReadOnlySpan<byte> hash32) => Secp256k1.Sign(hash32, _privateKey, PublicKey);

    /// <summary>personal_sign (EIP-191 version 0x45) of a message.</summary>
    public EthSignature SignMessage(ReadOnlySpan<byte> message) => SignHash(PersonalMessage.Hash(message));

    /// <summary>personal_sign of a UTF-8 text message.</summary>
    public EthSignature SignMessage(string message) => SignMessage(System.Text.Encoding.UTF8.GetBytes(message));

    /// <summary>Signs EIP-712 typed data.</summary>
    public EthSignature SignTypedData(TypedData typedData) => SignHash(Eip712.Hash(typedData));

    /// <summary>The address of a 64-byte public key.</summary>
    public static Address AddressOf(ReadOnlySpan<byte> publicKey64)
    {
        if (publicKey64.Length != 64)
        {
            throw new ArgumentException($"A public key has 64 bytes (x ‖ y); got {publicKey64.Length}.", nameof(publicKey64));
        }

        return new Address(Keccak256.Hash(publicKey64).AsSpan(12));
    }

    /// <summary>Never prints the private key.</summary>
    public override string ToString() => $"EthKey({Address})";
}

/// <summary>EIP-191 personal messages ("\x19Ethereum Signed Message:\n" + length + message).</summary>
public static class PersonalMessage
{
    /// <summary>The hash that personal_sign signs.</summary>
    public static byte[] Hash(ReadOnlySpan<byte> message)
    {
        byte[] prefix = System.Text.Encoding.UTF8.GetBytes("\u0019Ethereum Signed Message:\n" + message.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Keccak256.Hash([.. prefix, .. message]);
    }

    /// <summary>The hash of a UTF-8 text message.</summary>
    public static byte[] Hash(string message) => Hash(System.Text.Encoding.UTF8.GetBytes(message));

    /// <summary>The address that signed a personal message.</summary>
    public static Address Recover(ReadOnlySpan<byte> message, EthSignature signature) => Secp256k1.RecoverAddress(Hash(message), signature);
}
