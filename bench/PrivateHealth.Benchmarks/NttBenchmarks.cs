using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Forward and inverse negacyclic NTT of one RNS limb, at SEAL's shapes: a 36-bit prime for N = 4096, a 44-bit
/// prime for N = 8192 and a 49-bit prime for N = 16384 (the moduli sizes of SEAL's 128-bit-secure default chains;
/// SEAL: UTIL / NTTForwardLowLevel, NTTInverseLowLevel).
/// </summary>
[MemoryDiagnoser]
public class NttBenchmarks
{
    private NttTables _tables = null!;
    private ulong[] _values = [];

    [Params(4096, 8192, 16384)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int bits = N switch
        {
            4096 => 36,
            8192 => 44,
            16384 => 49,
            _ => 50,
        };
        ulong q = Primes.GenerateNttPrimes(bits, 1, N)[0];
        _tables = new NttTables(new Modulus(q), N);

        var rng = new Random(12345);
        _values = new ulong[N];
        for (int i = 0; i < _values.Length; i++)
        {
            _values[i] = (ulong)rng.NextInt64(0, (long)q);
        }
    }

    // Both transforms return fully reduced values in [0, q), so transforming the same buffer
    // repeatedly keeps every invocation on valid input without a per-invocation copy.
    [Benchmark]
    public void Forward() => _tables.Forward(_values);

    [Benchmark]
    public void Inverse() => _tables.Inverse(_values);
}

/// <summary>
/// Forward and inverse NTT of a whole top-level ciphertext at SEAL's shapes: every Q limb of both polynomials,
/// 2 × (2, 4, 8) transforms for N = 4096, 8192, 16384 (SEAL: UTIL / NTTForward, NTTInverse).
/// </summary>
[MemoryDiagnoser]
public class NttCiphertextBenchmarks
{
    private NttTables[] _tables = [];
    private ulong[][] _limbs = [];

    [Params(12, 13, 14)]
    public int LogN { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var p = SealShapes.Parameters(LogN);
        var q = p.Rlwe.Q;
        var rng = new Random(12345);
        _tables = new NttTables[2 * q.Count];
        _limbs = new ulong[2 * q.Count][];
        for (int c = 0; c < 2; c++)
        {
            for (int i = 0; i < q.Count; i++)
            {
                int k = (c * q.Count) + i;
                _tables[k] = q.Ntt(i);
                _limbs[k] = new ulong[p.N];
                for (int j = 0; j < p.N; j++)
                {
                    _limbs[k][j] = (ulong)rng.NextInt64(0, (long)q[i].Value);
                }
            }
        }
    }

    [Benchmark]
    public void ForwardCiphertext()
    {
        for (int k = 0; k < _limbs.Length; k++)
        {
            _tables[k].Forward(_limbs[k]);
        }
    }

    [Benchmark]
    public void InverseCiphertext()
    {
        for (int k = 0; k < _limbs.Length; k++)
        {
            _tables[k].Inverse(_limbs[k]);
        }
    }
}
