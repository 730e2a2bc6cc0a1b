using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Homomorphic.Rlwe;

/// <summary>Limb-wise helpers over RNS polynomials.</summary>
internal static class PolyMath
{
    public static void Ntt(Poly p, RnsBasis basis, int limbs)
    {
        for (int i = 0; i < limbs; i++)
        {
            basis.Ntt(i).Forward(p.Limb(i));
        }
    }

    public static void Intt(Poly p, RnsBasis basis, int limbs)
    {
        for (int i = 0; i < limbs; i++)
        {
            basis.Ntt(i).Inverse(p.Limb(i));
        }
    }

    public static void Permute(ReadOnlySpan<ulong> source, int[] permutation, Span<ulong> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = source[permutation[i]];
        }
    }

    /// <summary>Key-level limb index of limb k of the level-ℓ extended basis q_0…q_ℓ, p_0…p_{K−1}.</summary>
    public static int ExtendedToKeyIndex(RlweParameters p, int level, int k) => k <= level ? k : p.Q.Count + (k - level - 1);
}

/// <summary>Public access to the limb permutation used by automorphisms.</summary>
public static class PolyMathPublic
{
    public static void Permute(ReadOnlySpan<ulong> source, int[] permutation, Span<ulong> destination) =>
        PolyMath.Permute(source, permutation, destination);
}
