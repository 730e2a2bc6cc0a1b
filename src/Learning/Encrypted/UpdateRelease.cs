using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;

namespace PrivateHealth.Learning.Encrypted;

/// <summary>
/// How the sum of encrypted updates is released: the flooding noise each decrypting custodian adds
/// (Li–Micciancio: the released value hides the ciphertext error, which grows with the number of summed uploads)
/// and the precision, in bits, that survives it.
/// </summary>
public static class UpdateRelease
{
    /// <summary>
    /// Flooding for decrypting a sum of <paramref name="uploads"/> fresh public-key encryptions under a key of
    /// <paramref name="parties"/> parties: bound = uploads · 6σ_fresh with σ_fresh ≈ √(N·(2·parties/3)/12).
    /// </summary>
    public static NoiseFlooding FloodingFor(CkksParameters parameters, int parties, int uploads)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parties);
        double freshStd = Math.Sqrt(parameters.N * (2.0 * parties / 3.0) / 12.0);
        return NoiseFlooding.ForCiphertextError(Math.Max(1, uploads) * 6 * freshStd);
    }

    /// <summary>
    /// Bits of precision kept when decoding a release by <paramref name="threshold"/> custodians each adding
    /// <paramref name="flooding"/>: log2 Δ − log2(4.5 · σ · √(t·N/2)) − 1 (max over slots ≈ 4.5 standard deviations).
    /// </summary>
    public static double PrecisionBits(CkksParameters parameters, NoiseFlooding flooding, int threshold)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(flooding);
        double slotNoise = flooding.Sigma * Math.Sqrt(threshold * parameters.N / 2.0) * 4.5;
        return Math.Floor(Math.Log2(parameters.DefaultScale) - Math.Log2(slotNoise) - 1);
    }
}
