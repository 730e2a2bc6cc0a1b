using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Multiparty;

/// <summary>
/// Collective key switching (CKS) of a ciphertext from s = Σ s_i to s' = Σ s'_i; with no target key this is
/// threshold decryption. Party i sends h_i = (s_i − s'_i)·c1 + e_i, where e_i is drawn from the mandatory
/// noise-flooding distribution; c0 + Σ h_i (with c1) then decrypts under s'.
/// <para>Never produce a second share for the same ciphertext (retries enable key recovery: SECURITY.md).</para>
/// </summary>
public sealed class KeySwitchProtocol : ProtocolBase
{
    public KeySwitchProtocol(RlweParameters parameters, NoiseFlooding flooding) : base(parameters)
    {
        Flooding = flooding ?? throw new ArgumentNullException(nameof(flooding), "Key switching requires a noise-flooding distribution.");
    }

    public NoiseFlooding Flooding { get; }

    public Share AllocateShare(SessionId session, int party, int level) =>
        new(Parameters, ShareKind.KeySwitch, session, party, level, keyLevel: false, polys: 1);

    /// <param name="secretShare">The party's share of the current key (additive, or Combiner output for t-of-n).</param>
    /// <param name="targetShare">The party's share of the target key, or null for decryption (target key zero).</param>
    /// <param name="ciphertext">The ciphertext (size 2) at the share's level.</param>
    /// <param name="destination">The share, allocated at the ciphertext's level.</param>
    public void GenerateShare(SecretKey secretShare, SecretKey? targetShare, Ciphertext ciphertext, Share destination)
    {
        CheckKey(secretShare);
        if (targetShare is not null)
        {
            CheckKey(targetShare);
        }

        CheckDestination(destination, ShareKind.KeySwitch);
        CheckCiphertext(ciphertext, destination);
        int limbs = ciphertext.Level + 1;
        var h = destination.Polys[0];
        SampleFloodingNtt(Flooding, h, limbs);
        for (int i = 0; i < limbs; i++)
        {
            var mod = Parameters.Q[i];
            RingOps.MultiplyAdd(ciphertext[1].Limb(i), secretShare.Value.Limb(i), h.Limb(i), mod);
            if (targetShare is not null)
            {
                RingOps.Multiply(ciphertext[1].Limb(i), targetShare.Value.Limb(i), Scratch, mod);
                RingOps.Sub(h.Limb(i), Scratch, h.Limb(i), mod.Value);
            }
        }
    }

    /// <summary>The ciphertext under the target key: (c0 + Σ h_i, c1).</summary>
    public Ciphertext KeySwitch(Ciphertext ciphertext, Share aggregated)
    {
        CheckDestination(aggregated, ShareKind.KeySwitch);
        CheckCiphertext(ciphertext, aggregated);
        var result = ciphertext.Clone(Parameters);
        for (int i = 0; i <= ciphertext.Level; i++)
        {
            RingOps.Add(result[0].Limb(i), aggregated.Polys[0].Limb(i), result[0].Limb(i), Parameters.Q[i].Value);
        }

        return result;
    }

    /// <summary>Threshold decryption: the plaintext c0 + Σ h_i (flooded; decode for release with DecodePublic).</summary>
    public Plaintext Decrypt(Ciphertext ciphertext, Share aggregated)
    {
        CheckDestination(aggregated, ShareKind.KeySwitch);
        CheckCiphertext(ciphertext, aggregated);
        var pt = new Plaintext(Parameters, ciphertext.Level, ciphertext.Scale);
        for (int i = 0; i <= ciphertext.Level; i++)
        {
            RingOps.Add(ciphertext[0].Limb(i), aggregated.Polys[0].Limb(i), pt.Value.Limb(i), Parameters.Q[i].Value);
        }

        return pt;
    }
}

/// <summary>
/// Collective public-key switching (PCKS): re-encrypts a ciphertext under s = Σ s_i to a receiver's public key
/// (b', a') without anyone learning the message. Party i sends (u_i·b' + s_i·c1 + e0_i, u_i·a' + e1_i) with u_i
/// ternary, e0_i from the mandatory flooding distribution and e1_i from χ; the result is (c0 + Σ h0, Σ h1).
/// </summary>
public sealed class PublicKeySwitchProtocol : ProtocolBase
{
    private readonly Poly _u;
    private readonly Poly _e1;

    public PublicKeySwitchProtocol(RlweParameters parameters, NoiseFlooding flooding) : base(parameters)
    {
        Flooding = flooding ?? throw new ArgumentNullException(nameof(flooding), "Public-key switching requires a noise-flooding distribution.");
        _u = new Poly(parameters.N, parameters.Q.Count);
        _e1 = new Poly(parameters.N, parameters.Q.Count);
    }

    public NoiseFlooding Flooding { get; }

    public Share AllocateShare(SessionId session, int party, int level) =>
        new(Parameters, ShareKind.PublicKeySwitch, session, party, level, keyLevel: false, polys: 2);

    public void GenerateShare(SecretKey secretShare, PublicKey receiverKey, Ciphertext ciphertext, Share destination)
    {
        CheckKey(secretShare);
        if (receiverKey.ParametersId != Parameters.Id)
        {
            throw new ArgumentException("The receiver's public key belongs to other parameters.");
        }

        CheckDestination(destination, ShareKind.PublicKeySwitch);
        CheckCiphertext(ciphertext, destination);
        int limbs = ciphertext.Level + 1;
        _u.Resize(limbs);
        SampleTernaryNtt(_u, limbs);
        var h0 = destination.Polys[0];
        var h1 = destination.Polys[1];
        SampleFloodingNtt(Flooding, h0, limbs);
        SampleErrorNtt(h1, limbs);
        for (int i = 0; i < limbs; i++)
        {
            var mod = Parameters.Q[i];
            RingOps.MultiplyAdd(_u.Limb(i), receiverKey.B.Limb(i), h0.Limb(i), mod);
            RingOps.MultiplyAdd(ciphertext[1].Limb(i), secretShare.Value.Limb(i), h0.Limb(i), mod);
            RingOps.MultiplyAdd(_u.Limb(i), receiverKey.A.Limb(i), h1.Limb(i), mod);
        }

        _u.Clear();
    }

    /// <summary>The ciphertext under the receiver's key: (c0 + Σ h0, Σ h1).</summary>
    public Ciphertext KeySwitch(Ciphertext ciphertext, Share aggregated)
    {
        CheckDestination(aggregated, ShareKind.PublicKeySwitch);
        CheckCiphertext(ciphertext, aggregated);
        var result = new Ciphertext(Parameters, 2, ciphertext.Level, ciphertext.Scale);
        for (int i = 0; i <= ciphertext.Level; i++)
        {
            RingOps.Add(ciphertext[0].Limb(i), aggregated.Polys[0].Limb(i), result[0].Limb(i), Parameters.Q[i].Value);
            aggregated.Polys[1].Limb(i).CopyTo(result[1].Limb(i));
        }

        return result;
    }
}
