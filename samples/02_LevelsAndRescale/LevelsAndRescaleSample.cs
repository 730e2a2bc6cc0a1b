// Sample 02 — levels, scales, rescaling, and why operands must match.
//
// Read sample 01 first. This sample is about the two numbers every CKKS ciphertext carries besides its
// polynomials: its level and its scale. Most errors people meet with CKKS come from them.
//
// Level. The ciphertext modulus is a chain of primes Q = q_0·q_1·…·q_L. A fresh ciphertext lives modulo all
//   of them (level L); a ciphertext at level ℓ lives modulo q_0…q_ℓ. Levels only go down:
//     - Rescale divides the ciphertext (and its scale) by its last prime q_ℓ and moves it to level ℓ − 1.
//     - DropLevel simply forgets primes, keeping the scale: it is how you bring a higher operand down to
//       the level of a lower one. It adds no error and costs nothing.
//   At level 0 nothing is left to divide by, so the number of levels is the number of multiplications in a
//   row ("multiplicative depth") a parameter set allows. LogN13LogQP200 has Q = [60, 40, 40] bits: levels
//   2, 1, 0, hence depth 2. Lower levels are also cheaper: fewer primes, smaller ciphertexts.
//
// Scale. A value v is stored as round(v·Δ). Multiplying two ciphertexts multiplies their scales: Δ·Δ = 2^80.
//   Another product would need 2^160 of room, more than Q has, so after each multiplication we rescale by
//   q_ℓ ≈ 2^40 and the scale comes back to Δ²/q_ℓ — close to 2^40, but not exactly, because q_ℓ is a
//   prime and not a power of two. The library tracks the exact scale of every ciphertext, so decryption is
//   right whatever the scale is.
//
// Matching. The evaluator refuses (with OperandMismatchException) to add operands at different levels or
//   with different scales, because the sum would be silently wrong: a·Δ + b·Δ' is not (a + b) at any
//   single scale. Multiplication needs equal levels but accepts any scales (they multiply).
//
// The sample evaluates p(x) = 0.5·x³ + x on encrypted values, first the obvious way, which ends in a scale
// mismatch, then two ways out:
//   - SEAL's shortcut: overwrite the scale with the one it nearly equals. This costs a small relative error
//     (Δ²/q and Δ differ by about one part in a million for these primes), so some precision is lost;
//   - exact scale management: rewrite the polynomial so that additions only meet operands whose scales
//     agree by construction, here p(x) = (0.5·x)·(x² + 2). AddConstant encodes the constant at the
//     ciphertext's own scale, so it never mismatches.

using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Samples.LevelsAndRescale;

public static class LevelsAndRescaleSample
{
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
        output.WriteLine("== Sample 02: levels, scales and rescaling ==");

        var parameters = CkksParameters.FromLiteral(small ? SmallInsecureLiteral : CkksParametersLiteral.LogN13LogQP200);
        output.WriteLine($"Parameters: {parameters}{(small ? " (small, insecure test parameters)" : "")}");
        output.WriteLine("  The modulus chain (a ciphertext at level ℓ uses q_0…q_ℓ; a rescale at level ℓ divides by q_ℓ):");
        for (int i = 0; i < parameters.Q.Count; i++)
        {
            ulong q = parameters.Q[i];
            output.WriteLine($"    q_{i} = {q,20}  ≈ 2^{Math.Log2(q):0.#######}");
        }

        using var keyGenerator = new KeyGenerator(parameters.Rlwe);
        using SecretKey secretKey = keyGenerator.GenerateSecretKey();
        var encoder = new CkksEncoder(parameters);
        using var encryptor = new Encryptor(parameters.Rlwe, keyGenerator.GeneratePublicKey(secretKey));
        var decryptor = new Decryptor(parameters.Rlwe, secretKey);
        var evaluator = new CkksEvaluator(parameters, new EvaluationKeySet(keyGenerator.GenerateRelinearizationKey(secretKey)));

        // Sixteen standardized values in [−1, 1] (say, z-scores of a biomarker divided by 3).
        double[] x = [.. Enumerable.Range(0, 16).Select(i => -1 + (2.0 * i / 15))];
        double[] Decrypt(Ciphertext ct) => encoder.Decode(decryptor.Decrypt(ct))[..x.Length];
        void Describe(string name, Ciphertext ct) =>
            output.WriteLine($"    {name,-28} level {ct.Level}, scale {SampleReport.Log2(ct.Scale)}, {ct.Size} polynomials");

        // ---- 1. A fresh ciphertext sits at the top level and the default scale --------------------
        Ciphertext xCt = encryptor.Encrypt(encoder.Encode(x));
        output.WriteLine();
        output.WriteLine("Step 1: encrypt x");
        Describe("x", xCt);

        // ---- 2. Multiplication multiplies the scales; rescaling divides by the last prime ----------
        Ciphertext xSquared = evaluator.Multiply(xCt, xCt);
        output.WriteLine();
        output.WriteLine("Step 2: multiply, relinearize, rescale");
        Describe("x·x", xSquared);
        evaluator.RelinearizeInPlace(xSquared);
        Describe("relinearized", xSquared);
        evaluator.RescaleInPlace(xSquared);
        Describe("rescaled (x²)", xSquared);
        output.WriteLine($"    the scale is now Δ²/q_2 = 2^80 / {parameters.Q[2]}: close to 2^40, not equal to it");
        SampleReport.PrintComparison(output, "x² at level 1", [.. x.Select(v => v * v)], Decrypt(xSquared), show: 4);

        // ---- 3. DropLevel forgets primes and keeps the scale --------------------------------------
        Ciphertext xAtLevel1 = evaluator.DropLevel(xCt, 1);
        output.WriteLine();
        output.WriteLine("Step 3: DropLevel(x, 1) removes q_2 without dividing: same values, same scale");
        Describe("x dropped to level 1", xAtLevel1);
        SampleReport.PrintPrecision(output, x, Decrypt(xAtLevel1));

        // ---- 4. What the evaluator refuses --------------------------------------------------------
        output.WriteLine();
        output.WriteLine("Step 4: operands that do not match are rejected with OperandMismatchException:");
        TryAndReport(output, "x² + x (levels 1 and 2)", () => evaluator.Add(xSquared, xCt));
        TryAndReport(output, "x² + x dropped to level 1 (scales Δ²/q_2 and Δ)", () => evaluator.Add(xSquared, xAtLevel1));
        Ciphertext atLevel0 = evaluator.DropLevel(xCt, 0);
        TryAndReport(output, "rescale at level 0", () => evaluator.Rescale(atLevel0));

        // ---- 5. p(x) = 0.5·x³ + x, the obvious way -------------------------------------------------
        // x³ needs depth 2 (x·x, then ·x), i.e. every level this chain has. 0.5 is multiplied into x first,
        // with MultiplyConstant: it encodes 0.5 at the scale q_2, so the rescale after it lands exactly on Δ.
        double[] expected = [.. x.Select(v => (0.5 * v * v * v) + v)];
        Ciphertext halfX = evaluator.MultiplyConstant(xCt, 0.5);
        evaluator.RescaleInPlace(halfX);                                    // level 1, scale exactly Δ
        Ciphertext halfCube = evaluator.MultiplyRelinearize(xSquared, halfX); // level 1, scale Δ²/q_2 · Δ
        evaluator.RescaleInPlace(halfCube);                                 // level 0, scale Δ³/(q_2·q_1)
        Ciphertext xAtLevel0 = evaluator.DropLevel(xCt, 0);                 // level 0, scale Δ
        output.WriteLine();
        output.WriteLine("Step 5: p(x) = 0.5·x³ + x by powers: x² · (0.5·x), then add x");
        Describe("0.5·x³", halfCube);
        Describe("x dropped to level 0", xAtLevel0);
        TryAndReport(output, "0.5·x³ + x", () => evaluator.Add(halfCube, xAtLevel0));

        // Way out A (SEAL's examples do this): declare that the scales are equal. They differ by the factor
        // below, and every decrypted value is off by that relative amount.
        double ratio = halfCube.Scale / xAtLevel0.Scale;
        output.WriteLine();
        output.WriteLine($"Step 6a: overwrite the scale (they differ by the factor {ratio:F12})");
        Ciphertext pretended = evaluator.DropLevel(halfCube, 0); // a copy, so that halfCube keeps its true scale
        pretended.Scale = xAtLevel0.Scale;
        Ciphertext shortcut = evaluator.Add(pretended, xAtLevel0);
        SampleReport.PrintComparison(output, "0.5·x³ + x, scale overwritten", expected, Decrypt(shortcut), show: 4);

        // Way out B: exact scale management. p(x) = (0.5·x)·(x² + 2): the constant 2 is added at x²'s own
        // scale (no mismatch possible), and the multiplication accepts any two scales. The result's scale is
        // exactly Δ²/q_2 · Δ / q_1, which the library has tracked all along, so nothing is lost.
        Ciphertext xSquaredPlusTwo = evaluator.AddConstant(xSquared, 2);
        Ciphertext factored = evaluator.MultiplyRelinearize(halfX, xSquaredPlusTwo);
        evaluator.RescaleInPlace(factored);
        output.WriteLine();
        output.WriteLine("Step 6b: exact scales: p(x) = (0.5·x)·(x² + 2)");
        Describe("(0.5·x)·(x² + 2)", factored);
        SampleReport.PrintComparison(output, "0.5·x³ + x, factored", expected, Decrypt(factored), show: 4);

        output.WriteLine();
        output.WriteLine("Both results are at level 0: this chain has no level left for another multiplication.");
        output.WriteLine("Done.");
    }

    private static void TryAndReport(TextWriter output, string what, Func<Ciphertext> operation)
    {
        try
        {
            operation();
            output.WriteLine($"    {what}: accepted (unexpected)");
        }
        catch (OperandMismatchException e)
        {
            output.WriteLine($"    {what}: {nameof(OperandMismatchException)}: {e.Message}");
        }
    }
}
