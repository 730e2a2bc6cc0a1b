using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Homomorphic.Rlwe;

/// <summary>Generates secret, public and switching keys (relinearization, Galois). Not thread-safe.</summary>
public sealed class KeyGenerator : IDisposable
{
    private readonly RlweParameters _p;
    private readonly Prng _prng;
    private readonly long[] _small;

    public KeyGenerator(RlweParameters parameters)
    {
        _p = parameters;
        _prng = Prng.CreateRandom();
        _small = new long[parameters.N];
    }

    public RlweParameters Parameters => _p;

    public SecretKey GenerateSecretKey()
    {
        var sk = new SecretKey(_p);
        Samplers.Ternary(_prng, _small);
        Samplers.SetSigned(_small, _p.QP, sk.Value);
        Array.Clear(_small);
        PolyMath.Ntt(sk.Value, _p.QP, sk.Value.LimbCount);
        return sk;
    }

    /// <summary>Public key (−a·s + e, a) over Q·P with a expanded from a fresh random seed.</summary>
    public PublicKey GeneratePublicKey(SecretKey sk)
    {
        CheckKey(sk);
        var pk = new PublicKey(_p);
        using (var aPrng = new Prng(Prng.NewSeed()))
        {
            Samplers.UniformPoly(aPrng, _p.QP, pk.A);
        }

        SampleErrorNtt(pk.B, _p.QP.Count);
        var tmp = new ulong[_p.N];
        for (int i = 0; i < _p.QP.Count; i++)
        {
            var mod = _p.QP[i];
            // b = e − a·s
            RingOps.Multiply(pk.A.Limb(i), sk.Value.Limb(i), tmp, mod);
            RingOps.Sub(pk.B.Limb(i), tmp, pk.B.Limb(i), mod.Value);
        }

        return pk;
    }

    public RelinearizationKey GenerateRelinearizationKey(SecretKey sk)
    {
        CheckKey(sk);
        var s2 = new Poly(_p.N, _p.Q.Count);
        for (int i = 0; i < _p.Q.Count; i++)
        {
            RingOps.Multiply(sk.Value.Limb(i), sk.Value.Limb(i), s2.Limb(i), _p.Q[i]);
        }

        var key = new RelinearizationKey(_p);
        FillSwitchingKey(s2, sk, key);
        s2.Clear();
        return key;
    }

    public GaloisKey GenerateGaloisKey(SecretKey sk, ulong galoisElement)
    {
        CheckKey(sk);
        var perm = _p.GaloisPermutation(galoisElement);
        var sg = new Poly(_p.N, _p.Q.Count);
        for (int i = 0; i < _p.Q.Count; i++)
        {
            PolyMath.Permute(sk.Value.Limb(i), perm, sg.Limb(i));
        }

        var key = new GaloisKey(_p, galoisElement);
        FillSwitchingKey(sg, sk, key);
        sg.Clear();
        return key;
    }

    /// <summary>Galois keys for left rotations by each of <paramref name="rotations"/> slots, plus conjugation if asked.</summary>
    public IReadOnlyList<GaloisKey> GenerateRotationKeys(SecretKey sk, IEnumerable<int> rotations, bool includeConjugation = false)
    {
        var elements = rotations.Select(_p.GaloisElementForRotation).Where(g => g != 1).ToList();
        if (includeConjugation)
        {
            elements.Add(_p.GaloisElementForConjugation);
        }

        return [.. elements.Distinct().Select(g => GenerateGaloisKey(sk, g))];
    }

    /// <summary>Fills (b_j, a_j) = (−a_j·s + e_j + [P]_{q_i}·s' on digit j's primes, a_j).</summary>
    private void FillSwitchingKey(Poly sIn, SecretKey sk, SwitchingKey key)
    {
        int count = _p.QP.Count;
        var tmp = new ulong[_p.N];
        for (int j = 0; j < key.DigitCount; j++)
        {
            using (var aPrng = new Prng(Prng.NewSeed()))
            {
                Samplers.UniformPoly(aPrng, _p.QP, key.A[j]);
            }

            SampleErrorNtt(key.B[j], count);
            for (int i = 0; i < count; i++)
            {
                var mod = _p.QP[i];
                RingOps.Multiply(key.A[j].Limb(i), sk.Value.Limb(i), tmp, mod);
                RingOps.Sub(key.B[j].Limb(i), tmp, key.B[j].Limb(i), mod.Value);
            }

            var (start, digitPrimes) = _p.DigitRange(j, _p.MaxLevel);
            for (int i = start; i < start + digitPrimes; i++)
            {
                RingOps.MultiplyScalarAdd(sIn.Limb(i), _p.PModQ[i], key.B[j].Limb(i), _p.Q[i]);
            }
        }
    }

    /// <summary>Samples an error polynomial into the first <paramref name="limbs"/> limbs of <paramref name="destination"/> and transforms it.</summary>
    private void SampleErrorNtt(Poly destination, int limbs)
    {
        Samplers.Error(_prng, _p.ErrorDistribution, _p.ErrorSigma, _p.ErrorBound, _small);
        Samplers.SetSigned(_small, _p.QP, destination);
        PolyMath.Ntt(destination, _p.QP, limbs);
        Array.Clear(_small);
    }

    private void CheckKey(SecretKey sk)
    {
        if (sk.ParametersId != _p.Id)
        {
            throw new ArgumentException("The secret key belongs to other parameters.", nameof(sk));
        }
    }

    public void Dispose() => _prng.Dispose();
}
