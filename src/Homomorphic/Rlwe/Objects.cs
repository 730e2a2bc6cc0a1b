using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Homomorphic.Rlwe;

/// <summary>A plaintext polynomial in NTT form over q_0…q_ℓ, with the scale its values were encoded at.</summary>
public sealed class Plaintext
{
    public Plaintext(RlweParameters parameters, int level, double scale)
    {
        CheckLevel(parameters, level);
        ParametersId = parameters.Id;
        Value = new Poly(parameters.N, level + 1);
        Scale = scale;
    }

    public ParametersId ParametersId { get; internal set; }
    public Poly Value { get; }
    public int Level => Value.LimbCount - 1;
    public double Scale { get; set; }

    internal static void CheckLevel(RlweParameters parameters, int level)
    {
        if (level < 0 || level > parameters.MaxLevel)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, $"Level must be in [0, {parameters.MaxLevel}].");
        }
    }
}

/// <summary>
/// A ciphertext (c_0, c_1[, c_2]) in NTT form over q_0…q_ℓ; it decrypts as c_0 + c_1·s (+ c_2·s²).
/// A secret-key ciphertext may carry the seed its c_1 was expanded from (<see cref="C1Seed"/>), so that it
/// serializes at half size; every operation that writes to a ciphertext clears the seed.
/// </summary>
public sealed class Ciphertext
{
    private Poly[] _polys;

    public Ciphertext(RlweParameters parameters, int size, int level, double scale)
    {
        Plaintext.CheckLevel(parameters, level);
        if (size < 2 || size > MaxSize)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"Ciphertext size must be in [2, {MaxSize}].");
        }

        ParametersId = parameters.Id;
        _polys = new Poly[size];
        for (int i = 0; i < size; i++)
        {
            _polys[i] = new Poly(parameters.N, level + 1);
        }

        Scale = scale;
    }

    /// <summary>Largest number of components accepted (a product of two size-2 ciphertexts has 3).</summary>
    public const int MaxSize = 3;

    public ParametersId ParametersId { get; internal set; }
    public int Size => _polys.Length;
    public int Level => _polys[0].LimbCount - 1;
    public double Scale { get; set; }
    public Poly this[int index] => _polys[index];

    /// <summary>Seed of the uniform c_1 of a fresh secret-key ciphertext; null otherwise.</summary>
    public byte[]? C1Seed { get; internal set; }

    /// <summary>Resizes in place (reusing buffers) for a result of the given size and level; clears the seed.</summary>
    public void Reshape(int size, int level)
    {
        if (size != _polys.Length)
        {
            var old = _polys;
            _polys = new Poly[size];
            for (int i = 0; i < size; i++)
            {
                _polys[i] = i < old.Length ? old[i] : new Poly(old[0].N, level + 1);
            }
        }

        foreach (var p in _polys)
        {
            p.Resize(level + 1);
        }

        C1Seed = null;
    }

    public void CopyTo(Ciphertext destination)
    {
        if (ReferenceEquals(this, destination))
        {
            return;
        }

        destination.Reshape(Size, Level);
        for (int i = 0; i < Size; i++)
        {
            _polys[i].AsSpan().CopyTo(destination._polys[i].AsSpan());
        }

        destination.Scale = Scale;
        destination.ParametersId = ParametersId;
        destination.C1Seed = C1Seed is null ? null : (byte[])C1Seed.Clone();
    }

    public Ciphertext Clone(RlweParameters parameters)
    {
        var c = new Ciphertext(parameters, Size, Level, Scale);
        CopyTo(c);
        return c;
    }
}

/// <summary>The secret s, ternary, in NTT form over every prime of Q and P. Wiped on dispose.</summary>
public sealed class SecretKey : IDisposable
{
    public SecretKey(RlweParameters parameters)
    {
        ParametersId = parameters.Id;
        Value = new Poly(parameters.N, parameters.QP.Count);
    }

    public ParametersId ParametersId { get; internal set; }
    public Poly Value { get; }

    public void Dispose() => System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Value.AsSpan()));
}

/// <summary>Public key (−a·s + e, a) over Q·P, NTT form.</summary>
public sealed class PublicKey
{
    public PublicKey(RlweParameters parameters)
    {
        ParametersId = parameters.Id;
        B = new Poly(parameters.N, parameters.QP.Count);
        A = new Poly(parameters.N, parameters.QP.Count);
    }

    public ParametersId ParametersId { get; internal set; }
    public Poly B { get; }
    public Poly A { get; }
}

/// <summary>
/// Hybrid switching key from s' to s: for each digit j, (b_j, a_j) = (−a_j·s + e_j + P·g_j·s', a_j) over Q·P
/// in NTT form, where g_j is 1 modulo the primes of digit j and 0 modulo the others.
/// </summary>
public class SwitchingKey
{
    public SwitchingKey(RlweParameters parameters)
    {
        ParametersId = parameters.Id;
        int digits = parameters.DigitCountMax;
        B = new Poly[digits];
        A = new Poly[digits];
        for (int j = 0; j < digits; j++)
        {
            B[j] = new Poly(parameters.N, parameters.QP.Count);
            A[j] = new Poly(parameters.N, parameters.QP.Count);
        }
    }

    public ParametersId ParametersId { get; internal set; }
    public Poly[] B { get; }
    public Poly[] A { get; }
    public int DigitCount => B.Length;
}

/// <summary>Switching key from s² to s.</summary>
public sealed class RelinearizationKey(RlweParameters parameters) : SwitchingKey(parameters);

/// <summary>
/// Switching key from σ_g(s) to s for the Galois element g (SEAL's convention: apply σ_g to the ciphertext,
/// then key-switch its second component).
/// </summary>
public sealed class GaloisKey(RlweParameters parameters, ulong galoisElement) : SwitchingKey(parameters)
{
    public ulong GaloisElement { get; } = galoisElement;
}

/// <summary>The evaluation keys an evaluator may use: an optional relinearization key and Galois keys by element.</summary>
public sealed class EvaluationKeySet
{
    private readonly Dictionary<ulong, GaloisKey> _galois = [];

    public EvaluationKeySet(RelinearizationKey? relinearizationKey = null, IEnumerable<GaloisKey>? galoisKeys = null)
    {
        RelinearizationKey = relinearizationKey;
        foreach (var k in galoisKeys ?? [])
        {
            _galois[k.GaloisElement] = k;
        }
    }

    public RelinearizationKey? RelinearizationKey { get; }
    public IReadOnlyDictionary<ulong, GaloisKey> GaloisKeys => _galois;

    public bool TryGetGaloisKey(ulong galoisElement, out GaloisKey key) => _galois.TryGetValue(galoisElement, out key!);
}
