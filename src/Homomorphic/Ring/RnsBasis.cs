namespace PrivateHealth.Homomorphic.Ring;

/// <summary>An ordered set of distinct NTT-friendly primes for ring degree N, each with its NTT tables.</summary>
public sealed class RnsBasis
{
    private readonly Modulus[] _moduli;
    private readonly NttTables[] _ntt;

    public int N { get; }
    public int Count => _moduli.Length;
    public IReadOnlyList<Modulus> Moduli => _moduli;

    public RnsBasis(int n, IEnumerable<ulong> primes)
    {
        N = n;
        _moduli = [.. primes.Select(p => new Modulus(p))];
        if (_moduli.Select(m => m.Value).Distinct().Count() != _moduli.Length)
        {
            throw new ArgumentException("RNS primes must be distinct.");
        }

        _ntt = new NttTables[_moduli.Length];
        for (int i = 0; i < _moduli.Length; i++)
        {
            if (!Primes.IsPrime(_moduli[i].Value))
            {
                throw new ArgumentException($"{_moduli[i].Value} is not prime.");
            }

            _ntt[i] = new NttTables(_moduli[i], n);
        }
    }

    private RnsBasis(int n, Modulus[] moduli, NttTables[] ntt)
    {
        N = n;
        _moduli = moduli;
        _ntt = ntt;
    }

    public Modulus this[int index] => _moduli[index];

    public NttTables Ntt(int index) => _ntt[index];

    /// <summary>Concatenation of two bases sharing the same tables (no recomputation).</summary>
    public RnsBasis Concat(RnsBasis other) => new(N, [.. _moduli, .. other._moduli], [.. _ntt, .. other._ntt]);

    /// <summary>The first <paramref name="count"/> primes of this basis.</summary>
    public RnsBasis Prefix(int count) => new(N, _moduli[..count], _ntt[..count]);

    /// <summary>Product of all primes.</summary>
    public System.Numerics.BigInteger Product()
    {
        System.Numerics.BigInteger p = 1;
        foreach (var m in _moduli)
        {
            p *= m.Value;
        }

        return p;
    }
}
