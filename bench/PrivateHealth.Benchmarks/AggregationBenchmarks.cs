using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// The aggregation workload of SEAL's reference program: CKKS N = 8192, Q = [60, 40, 40], P = [60], Δ = 2^40,
/// a pool of <see cref="Count"/> public-key ciphertexts of 4,096 random doubles each (1,000 × 384 KiB = 375 MiB,
/// far larger than cache), summed into one accumulator with in-place additions. Times are per addition
/// (OperationsPerInvoke = Count); additions/s = 10^6 / µs. The per-ciphertext rows (encode, encrypt, decrypt and
/// decode of the sum) match the other figures of that program.
/// <para>
/// <see cref="RawVectorAddLoop"/> is not our API: a plain Vector512 modular add over the same buffers, i.e. the
/// memory-bandwidth limit of this machine for the same bytes (seal.md quotes 36 µs per add for such a loop on
/// its Intel reference box, against 93.7 µs for SEAL's scalar add).
/// </para>
/// </summary>
[MemoryDiagnoser]
public class AggregationBenchmarks
{
    public const int Count = 1000;
    public const int Values = 4096;

    private static readonly CkksParametersLiteral Literal = new() { LogN = 13, LogQ = [60, 40, 40], LogP = [60], LogDefaultScale = 40 };

    private CkksParameters _p = null!;
    private CkksEncoder _encoder = null!;
    private CkksEvaluator _ev = null!;
    private Encryptor _encryptor = null!;
    private Decryptor _decryptor = null!;
    private SecretKey _sk = null!;
    private double[] _values = [];
    private double[] _decoded = [];
    private Plaintext _pt = null!;
    private Ciphertext _ct = null!;
    private Ciphertext[] _pool = [];
    private Ciphertext _acc = null!;

    private void Common()
    {
        _p = CkksParameters.FromLiteral(Literal);
        using var kg = new KeyGenerator(_p.Rlwe);
        _sk = kg.GenerateSecretKey();
        var pk = kg.GeneratePublicKey(_sk);
        _encoder = new CkksEncoder(_p);
        _ev = new CkksEvaluator(_p);
        _encryptor = new Encryptor(_p.Rlwe, pk);
        _decryptor = new Decryptor(_p.Rlwe, _sk);
        _values = RandomValues(new Random(777));
        _decoded = new double[Values];
        _pt = new Plaintext(_p.Rlwe, _p.MaxLevel, _p.DefaultScale);
        _encoder.Encode(_values, _pt);
        _ct = new Ciphertext(_p.Rlwe, 2, _p.MaxLevel, _p.DefaultScale);
        _encryptor.Encrypt(_pt, _ct);
    }

    private static double[] RandomValues(Random rng)
    {
        var v = new double[Values];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (rng.NextDouble() * 2) - 1;
        }

        return v;
    }

    [GlobalSetup(Targets = [nameof(Encode), nameof(EncryptPublic), nameof(Decrypt), nameof(Decode)])]
    public void SetupSingle() => Common();

    /// <summary>Encrypts the pool, checks that its sum decrypts correctly, and leaves the accumulator at that sum.</summary>
    [GlobalSetup(Targets = [nameof(AddInPlace), nameof(RawVectorAddLoop)])]
    public void SetupPool()
    {
        Common();
        var rng = new Random(4242);
        var expected = new double[Values];
        _pool = new Ciphertext[Count];
        for (int k = 0; k < Count; k++)
        {
            var v = RandomValues(rng);
            for (int i = 0; i < Values; i++)
            {
                expected[i] += v[i];
            }

            _encoder.Encode(v, _pt);
            _pool[k] = new Ciphertext(_p.Rlwe, 2, _p.MaxLevel, _p.DefaultScale);
            _encryptor.Encrypt(_pt, _pool[k]);
        }

        _acc = new Ciphertext(_p.Rlwe, 2, _p.MaxLevel, _p.DefaultScale);
        _pool[0].CopyTo(_acc);
        for (int k = 1; k < Count; k++)
        {
            _ev.AddInPlace(_acc, _pool[k]);
        }

        _encoder.Decode(_decryptor.Decrypt(_acc), _decoded);
        double err = 0;
        for (int i = 0; i < Values; i++)
        {
            err = Math.Max(err, Math.Abs(_decoded[i] - expected[i]));
        }

        Console.WriteLine($"// Aggregation check: {Count} ciphertexts of {Values} doubles, {Count * (long)CiphertextBytes / (1 << 20)} MiB, max error of the decrypted sum {err:E2}");
        if (err > 1e-3)
        {
            throw new InvalidOperationException($"The aggregated sum is off by {err}.");
        }

        GC.Collect();
    }

    private long CiphertextBytes => 2L * (_p.MaxLevel + 1) * _p.N * sizeof(ulong);

    [GlobalCleanup]
    public void Cleanup()
    {
        _encryptor.Dispose();
        _sk.Dispose();
        _pool = [];
    }

    [Benchmark]
    public void Encode() => _encoder.Encode(_values, _pt);

    [Benchmark]
    public void EncryptPublic() => _encryptor.Encrypt(_pt, _ct);

    [Benchmark]
    public void Decrypt() => _decryptor.Decrypt(_ct, _pt);

    [Benchmark]
    public void Decode() => _encoder.Decode(_pt, _decoded);

    /// <summary>One pass over the pool: acc += ct for every ciphertext (time is per addition).</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public void AddInPlace()
    {
        var acc = _acc;
        foreach (var ct in _pool)
        {
            _ev.AddInPlace(acc, ct);
        }
    }

    /// <summary>Reference, not our API: the same additions as a bare Vector512 loop (memory-bandwidth bound).</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public void RawVectorAddLoop()
    {
        var q = _p.Rlwe.Q;
        int limbs = _p.MaxLevel + 1;
        foreach (var ct in _pool)
        {
            for (int c = 0; c < 2; c++)
            {
                for (int i = 0; i < limbs; i++)
                {
                    AddMod(_acc[c].Limb(i), ct[c].Limb(i), q[i].Value);
                }
            }
        }
    }

    private static void AddMod(Span<ulong> acc, ReadOnlySpan<ulong> b, ulong q)
    {
        var va = MemoryMarshal.Cast<ulong, Vector512<ulong>>(acc);
        var vb = MemoryMarshal.Cast<ulong, Vector512<ulong>>(b);
        var vq = Vector512.Create(q);
        for (int j = 0; j < va.Length; j++)
        {
            var s = va[j] + vb[j];
            va[j] = Vector512.Min(s, s - vq);
        }
    }
}
