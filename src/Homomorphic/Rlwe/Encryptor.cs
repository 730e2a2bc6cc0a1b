using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Homomorphic.Rlwe;

/// <summary>
/// Encrypts plaintexts with a public key or a secret key. Public-key encryption computes the encryption of
/// zero modulo Q_ℓ·P and divides by P (ModDown), so fresh noise is the rounding term only (≈ 4 bits less
/// than encrypting modulo Q). Secret-key ciphertexts carry the seed of c_1 (half size when serialized).
/// Owns scratch buffers; not thread-safe.
/// </summary>
public sealed class Encryptor : IDisposable
{
    private readonly RlweParameters _p;
    private readonly PublicKey? _pk;
    private readonly SecretKey? _sk;
    private readonly Prng _prng;
    private readonly Prng _expander; // re-keyed with each seeded ciphertext's public seed
    private readonly long[] _small;
    private readonly Poly _u;
    private readonly Poly _t0;
    private readonly Poly _t1;
    private readonly ulong[] _convScratch;
    private readonly ulong[] _conv;

    public Encryptor(RlweParameters parameters, PublicKey publicKey) : this(parameters, publicKey, null)
    {
    }

    public Encryptor(RlweParameters parameters, SecretKey secretKey) : this(parameters, null, secretKey)
    {
    }

    private Encryptor(RlweParameters parameters, PublicKey? pk, SecretKey? sk)
    {
        if ((pk is not null && pk.ParametersId != parameters.Id) || (sk is not null && sk.ParametersId != parameters.Id))
        {
            throw new ArgumentException("The key belongs to other parameters.");
        }

        _p = parameters;
        _pk = pk;
        _sk = sk;
        _prng = Prng.CreateRandom();
        _expander = new Prng(new byte[Prng.SeedSize], SeededADomain);
        _small = new long[parameters.N];
        int ext = parameters.QP.Count;
        _u = new Poly(parameters.N, ext);
        _t0 = new Poly(parameters.N, ext);
        _t1 = new Poly(parameters.N, ext);
        _convScratch = new ulong[parameters.P.Count * parameters.N];
        _conv = new ulong[parameters.Q.Count * parameters.N];
    }

    public Ciphertext Encrypt(Plaintext plaintext)
    {
        var ct = new Ciphertext(_p, 2, plaintext.Level, plaintext.Scale);
        Encrypt(plaintext, ct);
        return ct;
    }

    public void Encrypt(Plaintext plaintext, Ciphertext destination)
    {
        if (plaintext.ParametersId != _p.Id)
        {
            throw new ArgumentException("The plaintext belongs to other parameters.", nameof(plaintext));
        }

        EncryptZero(plaintext.Level, destination);
        destination.Scale = plaintext.Scale;
        for (int i = 0; i <= plaintext.Level; i++)
        {
            RingOps.Add(destination[0].Limb(i), plaintext.Value.Limb(i), destination[0].Limb(i), _p.Q[i].Value);
        }
    }

    /// <summary>An encryption of zero at the given level (scale 1).</summary>
    public void EncryptZero(int level, Ciphertext destination)
    {
        Plaintext.CheckLevel(_p, level);
        destination.ParametersId = _p.Id;
        destination.Reshape(2, level);
        destination.Scale = 1;
        if (_pk is not null)
        {
            EncryptZeroPublic(level, destination);
        }
        else
        {
            EncryptZeroSecret(level, destination);
        }
    }

    private void EncryptZeroPublic(int level, Ciphertext ct)
    {
        var pk = _pk!;
        int ext = level + 1 + _p.P.Count;
        _u.Resize(ext);
        _t0.Resize(ext);
        _t1.Resize(ext);
        Samplers.Ternary(_prng, _small);
        for (int k = 0; k < ext; k++)
        {
            int key = PolyMath.ExtendedToKeyIndex(_p, level, k);
            var mod = _p.QP[key];
            var u = _u.Limb(k);
            for (int j = 0; j < u.Length; j++)
            {
                u[j] = mod.FromSigned(_small[j]);
            }

            _p.QP.Ntt(key).Forward(u);
            RingOps.Multiply(u, pk.B.Limb(key), _t0.Limb(k), mod);
            RingOps.Multiply(u, pk.A.Limb(key), _t1.Limb(k), mod);
            _p.QP.Ntt(key).Inverse(_t0.Limb(k));
            _p.QP.Ntt(key).Inverse(_t1.Limb(k));
        }

        Array.Clear(_small);
        AddErrorCoefficients(_t0, level, ext);
        AddErrorCoefficients(_t1, level, ext);
        ModDownCoefficients(_t0, level, ct[0]);
        ModDownCoefficients(_t1, level, ct[1]);
        PolyMath.Ntt(ct[0], _p.Q, level + 1);
        PolyMath.Ntt(ct[1], _p.Q, level + 1);
    }

    private void AddErrorCoefficients(Poly t, int level, int ext)
    {
        Samplers.Error(_prng, _p.ErrorDistribution, _p.ErrorSigma, _p.ErrorBound, _small);
        for (int k = 0; k < ext; k++)
        {
            var mod = _p.QP[PolyMath.ExtendedToKeyIndex(_p, level, k)];
            var limb = t.Limb(k);
            for (int j = 0; j < limb.Length; j++)
            {
                limb[j] = mod.Add(limb[j], mod.FromSigned(_small[j]));
            }
        }

        Array.Clear(_small);
    }

    /// <summary>dst = round(t / P) = (t − [t]_P)·P^-1 over q_0…q_ℓ (centered [t]_P), all in coefficient form.</summary>
    private void ModDownCoefficients(Poly t, int level, Poly destination)
    {
        int n = _p.N;
        int kp = _p.P.Count;
        var conv = _conv.AsSpan(0, (level + 1) * n);
        _p.ModDownConverter(level).ConvertCentered(t.AsSpan(level + 1 + kp)[((level + 1) * n)..], conv, _convScratch, n);
        var pInv = _p.PInvModQ(level);
        for (int i = 0; i <= level; i++)
        {
            var mod = _p.Q[i];
            var d = destination.Limb(i);
            RingOps.Sub(t.Limb(i), conv.Slice(i * n, n), d, mod.Value);
            RingOps.MultiplyScalar(d, pInv[i], d, mod);
        }
    }

    private void EncryptZeroSecret(int level, Ciphertext ct)
    {
        var sk = _sk!;
        byte[] seed = Prng.NewSeed();
        _expander.Reset(seed, SeededADomain);
        ExpandSeededA(_p, _expander, level, ct[1]);
        Samplers.Error(_prng, _p.ErrorDistribution, _p.ErrorSigma, _p.ErrorBound, _small);
        for (int i = 0; i <= level; i++)
        {
            var mod = _p.Q[i];
            var c0 = ct[0].Limb(i);
            for (int j = 0; j < c0.Length; j++)
            {
                c0[j] = mod.FromSigned(_small[j]);
            }

            _p.Q.Ntt(i).Forward(c0);
            var tmp = _t0.Limb(0);
            RingOps.Multiply(ct[1].Limb(i), sk.Value.Limb(i), tmp, mod);
            RingOps.Sub(c0, tmp, c0, mod.Value);
        }

        Array.Clear(_small);
        ct.C1Seed = seed;
    }

    /// <summary>Domain separator of seeded c_1 expansion ("c1seed").</summary>
    internal const ulong SeededADomain = 0x6465_6573_3163;

    /// <summary>Expands the uniform c_1 (NTT form) of a seeded ciphertext over q_0…q_ℓ, limb by limb.</summary>
    public static void ExpandSeededA(RlweParameters parameters, ReadOnlySpan<byte> seed, int level, Poly destination)
    {
        using var prng = new Prng(seed, SeededADomain);
        ExpandSeededA(parameters, prng, level, destination);
    }

    private static void ExpandSeededA(RlweParameters parameters, Prng seeded, int level, Poly destination)
    {
        destination.Resize(level + 1);
        for (int i = 0; i <= level; i++)
        {
            Samplers.Uniform(seeded, parameters.Q[i], destination.Limb(i));
        }
    }

    public void Dispose()
    {
        _prng.Dispose();
        _expander.Dispose();
    }
}
