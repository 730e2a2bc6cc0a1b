using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Multiparty;

/// <summary>A party's Shamir polynomial P_i(X) = s_i + Σ_{k=1}^{t−1} a_k X^k with uniform a_k ∈ R_QP. Secret; wipe after use.</summary>
public sealed class ShamirPolynomial : IDisposable
{
    internal ShamirPolynomial(Poly[] coefficients) => Coefficients = coefficients;

    internal Poly[] Coefficients { get; }
    public int Threshold => Coefficients.Length;

    public void Dispose()
    {
        foreach (var c in Coefficients)
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.AsSpan()));
        }
    }
}

/// <summary>
/// Dealer-free t-of-n re-sharing (Mouchet et al., ePrint 2022/780; Lattigo's Thresholdizer): each party i deals
/// its additive secret s_i with a random degree-(t−1) polynomial and sends P_i(x_j) privately to every party j;
/// party j's Shamir share of s = Σ s_i is Σ_i P_i(x_j). Shamir points x_j are distinct nonzero public integers
/// (conventionally the party number).
/// </summary>
public sealed class Thresholdizer(RlweParameters parameters) : ProtocolBase(parameters)
{
    public ShamirPolynomial GeneratePolynomial(int threshold, SecretKey secretShare)
    {
        CheckKey(secretShare);
        if (threshold < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold must be ≥ 1.");
        }

        var coefficients = new Poly[threshold];
        coefficients[0] = secretShare.Value.Clone();
        for (int k = 1; k < threshold; k++)
        {
            coefficients[k] = new Poly(Parameters.N, Parameters.QP.Count);
            Samplers.UniformPoly(Prng, Parameters.QP, coefficients[k]);
        }

        return new ShamirPolynomial(coefficients);
    }

    public Share AllocateShare(SessionId session, int party) =>
        new(Parameters, ShareKind.Threshold, session, party, Parameters.MaxLevel, keyLevel: true, polys: 1);

    /// <summary>P_i(x) for the recipient's Shamir point x (Horner, limb by limb). Send it to that party only.</summary>
    public void GenerateShare(ShamirPolynomial polynomial, ulong recipientPoint, Share destination)
    {
        CheckDestination(destination, ShareKind.Threshold);
        if (recipientPoint == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(recipientPoint), "Shamir points must be nonzero (P(0) is the secret).");
        }

        var d = destination.Polys[0];
        int t = polynomial.Threshold;
        for (int i = 0; i < Parameters.QP.Count; i++)
        {
            var mod = Parameters.QP[i];
            ulong x = mod.Reduce(recipientPoint);
            var limb = d.Limb(i);
            polynomial.Coefficients[t - 1].Limb(i).CopyTo(limb);
            for (int k = t - 2; k >= 0; k--)
            {
                RingOps.MultiplyScalar(limb, x, limb, mod);
                RingOps.Add(limb, polynomial.Coefficients[k].Limb(i), limb, mod.Value);
            }
        }
    }

    /// <summary>Turns the aggregate of the shares a party received into its Shamir secret share.</summary>
    public SecretKey ToShamirShare(Share aggregated)
    {
        CheckDestination(aggregated, ShareKind.Threshold);
        var sk = new SecretKey(Parameters);
        aggregated.Polys[0].CopyTo(sk.Value);
        return sk;
    }
}

/// <summary>
/// Turns a Shamir share into an additive share for a chosen active set T of t parties: s̃_j = λ_j·sh_j with the
/// Lagrange coefficient λ_j = Π_{k∈T, k≠j} x_k/(x_k − x_j) (mod every prime), so Σ_{j∈T} s̃_j = s. Apply λ to the
/// secret share, never to protocol outputs (that would multiply their noise).
/// </summary>
public sealed class Combiner
{
    private readonly RlweParameters _p;

    public Combiner(RlweParameters parameters, ulong ownPoint, int threshold)
    {
        if (ownPoint == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ownPoint), "Shamir points must be nonzero.");
        }

        _p = parameters;
        OwnPoint = ownPoint;
        Threshold = threshold;
    }

    public ulong OwnPoint { get; }
    public int Threshold { get; }

    /// <summary>
    /// The active set for a decryption: the first t of the custodians that answered (in the order given), so the
    /// protocol completes while up to n − t custodians are offline. Throws when fewer than t answered.
    /// </summary>
    public static ulong[] ChooseActiveSet(IEnumerable<ulong> answering, int threshold)
    {
        var distinct = answering.Where(p => p != 0).Distinct().Take(threshold).ToArray();
        if (distinct.Length < threshold)
        {
            throw new InvalidOperationException($"Only {distinct.Length} custodians answered; {threshold} are needed to decrypt.");
        }

        return distinct;
    }

    /// <summary>λ_own·share for the active set (which must contain this party and exactly t distinct points).</summary>
    public SecretKey GenerateAdditiveShare(IReadOnlyCollection<ulong> activePoints, SecretKey shamirShare)
    {
        if (shamirShare.ParametersId != _p.Id)
        {
            throw new ArgumentException("The Shamir share belongs to other parameters.");
        }

        if (activePoints.Distinct().Count() != activePoints.Count || activePoints.Count != Threshold || !activePoints.Contains(OwnPoint) || activePoints.Contains(0UL))
        {
            throw new ArgumentException($"The active set must hold exactly t = {Threshold} distinct nonzero points including this party's ({OwnPoint}); got [{string.Join(", ", activePoints)}].");
        }

        var result = new SecretKey(_p);
        for (int i = 0; i < _p.QP.Count; i++)
        {
            var mod = _p.QP[i];
            ulong lambda = 1;
            ulong xj = mod.Reduce(OwnPoint);
            foreach (ulong point in activePoints)
            {
                if (point == OwnPoint)
                {
                    continue;
                }

                ulong xk = mod.Reduce(point);
                lambda = mod.Multiply(lambda, mod.Multiply(xk, mod.Inverse(mod.Subtract(xk, xj))));
            }

            RingOps.MultiplyScalar(shamirShare.Value.Limb(i), lambda, result.Value.Limb(i), mod);
        }

        return result;
    }
}
