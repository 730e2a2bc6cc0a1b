using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Encryption of a top-level plaintext with the secret key and with the public key, and decryption
/// (SEAL: CKKS / EncryptSecret, EncryptPublic, Decrypt). Destination shapes throughout.
/// </summary>
[MemoryDiagnoser]
public class EncryptionBenchmarks
{
    private SecretKey _sk = null!;
    private Encryptor _secretEncryptor = null!;
    private Encryptor _publicEncryptor = null!;
    private Decryptor _decryptor = null!;
    private Plaintext _pt = null!;
    private Plaintext _decrypted = null!;
    private Ciphertext _ct = null!;
    private Ciphertext _dst = null!;

    [Params(12, 13, 14)]
    public int LogN { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var p = SealShapes.Parameters(LogN);
        using var kg = new KeyGenerator(p.Rlwe);
        _sk = kg.GenerateSecretKey();
        var pk = kg.GeneratePublicKey(_sk);
        _secretEncryptor = new Encryptor(p.Rlwe, _sk);
        _publicEncryptor = new Encryptor(p.Rlwe, pk);
        _decryptor = new Decryptor(p.Rlwe, _sk);
        var encoder = new CkksEncoder(p);
        _pt = encoder.Encode(SealShapes.RandomSlots(p));
        _decrypted = new Plaintext(p.Rlwe, p.MaxLevel, p.DefaultScale);
        _ct = new Ciphertext(p.Rlwe, 2, p.MaxLevel, p.DefaultScale);
        _dst = new Ciphertext(p.Rlwe, 2, p.MaxLevel, p.DefaultScale);
        _publicEncryptor.Encrypt(_pt, _ct);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _secretEncryptor.Dispose();
        _publicEncryptor.Dispose();
        _sk.Dispose();
    }

    [Benchmark]
    public void EncryptSecret() => _secretEncryptor.Encrypt(_pt, _dst);

    [Benchmark]
    public void EncryptPublic() => _publicEncryptor.Encrypt(_pt, _dst);

    [Benchmark]
    public void Decrypt() => _decryptor.Decrypt(_ct, _decrypted);
}
