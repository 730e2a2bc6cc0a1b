using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.Participant.Custodian;

/// <summary>
/// A custodian's share of differential-privacy noise, drawn on the custodian's device from a cryptographic source and
/// encrypted under the collective key, so that neither the coordinator nor any other custodian learns it. Each of the t
/// active custodians adds N(0, σ²/t), so the released total is N(0, σ²) and no single party knows it.
/// </summary>
public static class CustodianNoise
{
    /// <summary>
    /// One ciphertext holding N(0, <paramref name="sigma"/>²) in each of <paramref name="slots"/> (real part) and 0
    /// elsewhere, at <paramref name="level"/> and <paramref name="scale"/> so it adds to the ciphertext it protects.
    /// </summary>
    public static Ciphertext EncryptSlotNoise(CkksParameters parameters, PublicKey collectiveKey, IEnumerable<int> slots, double sigma, int level, double scale)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(slots);
        var values = new double[parameters.MaxSlots];
        using var random = new CryptoRandomSource();
        var gaussian = new GaussianSampler(random);
        foreach (int slot in slots)
        {
            if (slot < 0 || slot >= values.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(slots), slot, $"Slots are in [0, {values.Length}).");
            }

            values[slot] = sigma * gaussian.NextStandard();
        }

        using var encryptor = new Encryptor(parameters.Rlwe, collectiveKey);
        return encryptor.Encrypt(new CkksEncoder(parameters).Encode(values, level, scale));
    }

    /// <summary>
    /// Noise for a packed model update: N(0, <paramref name="sigma"/>²) on the first <paramref name="noisyValues"/> of
    /// <paramref name="valueCount"/> values (the rest, e.g. the weight, stay 0), encrypted as <see cref="UpdatePacker"/> packs them.
    /// </summary>
    public static Ciphertext[] EncryptUpdateNoise(CkksParameters parameters, PublicKey collectiveKey, int valueCount, int noisyValues, double sigma)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfLessThan(valueCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(noisyValues, valueCount);
        var vector = new double[valueCount];
        using var random = new CryptoRandomSource();
        var gaussian = new GaussianSampler(random);
        for (int i = 0; i < noisyValues; i++)
        {
            vector[i] = sigma * gaussian.NextStandard();
        }

        using var encryptor = new Encryptor(parameters.Rlwe, collectiveKey);
        return new UpdatePacker(parameters).Encrypt(vector, encryptor);
    }
}
