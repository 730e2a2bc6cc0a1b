// Sample 05 — a threshold key ceremony: five custodians, collective keys, and 3-of-5 decryption.
//
// Read samples 01–03 first. In PrivateHealth nobody holds the CKKS secret key. Five custodians each hold a
// piece of it; any three of them together can decrypt a result, and fewer learn nothing. This sample runs the
// whole ceremony in one process, in numbered phases (as Lattigo's multiparty examples do), so that every
// message can be followed. In production every custodian is a separate machine, shares travel over
// authenticated channels, and the coordinator only forwards and adds shares; the protocol classes
// (PublicKeyGenProtocol, …) have no I/O, which is why they run unchanged in one process.
//
// Additive shares. Custodian i samples its own small secret s_i, an ordinary secret key. The collective secret
//   is s = s_1 + … + s_5. It is never computed, anywhere: every key-holder operation is linear in s ("a·s + e"),
//   so each custodian computes its part with s_i (plus fresh noise), the coordinator adds the parts, and the sum
//   is what the owner of s would have computed. The collective public key (b, a) with b = −a·s + e is the
//   simplest case: for a common random polynomial a each custodian sends −a·s_i + e_i, and the sum is
//   −a·s + Σ e_i. The common polynomials ("CRPs") are expanded from a common reference string, a public random
//   seed, so that all parties derive the same a without sending it. A single share is itself an RLWE sample:
//   it looks uniformly random and reveals nothing about s_i.
//
// Why the key exists only as shares. Whoever holds s can decrypt every ciphertext ever made under the
//   collective key: every participant's data, for ever. With shares, no single breach, insider or order served
//   on one organisation can decrypt anything; it takes three of the five custodians acting together.
//
// Relinearization in two rounds. The relinearization key encrypts s² under s, and s² = (Σ s_i)² has cross terms
//   s_i·s_j that no custodian can compute alone. Round 1: each custodian sends an encryption of P·g·s_i under a
//   fresh ephemeral secret u_i, (−u_i·a + P·g·s_i + e, s_i·a + e'), and the coordinator adds them. Round 2: each
//   custodian multiplies the round-1 aggregate by its s_i and by (u_i − s_i), which replaces u = Σ u_i by s and
//   produces the s·s terms. u_i is as secret as s_i: kept between the rounds (EphemeralSecret), wiped with
//   Dispose after round 2 and never reused. The collective key is noisier than a single-key one (products of
//   secrets and errors), which is why Set B has a large P ≈ 2^106.
//
// Shamir re-sharing (t of n). With additive shares all five custodians must take part in every decryption:
//   one offline custodian blocks everything. Re-sharing turns them into a 3-of-5 sharing without a dealer.
//   Custodian i picks a random polynomial P_i(X) = s_i + r_1·X + r_2·X² (degree t − 1 = 2, uniform r_k in R_QP)
//   and sends P_i(j) privately to custodian j, whose Shamir share is sh_j = Σ_i P_i(j) = S(j) for S = Σ_i P_i;
//   S(0) = Σ s_i = s. Three points determine a polynomial of degree 2, so for an active set T of three custodians
//   s = Σ_{j∈T} λ_j·sh_j with the Lagrange coefficients λ_j = Π_{k∈T, k≠j} x_k/(x_k − x_j), e.g. 15/8, −5/4 and 3/8
//   for T = {1, 3, 5}, computed modulo every prime. Nobody interpolates s: each active custodian multiplies its
//   OWN share by its λ_j (Combiner) and gets an additive share of s for this active set, and the protocols above
//   run unchanged. λ goes on the secret share, never on a protocol output (it would multiply the noise). Two
//   points do not determine a degree-2 polynomial: two custodians' shares are consistent with every secret.
//
// Noise flooding. Decryption gives m + e, and e depends on s: from a ciphertext and its exact decryption anyone
//   can solve for s (Li–Micciancio, Eurocrypt 2021: CKKS is IND-CPA but not IND-CPA-D). A threshold decryption
//   publishes its result, and each decryption share (s_i·c1 + e_i) is seen by the coordinator. So every
//   custodian adds a wide Gaussian to its share — the full σ each, because one honest custodian's noise must
//   be enough — which drowns e, and the result is rounded to its guaranteed precision with DecodePublic.
//   NoiseFlooding.Default is Lattigo's σ = 2^30 (NoiseFlooding.ForCiphertextError sizes σ from a bound on the
//   ciphertext error, Li–Micciancio–Schultz–Sorrell, CRYPTO 2022). The price: the error per slot becomes about
//   σ·√(t·N/2)/Δ, roughly 22 bits more than a single-key decryption. Hence Set B's Δ = 2^57: about 17 bits of
//   precision are left after a 3-of-5 decryption at N = 2^14.
//
// One share per ciphertext. A custodian must never produce a second decryption or key-switching share for the
//   same ciphertext (nor a second key-generation share for the same CRP): not as a retry, not for another
//   active set. Each repeat leaks more (averaging shares shrinks the flooding) and published attacks recover the
//   key (Mouchet et al., ePrint 2024/194 and follow-ups). A failed decryption is abandoned, not retried; the
//   coordinator's ShareCollector refuses a second share from the same custodian, and custodians keep their own
//   record of what they have shared. In this sample every ciphertext is decrypted or re-encrypted at most once,
//   by one active set, in its own session.
//
// Details: SECURITY.md and shared/docs/he-reference.md §4.7–4.8 (threshold, flooding, retries) and §5.1
// (Li–Micciancio).

using System.Diagnostics;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Samples.ThresholdKeyCeremony;

public static class ThresholdKeyCeremonySample
{
    /// <summary>Number of custodians n; custodian j's Shamir point is j.</summary>
    private const int Custodians = 5;

    /// <summary>Custodians needed to decrypt (t).</summary>
    private const int Threshold = 3;

    /// <summary>
    /// Set B's moduli (<see cref="CkksParametersLiteral.QueryLogN14LogQP434"/>) at N = 2^11: NOT secure, smoke tests only.
    /// </summary>
    public static CkksParametersLiteral SmallInsecureLiteral { get; } = new()
    {
        LogN = 11,
        LogQ = [60, 40, 57, 57, 57, 57],
        LogP = [60, 46],
        LogDefaultScale = 57,
        InsecureForTestingOnly = true,
    };

    /// <summary>Runs the sample, writing its narrative and results to <paramref name="output"/>.</summary>
    /// <param name="output">Where to print (Console.Out from Program).</param>
    /// <param name="small">Use <see cref="SmallInsecureLiteral"/> instead of the real preset (tests only).</param>
    public static void Run(TextWriter output, bool small = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine($"== Sample 05: a threshold key ceremony ({Threshold}-of-{Custodians} custodians) ==");

        var parameters = CkksParameters.FromLiteral(small ? SmallInsecureLiteral : CkksParametersLiteral.QueryLogN14LogQP434);
        RlweParameters r = parameters.Rlwe;
        output.WriteLine($"Parameters: {parameters}{(small ? " (small, insecure test parameters)" : "")}");
        output.WriteLine($"  Set B: Δ = {SampleReport.Log2(parameters.DefaultScale)} leaves room for the flooding noise of threshold decryption; {r.DigitCountMax} key-switching digits");
        var total = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();

        // ---- Phase 1: the common reference string ---------------------------------------------------
        // A public random seed. Every common polynomial is expanded from SHA-256(seed ‖ session ‖ label ‖ index),
        // so all parties derive byte-identical polynomials, and a new session gives new ones.
        Phase(output, 1, "the coordinator publishes a common reference string");
        var crs = new CommonReferenceString(Prng.NewSeed());
        output.WriteLine($"  seed {Convert.ToHexStringLower(crs.Seed)[..16]}… (32 random bytes, public)");
        EndPhase(output, clock);

        // ---- Phase 2: additive secret shares -------------------------------------------------------
        Phase(output, 2, $"each of the {Custodians} custodians generates its additive secret share s_i");
        SecretKey[] secretShares;
        using (var keyGenerator = new KeyGenerator(r))
        {
            secretShares = [.. Enumerable.Range(0, Custodians).Select(_ => keyGenerator.GenerateSecretKey())];
        }

        output.WriteLine($"  custodians 1…{Custodians}: s_i ternary ({r.N} coefficients in {{−1, 0, 1}}), never leaves its machine");
        output.WriteLine($"  the collective secret s = s_1 + … + s_{Custodians} is never computed, anywhere");
        EndPhase(output, clock);

        // ---- Phase 3: collective public key (one round) ----------------------------------------------
        Phase(output, 3, "collective public key (one round)");
        PublicKey collectivePublicKey;
        using (var protocol = new PublicKeyGenProtocol(r))
        {
            var session = SessionId.FromName("ceremony/public-key");
            var crp = protocol.SampleCrp(crs, session); // every custodian expands the same a
            var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0), Custodians);
            Share? share = null;
            for (int i = 0; i < Custodians; i++)
            {
                share = protocol.AllocateShare(session, i + 1);
                protocol.GenerateShare(secretShares[i], crp, share); // custodian i+1: −a·s_i + e_i
                collector.Add(share);                                // coordinator: adds
            }

            collectivePublicKey = protocol.GenerateKey(collector.Aggregate, crp);
            output.WriteLine($"  {Custodians} shares −a·s_i + e_i ({Size(share!)} each) summed to b = −a·s + Σe_i; public key (b, a)");
        }

        EndPhase(output, clock);

        // ---- Phase 4: collective relinearization key (two rounds) -------------------------------------
        Phase(output, 4, "collective relinearization key (two rounds, with ephemeral secrets)");
        RelinearizationKey relinearizationKey;
        using (var protocol = new RelinearizationKeyGenProtocol(r))
        {
            var session = SessionId.FromName("ceremony/relinearization-key");
            var crp = protocol.SampleCrp(crs, session);
            var round1 = new ShareCollector(protocol, protocol.AllocateShare(session, 0, 1), Custodians);
            var ephemeral = new EphemeralSecret[Custodians];
            for (int i = 0; i < Custodians; i++)
            {
                var share = protocol.AllocateShare(session, i + 1, 1);
                ephemeral[i] = protocol.GenerateShareRound1(secretShares[i], crp, share); // keep u_i for round 2
                round1.Add(share);
            }

            output.WriteLine($"  round 1: {Custodians} shares of {round1.Aggregate.Polys.Length} polynomials ({Size(round1.Aggregate)} each); the coordinator sends back their sum");

            // Round 2 uses the same custodians and the same secret shares as round 1.
            var round2 = new ShareCollector(protocol, protocol.AllocateShare(session, 0, 2), Custodians);
            for (int i = 0; i < Custodians; i++)
            {
                var share = protocol.AllocateShare(session, i + 1, 2);
                protocol.GenerateShareRound2(secretShares[i], ephemeral[i], round1.Aggregate, share);
                ephemeral[i].Dispose(); // u_i is wiped: it must never be used again
                round2.Add(share);
            }

            relinearizationKey = protocol.GenerateKey(round1.Aggregate, round2.Aggregate);
            output.WriteLine($"  round 2: {Custodians} shares on the round-1 sum; ephemeral secrets u_i wiped; key for s² → s ready");
        }

        EndPhase(output, clock);

        // ---- Phase 5: collective Galois key for a rotation by 1 ----------------------------------------
        // One round, like the public key, per Galois element. InnerSum over n slots would need log2(n) of them;
        // one is enough here and keeps the ceremony short.
        Phase(output, 5, "collective Galois key for a rotation by 1 (one round)");
        GaloisKey rotationKey;
        using (var protocol = new GaloisKeyGenProtocol(r))
        {
            ulong element = r.GaloisElementForRotation(1);
            var session = SessionId.FromName($"ceremony/galois-key/{element}");
            var crp = protocol.SampleCrp(crs, session, element);
            var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0, element), Custodians);
            for (int i = 0; i < Custodians; i++)
            {
                var share = protocol.AllocateShare(session, i + 1, element);
                protocol.GenerateShare(secretShares[i], crp, share);
                collector.Add(share);
            }

            rotationKey = protocol.GenerateKey(collector.Aggregate, crp);
            output.WriteLine($"  Galois element {element}: {Custodians} shares of {collector.Aggregate.Polys.Length} polynomials ({Size(collector.Aggregate)} each)");
        }

        EndPhase(output, clock);

        // ---- Phase 6: 3-of-5 re-sharing (dealer-free Shamir) ----------------------------------------------
        Phase(output, 6, $"{Threshold}-of-{Custodians} re-sharing: every custodian deals its s_i to every custodian");
        SecretKey[] shamirShares = new SecretKey[Custodians]; // shamirShares[j - 1] belongs to custodian j (point j)
        using (var thresholdizer = new Thresholdizer(r))
        {
            var session = SessionId.FromName("ceremony/threshold");
            var received = Enumerable.Range(0, Custodians)
                .Select(j => new ShareCollector(thresholdizer, thresholdizer.AllocateShare(session, 0), Custodians))
                .ToArray();
            for (int i = 0; i < Custodians; i++)
            {
                // Custodian i+1: P_i(X) = s_i + r_1·X + r_2·X², then P_i(j) for every custodian j, sent privately to j.
                using ShamirPolynomial polynomial = thresholdizer.GeneratePolynomial(Threshold, secretShares[i]);
                for (int j = 1; j <= Custodians; j++)
                {
                    var share = thresholdizer.AllocateShare(session, i + 1);
                    thresholdizer.GenerateShare(polynomial, recipientPoint: (ulong)j, share);
                    received[j - 1].Add(share); // custodian j adds what it received
                }
            }

            for (int j = 1; j <= Custodians; j++)
            {
                shamirShares[j - 1] = thresholdizer.ToShamirShare(received[j - 1].Aggregate); // sh_j = Σ_i P_i(j) = S(j)
            }

            output.WriteLine($"  {Custodians}×{Custodians} private messages P_i(j), {Size(received[0].Aggregate)} each; custodian j keeps sh_j = S(j), where S(0) = s");
        }

        // From here on the custodians hold only their Shamir shares: the additive shares are wiped, so even all
        // five could no longer decrypt without the Lagrange step below.
        foreach (var secret in secretShares)
        {
            secret.Dispose();
        }

        output.WriteLine($"  additive shares s_i wiped; any {Threshold} custodians can now decrypt, {Threshold - 1} cannot");
        EndPhase(output, clock);

        // ---- Phase 7: participants encrypt, the coordinator computes ---------------------------------------
        // Four participants' daily steps (thousands) over one week, one ciphertext each, encrypted under the
        // collective public key: all a participant needs. The coordinator computes, per day, the cohort mean
        // (additions, × 1/n), the variance n²·Var = n·Σx² − (Σx)² (squares with relinearization, one rescale,
        // then × 1/n²), and the day-over-day change of the mean (the collective Galois key).
        Phase(output, 7, "participants encrypt under the collective public key; the coordinator computes");
        double[][] steps =
        [
            [6.2, 8.1, 4.5, 10.3, 7.7, 9.0, 5.4],
            [11.4, 9.8, 12.6, 8.9, 10.2, 13.5, 7.1],
            [3.9, 4.4, 5.1, 3.2, 6.0, 4.8, 2.7],
            [8.8, 7.5, 9.9, 11.2, 8.1, 6.6, 10.4],
        ];
        int n = steps.Length;
        int days = steps[0].Length;
        var encoder = new CkksEncoder(parameters);
        Ciphertext[] uploads;
        using (var encryptor = new Encryptor(r, collectivePublicKey))
        {
            uploads = [.. steps.Select(week => encryptor.Encrypt(encoder.Encode(week)))];
        }

        var evaluator = new CkksEvaluator(parameters, new EvaluationKeySet(relinearizationKey, [rotationKey]));
        Ciphertext sum = uploads[0];
        Ciphertext sumOfSquares = evaluator.MultiplyRelinearize(uploads[0], uploads[0]);
        for (int i = 1; i < n; i++)
        {
            sum = evaluator.Add(sum, uploads[i]);
            evaluator.AddInPlace(sumOfSquares, evaluator.MultiplyRelinearize(uploads[i], uploads[i]));
        }

        Ciphertext mean = evaluator.MultiplyConstant(sum, 1.0 / n);
        evaluator.RescaleInPlace(mean);

        // n·Σx² and (Σx)² are both at scale Δ² and the top level, so they subtract without any scale fix-up.
        Ciphertext variance = evaluator.Sub(evaluator.MultiplyByInteger(sumOfSquares, n), evaluator.MultiplyRelinearize(sum, sum));
        evaluator.RescaleInPlace(variance);
        evaluator.MultiplyConstantInPlace(variance, 1.0 / (n * n));
        evaluator.RescaleInPlace(variance);

        Ciphertext change = evaluator.Sub(evaluator.Rotate(mean, 1), mean); // slot d: mean[d + 1] − mean[d]

        double[] expectedMean = [.. Enumerable.Range(0, days).Select(d => steps.Average(week => week[d]))];
        double[] expectedVariance = [.. Enumerable.Range(0, days).Select(d => steps.Average(week => week[d] * week[d]) - (expectedMean[d] * expectedMean[d]))];
        double[] expectedChange = [.. Enumerable.Range(0, days - 1).Select(d => expectedMean[d + 1] - expectedMean[d])];
        output.WriteLine($"  {n} participants × {days} days uploaded ({n} ciphertexts); nobody but the custodians together can read them");
        output.WriteLine($"  mean per day at level {mean.Level}, variance per day at level {variance.Level}, day-over-day change at level {change.Level}");
        EndPhase(output, clock);

        // ---- Phase 8: threshold decryption by custodians 1, 3 and 5 ---------------------------------------
        Phase(output, 8, "custodians 2 and 4 are offline: custodians 1, 3 and 5 decrypt (flooded, then DecodePublic)");
        ulong[] active = [1, 3, 5];
        output.WriteLine($"  Lagrange coefficients for T = {{{string.Join(", ", active)}}}: {string.Join(", ", active.Select(p => $"λ_{p} = {LagrangeCoefficient(p, active)}"))} (sum 1), applied modulo every prime");
        double predictedBits = Math.Log2(parameters.DefaultScale) - Math.Log2(4.5 * NoiseFlooding.Default.Sigma * Math.Sqrt(Threshold * r.N / 2.0));
        int publishedBits = (int)Math.Floor(predictedBits) - 1;
        output.WriteLine($"  flooding: each custodian adds σ = {SampleReport.Log2(NoiseFlooding.Default.Sigma)}; expected ≈ {predictedBits:F1} bits = log2 Δ − log2(4.5·σ·√(t·N/2)); published at 2^-{publishedBits}");

        double[] publishedMean = new double[days];
        encoder.DecodePublic(ThresholdDecrypt(r, mean, active, shamirShares, Threshold, output), publishedMean, publishedBits);
        SampleReport.PrintComparison(output, "mean steps per day (thousands), published", expectedMean, publishedMean, show: days, actualLabel: "published");

        double[] publishedVariance = new double[days];
        encoder.DecodePublic(ThresholdDecrypt(r, variance, active, shamirShares, Threshold), publishedVariance, publishedBits);
        SampleReport.PrintComparison(output, "variance per day (thousands²), published", expectedVariance, publishedVariance, show: days, actualLabel: "published");
        EndPhase(output, clock);

        // ---- Phase 9: re-encryption to a researcher; what the rules refuse --------------------------------
        Phase(output, 9, "custodians 1, 3 and 5 re-encrypt the day-over-day change to a researcher's own key");
        using var researcherKeys = new KeyGenerator(r);
        using SecretKey researcherSecret = researcherKeys.GenerateSecretKey();
        PublicKey researcherPublic = researcherKeys.GeneratePublicKey(researcherSecret); // the researcher publishes only this
        Ciphertext forResearcher;
        using (var protocol = new PublicKeySwitchProtocol(r, NoiseFlooding.Default))
        {
            var session = SessionId.NewRandom(); // one session per ciphertext, never reused
            var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0, change.Level), active.Length, active.Select(p => (int)p).ToHashSet());
            foreach (ulong point in active)
            {
                using SecretKey additive = new Combiner(r, point, Threshold).GenerateAdditiveShare(active, shamirShares[point - 1]);
                var share = protocol.AllocateShare(session, (int)point, change.Level);
                protocol.GenerateShare(additive, researcherPublic, change, share);
                collector.Add(share);
                if (point == 3)
                {
                    // Custodian 3's share arrives a second time (a network retry). The coordinator refuses it: a second
                    // share from one custodian in one session is either a duplicate (adding it would corrupt the sum) or
                    // a freshly flooded second share for the same ciphertext, the repeat that enables key recovery.
                    try
                    {
                        collector.Add(share);
                    }
                    catch (ShareRejectedException e)
                    {
                        output.WriteLine($"  custodian 3's share again: {nameof(ShareRejectedException)}: {e.Message}");
                    }
                }
            }

            forResearcher = protocol.KeySwitch(change, collector.Aggregate);
        }

        // The researcher decrypts with its own secret key; nobody else can.
        double[] researcherView = new double[days - 1];
        encoder.Decode(new Decryptor(r, researcherSecret).Decrypt(forResearcher), researcherView);
        SampleReport.PrintComparison(output, "change of the mean from day d to day d + 1, decrypted by the researcher", expectedChange, researcherView, show: days - 1, actualLabel: "researcher");

        // Two custodians alone. The Combiner refuses an active set smaller than t; pretending t = 2 gives the
        // Lagrange coefficients of a line through two points, which is not the degree-2 polynomial S.
        // They try on the weekly sum, a ciphertext nobody has shared for yet.
        output.WriteLine();
        ulong[] twoCustodians = [2, 4];
        try
        {
            new Combiner(r, 2, Threshold).GenerateAdditiveShare(twoCustodians, shamirShares[1]);
        }
        catch (ArgumentException e)
        {
            output.WriteLine($"  Two custodians (2 and 4): the Combiner refuses: {e.Message}");
        }

        double[] expectedSum = [.. Enumerable.Range(0, days).Select(d => steps.Sum(week => week[d]))];
        double[] twoView = new double[days];
        encoder.Decode(ThresholdDecrypt(r, sum, twoCustodians, shamirShares, threshold: 2), twoView);
        output.WriteLine($"  Two custodians pretending t = 2: the daily sum decrypts to {twoView[0]:0.###E+00}, {twoView[1]:0.###E+00}, … (expected {expectedSum[0]:F1}, {expectedSum[1]:F1}, …)");
        output.WriteLine($"    max |error| {SampleReport.MaxError(expectedSum, twoView):0.0E+00}, i.e. {SampleReport.PrecisionBits(expectedSum, twoView):F1} bits: noise, nothing learned");
        EndPhase(output, clock);

        foreach (var share in shamirShares)
        {
            share.Dispose();
        }

        output.WriteLine();
        output.WriteLine($"Done in {total.Elapsed.TotalSeconds:F1} s.");
    }

    /// <summary>
    /// Threshold decryption of <paramref name="ciphertext"/> by the custodians at <paramref name="active"/>: each turns
    /// its Shamir share into an additive share for this active set, sends one flooded decryption share, and the
    /// coordinator adds them. A fresh session per ciphertext; no custodian is ever asked twice.
    /// </summary>
    private static Plaintext ThresholdDecrypt(RlweParameters r, Ciphertext ciphertext, ulong[] active, SecretKey[] shamirShares, int threshold, TextWriter? log = null)
    {
        using var protocol = new KeySwitchProtocol(r, NoiseFlooding.Default);
        var session = SessionId.NewRandom();
        var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0, ciphertext.Level), active.Length, active.Select(p => (int)p).ToHashSet());
        foreach (ulong point in active)
        {
            // On custodian `point`'s machine: λ·sh, then (λ·sh)·c1 + flooding. The additive share is wiped at once.
            using SecretKey additive = new Combiner(r, point, threshold).GenerateAdditiveShare(active, shamirShares[point - 1]);
            var share = protocol.AllocateShare(session, (int)point, ciphertext.Level);
            protocol.GenerateShare(additive, null, ciphertext, share);

            // On the coordinator: check (session, kind, level, party) and add.
            collector.Add(share);
            log?.WriteLine($"  custodian {point}: additive share λ_{point}·sh_{point}, decryption share sent ({Size(share)})");
        }

        return protocol.Decrypt(ciphertext, collector.Aggregate);
    }

    /// <summary>λ_own = Π_{k≠own} x_k/(x_k − x_own) over the integers, as a reduced fraction (the library computes it mod every prime).</summary>
    private static string LagrangeCoefficient(ulong own, ulong[] active)
    {
        long numerator = 1;
        long denominator = 1;
        foreach (ulong k in active.Where(k => k != own))
        {
            numerator *= (long)k;
            denominator *= (long)k - (long)own;
        }

        long gcd = Gcd(Math.Abs(numerator), Math.Abs(denominator));
        (numerator, denominator) = (Math.Sign(denominator) * numerator / gcd, Math.Abs(denominator) / gcd);
        string sign = numerator < 0 ? "−" : "";
        return denominator == 1 ? $"{sign}{Math.Abs(numerator)}" : $"{sign}{Math.Abs(numerator)}/{denominator}";
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    /// <summary>Size of a share's polynomials in memory (64-bit words; the wire format packs them).</summary>
    private static string Size(Share share)
    {
        long bytes = share.Polys.Sum(p => (long)p.LimbCount * p.N * sizeof(ulong));
        return bytes >= 1 << 20 ? $"{bytes / (double)(1 << 20):F1} MiB" : $"{bytes / 1024.0:F0} KiB";
    }

    private static void Phase(TextWriter output, int number, string title)
    {
        output.WriteLine();
        output.WriteLine($"Phase {number}: {title}");
    }

    private static void EndPhase(TextWriter output, Stopwatch clock)
    {
        output.WriteLine($"  ({clock.Elapsed.TotalMilliseconds:F0} ms)");
        clock.Restart();
    }
}
