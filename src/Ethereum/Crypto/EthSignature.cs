using System.Numerics;

namespace PrivateHealth.Ethereum;

/// <summary>An ECDSA secp256k1 signature with its recovery id (0 or 1 for y parity; 2/3 practically never occur).</summary>
public sealed record EthSignature(BigInteger R, BigInteger S, int RecoveryId)
{
    /// <summary>The "v" of personal_sign / eth_sign signatures: 27 + recovery id.</summary>
    public int V => 27 + RecoveryId;

    /// <summary>r ‖ s ‖ v (65 bytes, v = 27/28), the usual serialised form.</summary>
    public byte[] ToBytes() => [.. Hex.ToFixedBytes(R, 32), .. Hex.ToFixedBytes(S, 32), (byte)V];

    /// <summary>The 0x-prefixed hex of <see cref="ToBytes"/>.</summary>
    public string ToHex() => Hex.Encode(ToBytes());

    /// <summary>Parses r ‖ s ‖ v with v in {0, 1, 27, 28}.</summary>
    /// <exception cref="ArgumentException">Wrong length or v.</exception>
    public static EthSignature FromBytes(ReadOnlySpan<byte> signature)
    {
        if (signature.Length != 65)
        {
            throw new ArgumentException($"A signature has 65 bytes (r ‖ s ‖ v); got {signature.Length}.", nameof(signature));
        }

        int v = signature[64];
        int recoveryId = v switch
        {
            0 or 1 => v,
            27 or 28 => v - 27,
            _ => throw new ArgumentException($"Signature v must be 0, 1, 27 or 28; got {v}.", nameof(signature)),
        };
        return new EthSignature(Hex.FromBigEndian(signature[..32]), Hex.FromBigEndian(signature[32..64]), recoveryId);
    }
}
