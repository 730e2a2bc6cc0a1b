using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Forward and inverse negacyclic NTT of one RNS limb, at SEAL's shapes: a 44-bit prime for N = 8192
/// and a 49-bit prime for N = 16384 (the moduli sizes of SEAL's 128-bit-secure default chains).
/// </summary>
[MemoryDiagnoser]
public class NttBenchmarks
{
    private NttTables _tables = null!;
    private ulong[] _values = [];

    [Params(8192, 16384)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int bits = N switch
        {
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
