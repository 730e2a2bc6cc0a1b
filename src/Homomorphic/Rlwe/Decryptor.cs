using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Homomorphic.Rlwe;

/// <summary>
/// Secret-key decryption m = c_0 + c_1·s (+ c_2·s²). The result includes the ciphertext noise: never publish
/// it unprotected (IND-CPA-D, Li–Micciancio); released values go through flooding and DecodePublic.
/// </summary>
public sealed class Decryptor
{
    private readonly RlweParameters _p;
    private readonly SecretKey _sk;
    private readonly ulong[] _tmp;
    private readonly ulong[] _s2;

    public Decryptor(RlweParameters parameters, SecretKey secretKey)
    {
        if (secretKey.ParametersId != parameters.Id)
        {
            throw new ArgumentException("The secret key belongs to other parameters.", nameof(secretKey));
        }

        _p = parameters;
        _sk = secretKey;
        _tmp = new ulong[parameters.N];
        _s2 = new ulong[parameters.N];
    }

    public Plaintext Decrypt(Ciphertext ciphertext)
    {
        var pt = new Plaintext(_p, ciphertext.Level, ciphertext.Scale);
        Decrypt(ciphertext, pt);
        return pt;
    }

    public void Decrypt(Ciphertext ciphertext, Plaintext destination)
    {
        if (ciphertext.ParametersId != _p.Id)
        {
            throw new ArgumentException("The ciphertext belongs to other parameters.", nameof(ciphertext));
        }

        int level = ciphertext.Level;
        destination.Value.Resize(level + 1);
        destination.Scale = ciphertext.Scale;
        destination.ParametersId = _p.Id;
        for (int i = 0; i <= level; i++)
        {
            var mod = _p.Q[i];
            var d = destination.Value.Limb(i);
            var s = _sk.Value.Limb(i);
            ciphertext[0].Limb(i).CopyTo(d);
            RingOps.MultiplyAdd(ciphertext[1].Limb(i), s, d, mod);
            if (ciphertext.Size == 3)
            {
                RingOps.Multiply(s, s, _s2, mod);
                RingOps.MultiplyAdd(ciphertext[2].Limb(i), _s2, d, mod);
            }
        }
    }
}
