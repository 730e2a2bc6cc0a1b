using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Training;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// The participant's per-round cost for a 10,000-parameter model (logistic regression over 9,999 features):
/// one local SGD step on a batch of 32, and packing + encrypting the weighted update (10,001 values with the sample
/// count) under a public key with the training preset (N = 4096, one 61-bit prime, level 0). The upload size in
/// bytes per parameter is printed at setup.
/// </summary>
[MemoryDiagnoser]
public class TrainingBenchmarks
{
    private const int Parameters = 10_000;
    private LogisticRegression _model = null!;
    private Dataset _batch = null!;
    private LocalTrainer _trainer = null!;
    private double[] _update = null!;
    private UpdatePacker _packer = null!;
    private Encryptor _encryptor = null!;
    private CkksSerializer _serializer = null!;

    [GlobalSetup]
    public void Setup()
    {
        int features = Parameters - 1;
        var rng = new Random(1);
        var x = new double[32 * features];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = rng.NextDouble() - 0.5;
        }

        double[] y = [.. Enumerable.Range(0, 32).Select(i => (double)(i % 2))];
        _batch = new Dataset(x, features, y);
        _model = new LogisticRegression(features);
        _trainer = new LocalTrainer(new TrainConfig { LocalEpochs = 1, BatchSize = 32, Shuffle = false });
        _update = [.. Enumerable.Range(0, Parameters + 1).Select(_ => rng.NextDouble())];
        var p = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);
        _packer = new UpdatePacker(p);
        using var kg = new KeyGenerator(p.Rlwe);
        using var sk = kg.GenerateSecretKey();
        _encryptor = new Encryptor(p.Rlwe, kg.GeneratePublicKey(sk));
        _serializer = new CkksSerializer(p);
        long bytes = _packer.Encrypt(_update, _encryptor).Sum(c => (long)_serializer.Serialize(c).Length);
        Console.WriteLine($"// upload for {Parameters} parameters + count: {bytes} bytes = {bytes / (double)Parameters:F2} bytes per parameter ({_packer.CiphertextCount(Parameters + 1)} ciphertexts of {_packer.ValuesPerCiphertext} values)");
    }

    [GlobalCleanup]
    public void Cleanup() => _encryptor.Dispose();

    /// <summary>One SGD step (batch 32) from the global model, returning the delta.</summary>
    [Benchmark]
    public LocalUpdate LocalTrainingStep() => _trainer.Train(_model, _batch, seed: 1);

    /// <summary>Pack and encrypt a 10,000-parameter weighted update (plus its count).</summary>
    [Benchmark]
    public Ciphertext[] EncryptUpdate() => _packer.Encrypt(_update, _encryptor);

    /// <summary>Pack, encrypt and serialize (what is uploaded).</summary>
    [Benchmark]
    public long EncryptAndSerializeUpdate() => _packer.Encrypt(_update, _encryptor).Sum(c => (long)_serializer.Serialize(c).Length);
}
