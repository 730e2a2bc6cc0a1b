using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Math.EC;
using BcBigInteger = Org.BouncyCastle.Math.BigInteger;
using BigInteger = System.Numerics.BigInteger;

namespace PrivateHealth.Ethereum;

/// <summary>
/// secp256k1 operations on BouncyCastle: RFC 6979 deterministic signing (HMAC-SHA256 nonces),
/// low-s normalisation, recovery ids and public-key recovery (ecrecover).
/// </summary>
public static class Secp256k1
{
    // CustomNamedCurves gives the same secp256k1 parameters as SecNamedCurves but with BouncyCastle's
    // specialised field arithmetic and GLV endomorphism: about ten times faster point multiplication.
    private static readonly X9ECParameters Curve = Org.BouncyCastle.Crypto.EC.CustomNamedCurves.GetByName("secp256k1");

    internal static readonly ECDomainParameters Domain = new(Curve.Curve, Curve.G, Curve.N, Curve.H);

    /// <summary>The group order n.</summary>
    public static BigInteger N { get; } = ToSystem(Curve.N);

    /// <summary>n / 2: signatures with s above it are normalised to n − s.</summary>
    public static BigInteger HalfN { get; } = N >> 1;

    /// <summary>The 64-byte uncompressed public key (x ‖ y, no 0x04 prefix) of a private key.</summary>
    public static byte[] PublicKeyOf(BigInteger privateKey)
    {
        CheckPrivateKey(privateKey);
        ECPoint q = Domain.G.Multiply(ToBc(privateKey)).Normalize();
        return q.GetEncoded(false)[1..];
    }

    /// <summary>Signs a 32-byte hash deterministically (RFC 6979) and returns a low-s signature with its recovery id.</summary>
    public static EthSignature Sign(ReadOnlySpan<byte> hash32, BigInteger privateKey) => Sign(hash32, privateKey, null);

    internal static EthSignature Sign(ReadOnlySpan<byte> hash32, BigInteger privateKey, byte[]? knownPublicKey)
    {
        CheckHash(hash32);
        CheckPrivateKey(privateKey);
        var signer = new ECDsaSigner(new HMacDsaKCalculator(new Sha256Digest()));
        signer.Init(true, new ECPrivateKeyParameters(ToBc(privateKey), Domain));
        byte[] hash = hash32.ToArray();
        BcBigInteger[] rs = signer.GenerateSignature(hash);
        BigInteger r = ToSystem(rs[0]);
        BigInteger s = ToSystem(rs[1]);
        if (s > HalfN)
        {
            s = N - s;
        }

        byte[] publicKey = knownPublicKey ?? PublicKeyOf(privateKey);
        for (int recoveryId = 0; recoveryId < 4; recoveryId++)
        {
            byte[]? recovered = TryRecover(hash, r, s, recoveryId);
            if (recovered is not null && recovered.AsSpan().SequenceEqual(publicKey))
            {
                return new EthSignature(r, s, recoveryId);
            }
        }

        throw new InvalidOperationException("Could not compute the recovery id of a fresh signature; this indicates a bug.");
    }

    /// <summary>Recovers the 64-byte public key that produced a signature over a hash.</summary>
    /// <exception cref="ArgumentException">The signature is invalid or recovers no key.</exception>
    public static byte[] RecoverPublicKey(ReadOnlySpan<byte> hash32, EthSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        CheckHash(hash32);
        if (signature.R.Sign <= 0 || signature.R >= N || signature.S.Sign <= 0 || signature.S >= N)
        {
            throw new ArgumentException("Signature r and s must be in [1, n-1].", nameof(signature));
        }

        return TryRecover(hash32.ToArray(), signature.R, signature.S, signature.RecoveryId)
            ?? throw new ArgumentException($"The signature does not recover a public key (recovery id {signature.RecoveryId}).", nameof(signature));
    }

    /// <summary>Recovers the signer's address (ecrecover).</summary>
    public static Address RecoverAddress(ReadOnlySpan<byte> hash32, EthSignature signature) =>
        EthKey.AddressOf(RecoverPublicKey(hash32, signature));

    /// <summary>Verifies a signature against a 64-byte public key.</summary>
    public static bool Verify(ReadOnlySpan<byte> hash32, EthSignature signature, ReadOnlySpan<byte> publicKey64)
    {
        ArgumentNullException.ThrowIfNull(signature);
        CheckHash(hash32);
        if (publicKey64.Length != 64)
        {
            throw new ArgumentException("A public key has 64 bytes (x ‖ y).", nameof(publicKey64));
        }

        ECPoint q = Domain.Curve.DecodePoint([0x04, .. publicKey64]);
        var verifier = new ECDsaSigner();
        verifier.Init(false, new ECPublicKeyParameters(q, Domain));
        return verifier.VerifySignature(hash32.ToArray(), ToBc(signature.R), ToBc(signature.S));
    }

    private static byte[]? TryRecover(byte[] hash, BigInteger r, BigInteger s, int recoveryId)
    {
        if (recoveryId is < 0 or > 3)
        {
            return null;
        }

        BigInteger x = r + (recoveryId >> 1) * N;
        BigInteger p = ToSystem(Domain.Curve.Field.Characteristic);
        if (x >= p)
        {
            return null;
        }

        ECPoint rPoint;
        try
        {
            byte[] compressed = [(byte)(0x02 | (recoveryId & 1)), .. Hex.ToFixedBytes(x, 32)];
            rPoint = Domain.Curve.DecodePoint(compressed);
        }
        catch (ArgumentException)
        {
            return null;
        }

        if (!rPoint.Multiply(Domain.N).IsInfinity)
        {
            return null;
        }

        BigInteger e = Hex.FromBigEndian(hash);
        BigInteger rInverse = BigInteger.ModPow(r, N - 2, N);
        BigInteger u1 = Mod(-e * rInverse, N);
        BigInteger u2 = Mod(s * rInverse, N);
        ECPoint q = ECAlgorithms.SumOfTwoMultiplies(Domain.G, ToBc(u1), rPoint, ToBc(u2)).Normalize();
        return q.IsInfinity ? null : q.GetEncoded(false)[1..];
    }

    private static BigInteger Mod(BigInteger a, BigInteger m)
    {
        BigInteger r = a % m;
        return r.Sign < 0 ? r + m : r;
    }

    internal static void CheckPrivateKey(BigInteger privateKey)
    {
        if (privateKey.Sign <= 0 || privateKey >= N)
        {
            throw new ArgumentOutOfRangeException(nameof(privateKey), "A secp256k1 private key must be in [1, n-1].");
        }
    }

    private static void CheckHash(ReadOnlySpan<byte> hash32)
    {
        if (hash32.Length != 32)
        {
            throw new ArgumentException($"Expected a 32-byte hash; got {hash32.Length} bytes.", nameof(hash32));
        }
    }

    private static BcBigInteger ToBc(BigInteger value) => new(1, Hex.ToMinimalBytes(value));

    private static BigInteger ToSystem(BcBigInteger value) => Hex.FromBigEndian(value.ToByteArrayUnsigned());
}
