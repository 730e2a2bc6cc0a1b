using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// CKKS encoding of a full vector of N/2 doubles at the top level and default scale, and decoding back
/// (SEAL: CKKS / EncodeDouble, DecodeDouble). Destination shapes: nothing should be allocated per call.
/// </summary>
[MemoryDiagnoser]
public class EncodingBenchmarks
{
    private CkksEncoder _encoder = null!;
    private double[] _values = [];
    private double[] _decoded = [];
    private Plaintext _pt = null!;

    [Params(12, 13, 14)]
    public int LogN { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var p = SealShapes.Parameters(LogN);
        _encoder = new CkksEncoder(p);
        _values = SealShapes.RandomSlots(p);
        _decoded = new double[p.MaxSlots];
        _pt = new Plaintext(p.Rlwe, p.MaxLevel, p.DefaultScale);
        _encoder.Encode(_values, _pt);
        _encoder.Decode(_pt, _decoded);
        double err = _values.Zip(_decoded, (a, b) => Math.Abs(a - b)).Max();
        if (err > 1e-3)
        {
            throw new InvalidOperationException($"Encode/decode round trip is off by {err}.");
        }
    }

    [Benchmark]
    public void Encode() => _encoder.Encode(_values, _pt);

    [Benchmark]
    public void Decode() => _encoder.Decode(_pt, _decoded);
}
