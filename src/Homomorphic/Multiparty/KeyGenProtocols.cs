using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Multiparty;

/// <summary>
/// Collective public key (one round): party i sends −a·s_i + e_i for the CRP a; the sum b = −a·s + e with
/// s = Σ s_i gives the public key (b, a).
/// </summary>
public sealed class PublicKeyGenProtocol(RlweParameters parameters) : ProtocolBase(parameters)
{
    public Share AllocateShare(SessionId session, int party) =>
        new(Parameters, ShareKind.PublicKey, session, party, Parameters.MaxLevel, keyLevel: true, polys: 1);

    public Poly SampleCrp(CommonReferenceString crs, SessionId session)
    {
        var a = new Poly(Parameters.N, Parameters.QP.Count);
        crs.ExpandPolynomial(Parameters, session, "public-key", 0, a);
        return a;
    }

    public void GenerateShare(SecretKey secretShare, Poly crp, Share destination)
    {
        CheckKey(secretShare);
        CheckDestination(destination, ShareKind.PublicKey);
        var h = destination.Polys[0];
        SampleErrorNtt(h, h.LimbCount);
        SubtractProduct(crp, secretShare.Value, h, h.LimbCount);
    }

    public PublicKey GenerateKey(Share aggregated, Poly crp)
    {
        CheckDestination(aggregated, ShareKind.PublicKey);
        var pk = new PublicKey(Parameters);
        aggregated.Polys[0].CopyTo(pk.B);
        crp.CopyTo(pk.A);
        return pk;
    }
}

/// <summary>A party's ephemeral secret u_i between the two relinearization rounds. Wipe it (Dispose) after round 2.</summary>
public sealed class EphemeralSecret : IDisposable
{
    internal EphemeralSecret(Poly value) => Value = value;

    internal Poly Value { get; }

    public void Dispose() => System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Value.AsSpan()));
}

/// <summary>
/// Collective relinearization key in two rounds (Mouchet et al.; Lattigo's RKG). For the CRPs a_j (one per digit):
/// round 1: (−u_i·a_j + P·g_j·s_i + e, s_i·a_j + e'), summed to (h0_j, h1_j);
/// round 2: (s_i·h0_j + e'', (u_i − s_i)·h1_j + e'''), summed to (b'_j, c'_j);
/// key: (b'_j + c'_j, h1_j), which satisfies b + h1·s ≈ P·g_j·s².
/// Both rounds must use the same parties and the same secret shares.
/// </summary>
public sealed class RelinearizationKeyGenProtocol(RlweParameters parameters) : ProtocolBase(parameters)
{
    private int Digits => Parameters.DigitCountMax;

    public Share AllocateShare(SessionId session, int party, int round) => round switch
    {
        1 => new(Parameters, ShareKind.RelinearizationRound1, session, party, Parameters.MaxLevel, keyLevel: true, polys: 2 * Digits),
        2 => new(Parameters, ShareKind.RelinearizationRound2, session, party, Parameters.MaxLevel, keyLevel: true, polys: 2 * Digits),
        _ => throw new ArgumentOutOfRangeException(nameof(round), round, "The relinearization protocol has rounds 1 and 2."),
    };

    public Poly[] SampleCrp(CommonReferenceString crs, SessionId session)
    {
        var crp = new Poly[Digits];
        for (int j = 0; j < Digits; j++)
        {
            crp[j] = new Poly(Parameters.N, Parameters.QP.Count);
            crs.ExpandPolynomial(Parameters, session, "relinearization-key", j, crp[j]);
        }

        return crp;
    }

    /// <summary>Round 1. Returns the ephemeral secret the party must keep (privately) for round 2.</summary>
    public EphemeralSecret GenerateShareRound1(SecretKey secretShare, Poly[] crp, Share destination)
    {
        CheckKey(secretShare);
        CheckDestination(destination, ShareKind.RelinearizationRound1);
        int limbs = Parameters.QP.Count;
        var u = new Poly(Parameters.N, limbs);
        SampleTernaryNtt(u, limbs);
        for (int j = 0; j < Digits; j++)
        {
            var h0 = destination.Polys[2 * j];
            var h1 = destination.Polys[(2 * j) + 1];
            SampleErrorNtt(h0, limbs);
            SubtractProduct(crp[j], u, h0, limbs);
            AddGadgetTerm(secretShare.Value, j, h0);
            SampleErrorNtt(h1, limbs);
            for (int i = 0; i < limbs; i++)
            {
                RingOps.MultiplyAdd(crp[j].Limb(i), secretShare.Value.Limb(i), h1.Limb(i), Parameters.QP[i]);
            }
        }

        return new EphemeralSecret(u);
    }

    /// <summary>Round 2, on the aggregate of every party's round-1 share.</summary>
    public void GenerateShareRound2(SecretKey secretShare, EphemeralSecret ephemeral, Share aggregatedRound1, Share destination)
    {
        CheckKey(secretShare);
        CheckDestination(aggregatedRound1, ShareKind.RelinearizationRound1);
        CheckDestination(destination, ShareKind.RelinearizationRound2);
        int limbs = Parameters.QP.Count;
        var uMinusS = new ulong[Parameters.N];
        for (int j = 0; j < Digits; j++)
        {
            var d0 = destination.Polys[2 * j];
            var d1 = destination.Polys[(2 * j) + 1];
            SampleErrorNtt(d0, limbs);
            SampleErrorNtt(d1, limbs);
            for (int i = 0; i < limbs; i++)
            {
                var mod = Parameters.QP[i];
                RingOps.MultiplyAdd(aggregatedRound1.Polys[2 * j].Limb(i), secretShare.Value.Limb(i), d0.Limb(i), mod);
                RingOps.Sub(ephemeral.Value.Limb(i), secretShare.Value.Limb(i), uMinusS, mod.Value);
                RingOps.MultiplyAdd(aggregatedRound1.Polys[(2 * j) + 1].Limb(i), uMinusS, d1.Limb(i), mod);
            }
        }

        System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(uMinusS.AsSpan()));
    }

    public RelinearizationKey GenerateKey(Share aggregatedRound1, Share aggregatedRound2)
    {
        CheckDestination(aggregatedRound1, ShareKind.RelinearizationRound1);
        CheckDestination(aggregatedRound2, ShareKind.RelinearizationRound2);
        if (aggregatedRound1.Session != aggregatedRound2.Session)
        {
            throw new ShareRejectedException("The two relinearization rounds belong to different sessions.");
        }

        var key = new RelinearizationKey(Parameters);
        for (int j = 0; j < Digits; j++)
        {
            for (int i = 0; i < Parameters.QP.Count; i++)
            {
                RingOps.Add(aggregatedRound2.Polys[2 * j].Limb(i), aggregatedRound2.Polys[(2 * j) + 1].Limb(i), key.B[j].Limb(i), Parameters.QP[i].Value);
            }

            aggregatedRound1.Polys[(2 * j) + 1].CopyTo(key.A[j]);
        }

        return key;
    }
}

/// <summary>
/// Collective Galois key for element g (SEAL's convention, as the single-party generator): party i sends
/// −a_j·s_i + P·g_j·σ_g(s_i) + e_ij per digit j; the sums with the CRPs a_j form the key σ_g(s) → s.
/// </summary>
public sealed class GaloisKeyGenProtocol(RlweParameters parameters) : ProtocolBase(parameters)
{
    private int Digits => Parameters.DigitCountMax;

    public Share AllocateShare(SessionId session, int party, ulong galoisElement)
    {
        Parameters.GaloisPermutation(galoisElement); // validates the element
        return new(Parameters, ShareKind.GaloisKey, session, party, Parameters.MaxLevel, keyLevel: true, polys: Digits, galoisElement);
    }

    public Poly[] SampleCrp(CommonReferenceString crs, SessionId session, ulong galoisElement)
    {
        var crp = new Poly[Digits];
        for (int j = 0; j < Digits; j++)
        {
            crp[j] = new Poly(Parameters.N, Parameters.QP.Count);
            crs.ExpandPolynomial(Parameters, session, $"galois-key/{galoisElement}", j, crp[j]);
        }

        return crp;
    }

    public void GenerateShare(SecretKey secretShare, Poly[] crp, Share destination)
    {
        CheckKey(secretShare);
        CheckDestination(destination, ShareKind.GaloisKey);
        int limbs = Parameters.QP.Count;
        var perm = Parameters.GaloisPermutation(destination.GaloisElement);
        var sg = new Poly(Parameters.N, Parameters.Q.Count);
        for (int i = 0; i < Parameters.Q.Count; i++)
        {
            PolyMathPublic.Permute(secretShare.Value.Limb(i), perm, sg.Limb(i));
        }

        for (int j = 0; j < Digits; j++)
        {
            var h = destination.Polys[j];
            SampleErrorNtt(h, limbs);
            SubtractProduct(crp[j], secretShare.Value, h, limbs);
            AddGadgetTerm(sg, j, h);
        }

        sg.Clear();
    }

    public GaloisKey GenerateKey(Share aggregated, Poly[] crp)
    {
        CheckDestination(aggregated, ShareKind.GaloisKey);
        var key = new GaloisKey(Parameters, aggregated.GaloisElement);
        for (int j = 0; j < Digits; j++)
        {
            aggregated.Polys[j].CopyTo(key.B[j]);
            crp[j].CopyTo(key.A[j]);
        }

        return key;
    }
}
