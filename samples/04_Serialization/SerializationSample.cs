// Sample 04 — serialization: ciphertexts and keys on the wire, and bytes that do not belong.
//
// Read samples 01–03 first. In PrivateHealth nothing is computed where it is encrypted: a participant's device
// encrypts and uploads, the coordinator stores and adds up, and the key holders decrypt somewhere else. Every
// object therefore crosses a network or sits in storage as bytes, and CkksSerializer defines those bytes:
//
//   header (72 bytes)   magic "PHHE", format version, object kind, flags, total length, the 32-byte id of the
//                       parameter set, level, number of polynomials, scale, and a Galois element for Galois keys;
//   body                the polynomials, prime by prime, each coefficient packed at the bit width of its prime
//                       (a 40-bit prime takes 40 bits, not 64);
//   digest (32 bytes)   SHA-256 of everything before it.
//
// Reading is defensive, because participants may be malicious: the header is checked before anything is
// allocated (kind, parameter id, level, sizes, and that the declared length matches both the metadata and the
// input), then the digest, then every coefficient. Each failure is a HomomorphicFormatException whose Error says
// which check failed. The parameter-set id is the important one: a ciphertext is only meaningful under the exact
// parameters it was made with, and the id — a hash of every field of the literal, even the default scale — makes
// a mismatch an error instead of garbage.
//
// Sizes matter at scale (thousands of uploads per job), so the sample prints them: bit packing; secret-key
// ciphertexts whose uniform half is replaced by the 32-byte seed it was generated from (half size); lower levels
// (fewer primes, smaller); and keys, which are much larger than ciphertexts. The digest doubles as a content id for
// storing blobs and detecting replays.
//
// The scenario uses Set A, AggregationLogN13LogQP216, the preset for aggregation: each participant uploads one
// ciphertext encoding [1, resting heart rate, its square, one-hot heart-rate band]; the coordinator adds the
// uploads; the key holder decrypts the sums — count, Σx, Σx², and a histogram — from which mean and variance follow.

using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;

namespace PrivateHealth.Samples.Serialization;

public static class SerializationSample
{
    /// <summary>Upper bounds of the heart-rate bands of the histogram (bpm); the last band is open.</summary>
    private static readonly double[] BandUpperBounds = [60, 70, 80];

    /// <summary>
    /// The moduli and scale of <see cref="CkksParametersLiteral.AggregationLogN13LogQP216"/> at N = 2^11: NOT
    /// secure, smoke tests only.
    /// </summary>
    public static CkksParametersLiteral SmallInsecureLiteral { get; } = new()
    {
        LogN = 11,
        LogQ = [60, 56, 40],
        LogP = [60],
        LogDefaultScale = 70,
        InsecureForTestingOnly = true,
    };

    /// <summary>Runs the sample, writing its narrative and results to <paramref name="output"/>.</summary>
    /// <param name="output">Where to print (Console.Out from Program).</param>
    /// <param name="small">Use <see cref="SmallInsecureLiteral"/> instead of the real preset (tests only).</param>
    public static void Run(TextWriter output, bool small = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine("== Sample 04: serialization ==");

        // ---- 1. The key holder publishes the parameters and the public key -------------------------
        CkksParametersLiteral literal = small ? SmallInsecureLiteral : CkksParametersLiteral.AggregationLogN13LogQP216;
        var parameters = CkksParameters.FromLiteral(literal);
        output.WriteLine($"Parameters: {parameters}{(small ? " (small, insecure test parameters)" : "")}");

        using var keyGenerator = new KeyGenerator(parameters.Rlwe);
        using SecretKey secretKey = keyGenerator.GenerateSecretKey();
        var serializer = new CkksSerializer(parameters);
        byte[] parametersBytes = CkksSerializer.SerializeParameters(parameters);
        byte[] publicKeyBytes = serializer.Serialize(keyGenerator.GeneratePublicKey(secretKey));
        output.WriteLine();
        output.WriteLine("Step 1: the key holder publishes");
        output.WriteLine($"    parameters  {parametersBytes.Length,10:N0} bytes (the resolved literal: explicit primes, scale, error distribution)");
        output.WriteLine($"    public key  {publicKeyBytes.Length,10:N0} bytes (2 polynomials over Q·P)");

        // ---- 2. Each participant rebuilds them from bytes, encrypts and uploads ---------------------
        // Deserializing parameters recomputes the id from the fields and checks it against the header, so the
        // device knows it encrypts under exactly the published set.
        var deviceParameters = CkksSerializer.DeserializeParameters(parametersBytes);
        var deviceSerializer = new CkksSerializer(deviceParameters);
        var deviceEncoder = new CkksEncoder(deviceParameters);
        using var deviceEncryptor = new Encryptor(deviceParameters.Rlwe, deviceSerializer.DeserializePublicKey(publicKeyBytes));
        output.WriteLine();
        output.WriteLine($"Step 2: participants rebuild the parameters from bytes: id {deviceParameters.Id.ToString()[..16]}… (same as the key holder's: {deviceParameters.Id == parameters.Id})");

        double[] restingHeartRates = [58, 64, 71, 77, 83, 66];
        var uploads = new List<byte[]>();
        foreach (double heartRate in restingHeartRates)
        {
            Ciphertext record = deviceEncryptor.Encrypt(deviceEncoder.Encode(EncodeRecord(heartRate)));
            uploads.Add(deviceSerializer.Serialize(record));
        }

        output.WriteLine($"    {uploads.Count} uploads of {uploads[0].Length:N0} bytes each (one ciphertext per participant)");

        // ---- 3. What the bytes cost ------------------------------------------------------------------
        var unpacked = new CkksSerializer(parameters, bitPack: false);
        Ciphertext sample = serializer.DeserializeCiphertext(uploads[0]);
        using var secretEncryptor = new Encryptor(parameters.Rlwe, secretKey);
        Ciphertext seeded = secretEncryptor.Encrypt(deviceEncoder.Encode(EncodeRecord(70)));
        var evaluator = new CkksEvaluator(parameters);
        output.WriteLine();
        output.WriteLine("Step 3: sizes");
        output.WriteLine($"    ciphertext, level {sample.Level}, bit-packed (default)   {serializer.Serialize(sample).Length,10:N0} bytes");
        output.WriteLine($"    ciphertext, level {sample.Level}, 64-bit words           {unpacked.Serialize(sample).Length,10:N0} bytes");
        output.WriteLine($"    ciphertext, level 0, bit-packed             {serializer.Serialize(evaluator.DropLevel(sample, 0)).Length,10:N0} bytes (fewer primes)");
        output.WriteLine($"    secret-key ciphertext, c1 as a seed        {serializer.Serialize(seeded).Length,10:N0} bytes (about half: only the key holders can make these)");
        output.WriteLine($"    relinearization key                        {serializer.Serialize(keyGenerator.GenerateRelinearizationKey(secretKey)).Length,10:N0} bytes (one pair of polynomials over Q·P per prime of Q)");

        // ---- 4. The coordinator: peek, address, validate, add --------------------------------------
        // ReadHeader looks at the 72 header bytes only; ContentId verifies the digest and returns it as the
        // blob's address (the same upload sent twice has the same id, so a replay is easy to spot).
        ObjectHeader header = CkksSerializer.ReadHeader(uploads[0]);
        output.WriteLine();
        output.WriteLine("Step 4: the coordinator receives the uploads");
        output.WriteLine($"    header: {header.Kind}, flags {header.Flags}, level {header.Level}, {header.Components} polynomials, scale {SampleReport.Log2(header.Scale)}, {header.TotalLength:N0} bytes, parameters {header.ParametersId.ToString()[..16]}…");
        output.WriteLine($"    content id of upload 0: {Convert.ToHexStringLower(CkksSerializer.ContentId(uploads[0]))[..16]}…");

        Ciphertext aggregate = serializer.DeserializeCiphertext(uploads[0]);
        foreach (byte[] upload in uploads.Skip(1))
        {
            evaluator.AddInPlace(aggregate, serializer.DeserializeCiphertext(upload));
        }

        byte[] aggregateBytes = serializer.Serialize(aggregate);
        output.WriteLine($"    added {uploads.Count} ciphertexts; the aggregate goes to the key holder as {aggregateBytes.Length:N0} bytes");

        // ---- 5. The key holder decrypts the aggregate ------------------------------------------------
        var decryptor = new Decryptor(parameters.Rlwe, secretKey);
        var encoder = new CkksEncoder(parameters);
        double[] sums = encoder.Decode(decryptor.Decrypt(serializer.DeserializeCiphertext(aggregateBytes)))[..RecordLength];
        double[] expectedSums = new double[RecordLength];
        foreach (double heartRate in restingHeartRates)
        {
            double[] record = EncodeRecord(heartRate);
            for (int i = 0; i < RecordLength; i++)
            {
                expectedSums[i] += record[i];
            }
        }

        output.WriteLine();
        output.WriteLine("Step 5: the key holder decrypts [count, Σx, Σx², band <60, 60–70, 70–80, ≥80]");
        SampleReport.PrintComparison(output, "aggregate", expectedSums, sums);
        double count = sums[0];
        double mean = sums[1] / count;
        double variance = (sums[2] / count) - (mean * mean);
        output.WriteLine($"    cohort: n = {count:F3}, mean {mean:F3} bpm, standard deviation {Math.Sqrt(variance):F3} bpm (plaintext: mean {restingHeartRates.Average():F3})");

        // ---- 6. Bytes that do not belong ------------------------------------------------------------
        output.WriteLine();
        output.WriteLine("Step 6: rejected inputs (HomomorphicFormatException.Error names the failed check)");
        byte[] flipped = (byte[])uploads[1].Clone();
        flipped[CkksSerializer.HeaderSize + 1000] ^= 0x01;
        TryAndReport(output, "one bit flipped in the body", () => serializer.DeserializeCiphertext(flipped));
        TryAndReport(output, "upload cut short", () => serializer.DeserializeCiphertext(uploads[1].AsSpan(0, uploads[1].Length - 100)));
        TryAndReport(output, "a public key sent as a ciphertext", () => serializer.DeserializeCiphertext(publicKeyBytes));

        // A node configured with other parameters — here only the default scale differs — refuses the upload
        // instead of decoding it as garbage.
        var otherParameters = CkksParameters.FromLiteral(literal with { LogDefaultScale = literal.LogDefaultScale - 1 });
        output.WriteLine($"    (other parameters: {otherParameters})");
        TryAndReport(output, "an upload read under other parameters", () => new CkksSerializer(otherParameters).DeserializeCiphertext(uploads[1]));

        output.WriteLine();
        output.WriteLine("Done.");
    }

    /// <summary>Slots of one record: 1, x, x², and one slot per heart-rate band.</summary>
    private static int RecordLength => 3 + BandUpperBounds.Length + 1;

    /// <summary>A participant's record as the slots of one plaintext: [1, x, x², one-hot band of x].</summary>
    private static double[] EncodeRecord(double heartRate)
    {
        var record = new double[RecordLength];
        record[0] = 1;
        record[1] = heartRate;
        record[2] = heartRate * heartRate;
        int band = BandUpperBounds.Count(upper => heartRate >= upper);
        record[3 + band] = 1;
        return record;
    }

    private static void TryAndReport(TextWriter output, string what, Action read)
    {
        try
        {
            read();
            output.WriteLine($"    {what}: accepted (unexpected)");
        }
        catch (HomomorphicFormatException e)
        {
            output.WriteLine($"    {what}: {e.Error}: {e.Message}");
        }
    }
}
