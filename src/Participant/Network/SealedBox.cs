using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace PrivateHealth.Participant.Network;

/// <summary>
/// Public-key encryption of re-sharing shares between custodians, so that the coordinator relaying them cannot
/// read them: ephemeral-static ECDH on P-256, HKDF-SHA256 (salt = ephemeral public key, info = label ‖ context),
/// AES-256-GCM with the context as associated data. Format: u16 length ‖ ephemeral SPKI ‖ 12-byte nonce ‖
/// 16-byte tag ‖ ciphertext.
/// </summary>
public static class SealedBox
{
    private const string Label = "privatehealth/sealed-share/v1/";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private const string P256Oid = "1.2.840.10045.3.1.7";

    /// <summary>Seals <paramref name="plaintext"/> to the holder of the P-256 key <paramref name="recipientSpki"/>.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> recipientSpki, ReadOnlySpan<byte> plaintext, string context)
    {
        using var recipient = ImportP256(recipientSpki);
        using var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var ephemeralSpki = ephemeral.ExportSubjectPublicKeyInfo();
        var key = DeriveKey(ephemeral.DeriveRawSecretAgreement(recipient.PublicKey), ephemeralSpki, context);
        var output = new byte[2 + ephemeralSpki.Length + NonceSize + TagSize + plaintext.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(output, (ushort)ephemeralSpki.Length);
        ephemeralSpki.CopyTo(output.AsSpan(2));
        var nonce = output.AsSpan(2 + ephemeralSpki.Length, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(2 + ephemeralSpki.Length + NonceSize + TagSize), output.AsSpan(2 + ephemeralSpki.Length + NonceSize, TagSize), Encoding.UTF8.GetBytes(context));
        CryptographicOperations.ZeroMemory(key);
        return output;
    }

    /// <summary>Opens a sealed box with the recipient's private key; throws <see cref="CryptographicException"/> if it was not sealed to it (or was altered).</summary>
    public static byte[] Open(ECDiffieHellman recipient, ReadOnlySpan<byte> sealedBox, string context)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        if (sealedBox.Length < 2)
        {
            throw new CryptographicException("Sealed box is truncated.");
        }

        int spkiLength = BinaryPrimitives.ReadUInt16LittleEndian(sealedBox);
        if (sealedBox.Length < 2 + spkiLength + NonceSize + TagSize)
        {
            throw new CryptographicException("Sealed box is truncated.");
        }

        var spki = sealedBox.Slice(2, spkiLength);
        using var ephemeral = ImportP256(spki);
        var key = DeriveKey(recipient.DeriveRawSecretAgreement(ephemeral.PublicKey), spki, context);
        var body = sealedBox[(2 + spkiLength)..];
        var plaintext = new byte[body.Length - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(body[..NonceSize], body[(NonceSize + TagSize)..], body.Slice(NonceSize, TagSize), plaintext, Encoding.UTF8.GetBytes(context));
        CryptographicOperations.ZeroMemory(key);
        return plaintext;
    }

    /// <summary>Imports a P-256 SubjectPublicKeyInfo; anything else (other curves, garbage, unknown OIDs) is a CryptographicException.</summary>
    private static ECDiffieHellman ImportP256(ReadOnlySpan<byte> spki)
    {
        var key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            key.ImportSubjectPublicKeyInfo(spki, out int read);
            if (read != spki.Length || key.ExportParameters(false).Curve.Oid?.Value != P256Oid)
            {
                throw new CryptographicException("The key is not a P-256 public key.");
            }

            return key;
        }
        catch (Exception ex) when (ex is not CryptographicException)
        {
            key.Dispose();
            throw new CryptographicException("The key is not a valid P-256 public key.", ex);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static byte[] DeriveKey(byte[] secret, ReadOnlySpan<byte> salt, string context)
    {
        try
        {
            return HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt.ToArray(), Encoding.UTF8.GetBytes(Label + context));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }
}
