// Sample 03 — rotations, conjugation, and summing the slots of a ciphertext.
//
// Read samples 01 and 02 first. Additions and multiplications work slot by slot: slot i of the result
// depends only on slot i of the operands. To combine different slots — to add up a cohort that was packed
// one participant per slot — the slots have to move. CKKS moves them with automorphisms of the ring
// (X ↦ X^g for an odd "Galois element" g), each followed by a key switch that needs its own evaluation key:
//
//   Rotate(ct, k)     slot j of the result receives slot j + k (k < 0 rotates right). The rotation is cyclic
//                     over ALL N/2 slots, not over the values you encoded: with 8 values in 4096 slots, a
//                     left rotation by 1 pulls slot 8 — a zero — into slot 7, and a right rotation pulls
//                     slot 4095 into slot 0. Every step k needs a Galois key for k, generated from the secret
//                     key by KeyGenerator.GenerateRotationKeys. Steps without a key can be composed from steps
//                     with one (3 = 1 + 2), at the price of one key switch (a little noise and time) each.
//   Conjugate(ct)     replaces every slot by its complex conjugate. With real data it does nothing; with two
//                     real vectors packed as real and imaginary parts (z = a + i·b) it separates them again:
//                     a = (z + z̄)/2 and b = (z − z̄)/(2i).
//   InnerSum(ct, n)   adds n consecutive slots (n a power of two) with log2(n) rotations and additions, by
//                     doubling: add the vector rotated by 1, then by 2, by 4, … Slot 0 then holds
//                     slot 0 + … + slot n−1, which is how an encrypted cohort total or mean is computed.
//                     The keys it needs are CkksEvaluator.InnerSumRotations(n) = 1, 2, 4, …, n/2.
//
// Rotations cost no level (sample 02): the key switch adds a small error but does not change the scale.
// Galois keys are evaluation keys: the server holds them; they do not let it decrypt. They are large
// (one per step, each as big as the relinearization key), so generate only the steps a computation uses.

using System.Numerics;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Samples.Rotations;

public static class RotationsSample
{
    /// <summary>Cohort size of step 3; InnerSum needs a power of two, so the sum runs over the next one, 16.</summary>
    private const int CohortSize = 12;

    /// <summary>
    /// The moduli of <see cref="CkksParametersLiteral.LogN13LogQP200"/> at N = 2^11: NOT secure, smoke tests only.
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
        output.WriteLine("== Sample 03: rotations, conjugation and InnerSum ==");

        var parameters = CkksParameters.FromLiteral(small ? SmallInsecureLiteral : CkksParametersLiteral.LogN13LogQP200);
        int slots = parameters.MaxSlots;
        output.WriteLine($"Parameters: {parameters}{(small ? " (small, insecure test parameters)" : "")}");
        output.WriteLine($"  {slots} slots: rotations are cyclic over all of them");

        // ---- Keys: one Galois key per rotation step, plus one for conjugation ----------------------
        int innerSumCount = (int)BitOperations.RoundUpToPowerOf2(CohortSize);
        int[] steps = [.. CkksEvaluator.InnerSumRotations(innerSumCount), -1]; // 1, 2, 4, 8 and a right rotation
        using var keyGenerator = new KeyGenerator(parameters.Rlwe);
        using SecretKey secretKey = keyGenerator.GenerateSecretKey();
        IReadOnlyList<GaloisKey> galoisKeys = keyGenerator.GenerateRotationKeys(secretKey, steps, includeConjugation: true);
        output.WriteLine($"  Galois keys for rotation steps [{string.Join(", ", steps)}] and conjugation: elements [{string.Join(", ", galoisKeys.Select(k => k.GaloisElement))}]");

        var encoder = new CkksEncoder(parameters);
        using var encryptor = new Encryptor(parameters.Rlwe, keyGenerator.GeneratePublicKey(secretKey));
        var decryptor = new Decryptor(parameters.Rlwe, secretKey);
        var evaluator = new CkksEvaluator(parameters, new EvaluationKeySet(galoisKeys: galoisKeys));

        // ---- 1. Rotations ---------------------------------------------------------------------------
        // Daily steps (thousands) over eight days, one day per slot; slots 8…N/2−1 are zero.
        double[] dailySteps = [6.2, 8.1, 4.5, 10.3, 7.7, 9.0, 5.4, 12.1];
        double[] padded = new double[slots];
        dailySteps.CopyTo(padded, 0);
        Ciphertext stepsCt = encryptor.Encrypt(encoder.Encode(dailySteps));

        output.WriteLine();
        output.WriteLine("Step 1: rotations (slot j receives slot j + k)");
        Ciphertext left1 = evaluator.Rotate(stepsCt, 1);
        ReportRotation(output, "Rotate(x, 1): day 2 moves to slot 0, and the zero from slot 8 into slot 7", RotateLeft(padded, 1), encoder.Decode(decryptor.Decrypt(left1)));
        Ciphertext right1 = evaluator.Rotate(stepsCt, -1);
        ReportRotation(output, $"Rotate(x, -1): slot 0 receives slot {slots - 1} (a zero), day 8 moves to slot 8", RotateLeft(padded, -1), encoder.Decode(decryptor.Decrypt(right1)));

        // No key for 3: the evaluator says so; composing 1 and 2 gives the same rotation.
        try
        {
            evaluator.Rotate(stepsCt, 3);
        }
        catch (OperandMismatchException e)
        {
            output.WriteLine($"    Rotate(x, 3): {nameof(OperandMismatchException)}: {e.Message}");
        }

        Ciphertext left3 = evaluator.Rotate(evaluator.Rotate(stepsCt, 1), 2);
        ReportRotation(output, "Rotate(Rotate(x, 1), 2) = rotation by 3, from the keys we have", RotateLeft(padded, 3), encoder.Decode(decryptor.Decrypt(left3)));

        // ---- 2. Conjugation: two real vectors in one ciphertext -------------------------------------
        // Systolic pressure in the real parts, diastolic in the imaginary parts: one ciphertext instead of two.
        double[] systolic = [118, 131, 109, 142, 125, 120, 128, 150];
        double[] diastolic = [76, 84, 70, 91, 80, 79, 83, 97];
        Complex[] pressures = [.. systolic.Select((s, i) => new Complex(s, diastolic[i]))];
        Ciphertext pressuresCt = encryptor.Encrypt(encoder.Encode(pressures));
        Ciphertext conjugated = evaluator.Conjugate(pressuresCt);

        // a = (z + z̄)·(1/2): real. b = (z − z̄)·(−i/2): also real. MultiplyConstant takes complex constants.
        Ciphertext systolicCt = evaluator.Add(pressuresCt, conjugated);
        evaluator.MultiplyConstantInPlace(systolicCt, 0.5);
        evaluator.RescaleInPlace(systolicCt);
        Ciphertext diastolicCt = evaluator.Sub(pressuresCt, conjugated);
        evaluator.MultiplyConstantInPlace(diastolicCt, new Complex(0, -0.5));
        evaluator.RescaleInPlace(diastolicCt);

        output.WriteLine();
        output.WriteLine("Step 2: conjugation separates z = systolic + i·diastolic");
        Complex[] conjugatedDecoded = encoder.DecodeComplex(decryptor.Decrypt(conjugated));
        output.WriteLine($"    z[0] = {pressures[0].Real} + {pressures[0].Imaginary}i, conj(z)[0] decrypts to {conjugatedDecoded[0].Real:F6} {conjugatedDecoded[0].Imaginary:+0.000000;-0.000000}i");
        SampleReport.PrintComparison(output, "(z + conj z)/2 = systolic", systolic, encoder.Decode(decryptor.Decrypt(systolicCt)), show: 4);
        SampleReport.PrintComparison(output, "(z − conj z)/2i = diastolic", diastolic, encoder.Decode(decryptor.Decrypt(diastolicCt)), show: 4);

        // ---- 3. InnerSum: an encrypted cohort total and mean -----------------------------------------
        // LDL cholesterol (mg/dL) of a cohort of 12, one participant per slot. InnerSum needs a power of two,
        // so it sums 16 slots; slots 12…15 are zero and do not change the total. The mean divides by 12.
        double[] ldl = [131, 162, 98, 145, 177, 120, 139, 188, 104, 156, 143, 112];
        Ciphertext ldlCt = encryptor.Encrypt(encoder.Encode(ldl));
        Ciphertext total = evaluator.InnerSum(ldlCt, innerSumCount);
        Ciphertext mean = evaluator.MultiplyConstant(total, 1.0 / CohortSize);
        evaluator.RescaleInPlace(mean);

        double[] totalDecoded = encoder.Decode(decryptor.Decrypt(total));
        double[] meanDecoded = encoder.Decode(decryptor.Decrypt(mean));
        double expectedTotal = ldl.Sum();
        output.WriteLine();
        output.WriteLine($"Step 3: InnerSum(x, {innerSumCount}) over a cohort of {CohortSize} ({BitOperations.Log2((uint)innerSumCount)} rotations and additions), then × 1/{CohortSize}");
        output.WriteLine($"    slot 0 of the sum:  expected {expectedTotal,10:F4}  decrypted {totalDecoded[0],16:F8}");
        output.WriteLine($"    slot 1 holds slots 1…16: expected {expectedTotal - ldl[0],10:F4}  decrypted {totalDecoded[1],16:F8} (only slot 0 is the cohort total)");
        SampleReport.PrintPrecision(output, [expectedTotal], totalDecoded);
        output.WriteLine($"    slot 0 of the mean: expected {expectedTotal / CohortSize,10:F4}  decrypted {meanDecoded[0],16:F8}  (level {mean.Level})");
        SampleReport.PrintPrecision(output, [expectedTotal / CohortSize], meanDecoded);

        output.WriteLine();
        output.WriteLine("Done.");
    }

    /// <summary>The plaintext model of Rotate: result[j] = values[(j + k) mod n].</summary>
    private static double[] RotateLeft(double[] values, int k)
    {
        int n = values.Length;
        return [.. Enumerable.Range(0, n).Select(j => values[(((j + k) % n) + n) % n])];
    }

    private static void ReportRotation(TextWriter output, string title, double[] expected, double[] decrypted)
    {
        SampleReport.PrintComparison(output, title, expected, decrypted, show: 9);
        int last = expected.Length - 1;
        output.WriteLine($"    slot {last}: expected {expected[last]:F6}, decrypted {decrypted[last]:F10}");
    }
}
