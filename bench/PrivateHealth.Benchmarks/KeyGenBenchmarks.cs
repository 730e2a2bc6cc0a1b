using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Key generation at SEAL's shapes (SEAL: KeyGen / Secret, Public, Relin, Galois). Every call returns a new key,
/// so these allocate the key itself by design; anything beyond the key's size is overhead.
/// SEAL's "Secret" row constructs a KeyGenerator (which samples the secret key); ours reuses one generator and
/// times <see cref="KeyGenerator.GenerateSecretKey"/> alone (the generator's constructor only seeds a PRNG).
/// </summary>
[MemoryDiagnoser]
public class KeyGenBenchmarks
{
    private KeyGenerator _kg = null!;
    private SecretKey _sk = null!;
    private ulong _galoisElement;

    [Params(12, 13, 14)]
    public int LogN { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var p = SealShapes.Parameters(LogN);
        _kg = new KeyGenerator(p.Rlwe);
        _sk = _kg.GenerateSecretKey();
        _galoisElement = p.Rlwe.GaloisElementForRotation(1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sk.Dispose();
        _kg.Dispose();
    }

    [Benchmark]
    public SecretKey SecretKey() => _kg.GenerateSecretKey();

    [Benchmark]
    public PublicKey PublicKey() => _kg.GeneratePublicKey(_sk);

    [Benchmark]
    public RelinearizationKey RelinKey() => _kg.GenerateRelinearizationKey(_sk);

    [Benchmark]
    public GaloisKey GaloisKey() => _kg.GenerateGaloisKey(_sk, _galoisElement);
}
