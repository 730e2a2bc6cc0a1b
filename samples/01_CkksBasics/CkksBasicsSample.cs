// Sample 01 — CKKS basics: encode, encrypt, add, multiply, decrypt.
//
// CKKS (Cheon–Kim–Kim–Song) is a homomorphic encryption scheme for approximate arithmetic on real (or
// complex) numbers. It is the scheme PrivateHealth uses to add up and multiply health measurements that
// nobody but the key holders can read.
//
// The pieces, in the order this sample uses them:
//
//   Parameters   A ring degree N and a chain of primes Q = q_0·q_1·…·q_L, plus special primes P used only
//                inside key switching. N fixes how many numbers one ciphertext holds (N/2 "slots") and,
//                with log2(Q·P), the security level. The presets in CkksParametersLiteral are 128-bit secure;
//                CkksParameters.FromLiteral checks a literal and builds every precomputed table once.
//   Encoding     A vector of up to N/2 real numbers becomes one plaintext polynomial. The numbers are
//                multiplied by a scale Δ (here 2^40) and rounded to integers, so that 40 bits after the
//                binary point survive. Encoding is the first, tiny, approximation.
//   Encryption   The public key encrypts a plaintext into a ciphertext: two polynomials that look random
//                without the secret key. Encryption adds a small random error; that error is what makes
//                CKKS secure, and the second approximation.
//   Evaluation   The evaluator adds and multiplies ciphertexts slot by slot (SIMD: one operation works on all
//                N/2 slots at once). Multiplying two ciphertexts multiplies their scales (Δ·Δ) and gives a
//                three-part ciphertext; relinearization (with the relinearization key) brings it back to two
//                parts, and rescaling divides by the last prime q_L to bring the scale back near Δ, using up
//                one "level" of the chain (sample 02 is about levels).
//   Decryption   Only the secret-key holder can decrypt; decoding divides by the scale and returns numbers
//                close to, not equal to, the plaintext result. We therefore report precision in bits:
//                −log2 of the largest error. 20 bits means right to about one millionth.
//
// The health example: eight participants measured their resting heart rate on three days and their
// systolic blood pressure once. Each day is one ciphertext whose slot i belongs to participant i. We compute,
// without decrypting anything on the way:
//   - each participant's mean heart rate over the three days (two additions, one multiplication by 1/3), and
//   - the rate–pressure product, mean heart rate × systolic pressure (a ciphertext–ciphertext multiplication),
//     an index of how hard the heart works.
//
// In PrivateHealth no single party holds the secret key (it is split among custodians; later samples show
// how). Here one process plays every role so that the arithmetic is easy to follow.

using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Samples.CkksBasics;

public static class CkksBasicsSample
{
    /// <summary>
    /// The same moduli as <see cref="CkksParametersLiteral.LogN13LogQP200"/> at N = 2^11: four times faster, and
    /// NOT secure (log2 QP = 200 is far above the 54 bits allowed at N = 2^11). Only the smoke tests use it.
    /// </summary>
    public static CkksParametersLiteral SmallInsecureLiteral { get; } = new()
    {
        LogN = 11,
        LogQ = [60, 40, 40],
        LogP = [60],
        LogDefaultScale = 40,
        InsecureForTestingOnly = true,
    };

    /// <summary>Runs the sample, writing its narrative and results to <paramref name="output"/>.</summary>
    /// <param name="output">Where to print (Console.Out from Program).</param>
    /// <param name="small">Use <see cref="SmallInsecureLiteral"/> instead of the real preset (tests only).</param>
    public static void Run(TextWriter output, bool small = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine("== Sample 01: CKKS basics ==");

        // ---- 1. Parameters ------------------------------------------------------------------------
        // LogN13LogQP200: N = 8192 (4096 slots), Q = [60, 40, 40] bits, P = [60] bits, Δ = 2^40.
        // The 60-bit q_0 keeps 20 bits of room above Δ for the integer part of the results; each 40-bit
        // prime pays for one rescale, so two multiplications in a row are possible.
        CkksParametersLiteral literal = CkksParametersLiteral.LogN13LogQP200;
        if (small)
        {
            literal = SmallInsecureLiteral;
        }

        var parameters = CkksParameters.FromLiteral(literal);
        output.WriteLine($"Parameters: {parameters}");
        output.WriteLine($"  {parameters.MaxSlots} slots per ciphertext, levels {parameters.MaxLevel}..0, default scale {SampleReport.Log2(parameters.DefaultScale)}");
        if (small)
        {
            output.WriteLine("  (small, insecure test parameters: never use them for real data)");
        }

        // ---- 2. Keys and tools --------------------------------------------------------------------
        // The secret key decrypts; the public key encrypts; the relinearization key lets the evaluator turn
        // the three-part product of two ciphertexts back into two parts. Evaluation keys are public: the
        // server that computes holds them, and they do not let it decrypt.
        using var keyGenerator = new KeyGenerator(parameters.Rlwe);
        using SecretKey secretKey = keyGenerator.GenerateSecretKey();
        PublicKey publicKey = keyGenerator.GeneratePublicKey(secretKey);
        RelinearizationKey relinearizationKey = keyGenerator.GenerateRelinearizationKey(secretKey);

        var encoder = new CkksEncoder(parameters);
        using var encryptor = new Encryptor(parameters.Rlwe, publicKey);
        var decryptor = new Decryptor(parameters.Rlwe, secretKey);
        var evaluator = new CkksEvaluator(parameters, new EvaluationKeySet(relinearizationKey));

        // ---- 3. Encoding alone is already approximate ---------------------------------------------
        // Resting heart rate (beats per minute) on three days; slot i is participant i.
        // The remaining slots (up to N/2) are zero.
        double[] monday = [62, 71, 58, 80, 67, 74, 69, 90];
        double[] tuesday = [64, 69, 60, 84, 65, 73, 72, 88];
        double[] wednesday = [61, 72, 57, 79, 66, 77, 70, 93];

        output.WriteLine();
        output.WriteLine("Step 1: encode and decode without encrypting (rounding to multiples of 1/Δ):");
        SampleReport.PrintComparison(output, "Monday's heart rates", monday, encoder.Decode(encoder.Encode(monday)), actualLabel: "decoded");

        // ---- 4. Encrypt ---------------------------------------------------------------------------
        // Encode(values) encodes at the top level and the default scale; Encrypt keeps both.
        Ciphertext mondayCt = encryptor.Encrypt(encoder.Encode(monday));
        Ciphertext tuesdayCt = encryptor.Encrypt(encoder.Encode(tuesday));
        Ciphertext wednesdayCt = encryptor.Encrypt(encoder.Encode(wednesday));
        output.WriteLine();
        output.WriteLine($"Step 2: encrypted each day: level {mondayCt.Level}, scale {SampleReport.Log2(mondayCt.Scale)}, {mondayCt.Size} polynomials of {parameters.N} coefficients per prime");

        // ---- 5. Add, then multiply by a constant --------------------------------------------------
        // Additions cost no level and add the errors. MultiplyConstant encodes 1/3 at the scale of the last
        // prime q_ℓ, so the rescale that follows removes exactly that factor and the mean is back at Δ.
        // Mean heart rate per participant: (Mon + Tue + Wed) × 1/3.
        Ciphertext sum = evaluator.Add(mondayCt, tuesdayCt);
        evaluator.AddInPlace(sum, wednesdayCt);
        Ciphertext mean = evaluator.MultiplyConstant(sum, 1.0 / 3);
        evaluator.RescaleInPlace(mean);
        double[] meanDecoded = encoder.Decode(decryptor.Decrypt(mean));

        double[] expectedMean = [.. Enumerable.Range(0, monday.Length).Select(i => (monday[i] + tuesday[i] + wednesday[i]) / 3)];
        output.WriteLine();
        output.WriteLine($"Step 3: mean heart rate over three days = (Mon + Tue + Wed) × 1/3, then rescale → level {mean.Level}, scale {SampleReport.Log2(mean.Scale)}");
        SampleReport.PrintComparison(output, "mean heart rate (bpm)", expectedMean, meanDecoded);

        // ---- 6. Multiply two ciphertexts ----------------------------------------------------------
        // Both operands must be at the same level: the fresh pressure ciphertext is one level above the
        // mean, so DropLevel discards its last prime first (cheap, no error). MultiplyRelinearize gives scale
        // Δ·Δ; the rescale divides by q_1 ≈ 2^40 and leaves level 0, where no further multiplication fits.
        // Rate–pressure product: mean heart rate × systolic pressure.
        double[] systolic = [118, 131, 109, 142, 125, 120, 128, 150];
        Ciphertext systolicCt = encryptor.Encrypt(encoder.Encode(systolic));
        evaluator.DropLevelInPlace(systolicCt, mean.Level);
        Ciphertext ratePressure = evaluator.MultiplyRelinearize(mean, systolicCt);
        output.WriteLine();
        output.WriteLine($"Step 4: rate–pressure product = mean heart rate × systolic pressure: scale after the product {SampleReport.Log2(ratePressure.Scale)}");
        evaluator.RescaleInPlace(ratePressure);
        double[] ratePressureDecoded = encoder.Decode(decryptor.Decrypt(ratePressure));

        double[] expectedRatePressure = [.. expectedMean.Select((m, i) => m * systolic[i])];
        output.WriteLine($"  after the rescale: level {ratePressure.Level}, scale {SampleReport.Log2(ratePressure.Scale)}");
        SampleReport.PrintComparison(output, "rate–pressure product (bpm × mmHg)", expectedRatePressure, ratePressureDecoded);

        // The products are about 10^4, so the same relative accuracy leaves fewer bits after the binary
        // point than the means had: precision here is absolute, and large values spend bits on their
        // integer part.
        output.WriteLine();
        output.WriteLine("Done: every value was computed on ciphertexts; only the final results were decrypted.");
    }
}
