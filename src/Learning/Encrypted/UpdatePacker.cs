using System.Numerics;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Learning.Encrypted;

/// <summary>
/// Packs a flat vector of reals (a weighted model update, followed by its sample count) into CKKS plaintexts:
/// value 2k goes to the real part and value 2k + 1 to the imaginary part of slot k, so one ciphertext carries
/// N reals. Plaintexts are encoded at level 0 — the lowest level, which is all an aggregate of additions needs —
/// and the default scale, so uploads are as small as the parameters allow.
/// </summary>
public sealed class UpdatePacker
{
    private readonly CkksParameters _p;
    private readonly CkksEncoder _encoder;
    private readonly Complex[] _slots;

    public UpdatePacker(CkksParameters parameters)
    {
        _p = parameters;
        _encoder = new CkksEncoder(parameters);
        _slots = new Complex[parameters.MaxSlots];
    }

    public CkksParameters Parameters => _p;

    /// <summary>Reals per ciphertext (N).</summary>
    public int ValuesPerCiphertext => _p.N;

    /// <summary>Level the updates are encoded at (0).</summary>
    public int Level => 0;

    /// <summary>Number of ciphertexts for a vector of <paramref name="length"/> reals.</summary>
    public int CiphertextCount(int length) => Math.Max(1, (length + ValuesPerCiphertext - 1) / ValuesPerCiphertext);

    /// <summary>Encodes <paramref name="values"/> into <see cref="CiphertextCount"/> plaintexts (zero-padded).</summary>
    public Plaintext[] Pack(ReadOnlySpan<double> values)
    {
        int count = CiphertextCount(values.Length);
        var result = new Plaintext[count];
        for (int c = 0; c < count; c++)
        {
            var chunk = values.Slice(c * ValuesPerCiphertext, Math.Min(ValuesPerCiphertext, values.Length - (c * ValuesPerCiphertext)));
            Array.Clear(_slots);
            for (int k = 0; k < chunk.Length; k += 2)
            {
                _slots[k / 2] = new Complex(chunk[k], k + 1 < chunk.Length ? chunk[k + 1] : 0);
            }

            result[c] = _encoder.Encode(_slots, Level, _p.DefaultScale);
        }

        return result;
    }

    /// <summary>Encrypts the packed vector with the given (collective public key) encryptor.</summary>
    public Ciphertext[] Encrypt(ReadOnlySpan<double> values, Encryptor encryptor)
    {
        var plaintexts = Pack(values);
        var result = new Ciphertext[plaintexts.Length];
        for (int i = 0; i < plaintexts.Length; i++)
        {
            result[i] = encryptor.Encrypt(plaintexts[i]);
        }

        return result;
    }

    /// <summary>Decodes the first <paramref name="length"/> reals back from decrypted plaintexts.</summary>
    public double[] Unpack(IReadOnlyList<Plaintext> plaintexts, int length) => Unpack(plaintexts, length, logPrecision: null);

    /// <summary>
    /// Decodes for release: values rounded to 2^−<paramref name="logPrecision"/> (<see cref="CkksEncoder.DecodePublic"/>),
    /// as required for anything that leaves the custodians after threshold decryption.
    /// </summary>
    public double[] UnpackPublic(IReadOnlyList<Plaintext> plaintexts, int length, double logPrecision) => Unpack(plaintexts, length, logPrecision);

    private double[] Unpack(IReadOnlyList<Plaintext> plaintexts, int length, double? logPrecision)
    {
        if (plaintexts.Count < CiphertextCount(length))
        {
            throw new ArgumentException($"{length} values need {CiphertextCount(length)} plaintexts; got {plaintexts.Count}.");
        }

        var result = new double[length];
        var decoded = new Complex[_p.MaxSlots];
        double factor = logPrecision is { } p ? Math.Pow(2, p) : 0;
        for (int c = 0; c * ValuesPerCiphertext < length; c++)
        {
            _encoder.Decode(plaintexts[c], decoded);
            int baseIndex = c * ValuesPerCiphertext;
            for (int k = 0; k < ValuesPerCiphertext && baseIndex + k < length; k++)
            {
                double v = (k & 1) == 0 ? decoded[k / 2].Real : decoded[k / 2].Imaginary;
                result[baseIndex + k] = logPrecision is null ? v : Math.Round(v * factor) / factor;
            }
        }

        return result;
    }
}
