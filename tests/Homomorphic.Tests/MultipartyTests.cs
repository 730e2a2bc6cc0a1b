using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Serialization;

namespace PrivateHealth.Homomorphic.Tests;

/// <summary>A committee of n custodians with collective keys and a t-of-n sharing, built once.</summary>
public sealed class CommitteeFixture : IDisposable
{
    public const int Parties = 5;
    public const int Threshold = 3;

    public CommitteeFixture()
    {
        // Set B's shape at N = 2^11 (insecure size, for speed): Δ = 2^57 leaves room for flooding
        Parameters = CkksParameters.FromLiteral(new CkksParametersLiteral { LogN = 11, LogQ = [60, 40, 57, 57, 57, 57], LogP = [60, 46], LogDefaultScale = 57, InsecureForTestingOnly = true });
        var r = Parameters.Rlwe;
        Crs = new CommonReferenceString(Prng.NewSeed());
        using var kg = new KeyGenerator(r);
        Secrets = [.. Enumerable.Range(0, Parties).Select(_ => kg.GenerateSecretKey())];
        IdealSecret = new SecretKey(r);
        foreach (var s in Secrets)
        {
            for (int i = 0; i < r.QP.Count; i++)
            {
                RingOps.Add(IdealSecret.Value.Limb(i), s.Value.Limb(i), IdealSecret.Value.Limb(i), r.QP[i].Value);
            }
        }

        // collective public key
        using (var pkg = new PublicKeyGenProtocol(r))
        {
            var session = SessionId.FromName("test/pk");
            var crp = pkg.SampleCrp(Crs, session);
            var collector = new ShareCollector(pkg, pkg.AllocateShare(session, 0), Parties);
            for (int i = 0; i < Parties; i++)
            {
                var share = pkg.AllocateShare(session, i + 1);
                pkg.GenerateShare(Secrets[i], crp, share);
                collector.Add(share);
            }

            PublicKey = pkg.GenerateKey(collector.Aggregate, crp);
        }

        // collective relinearization key (two rounds)
        using (var rkg = new RelinearizationKeyGenProtocol(r))
        {
            var session = SessionId.FromName("test/rlk");
            var crp = rkg.SampleCrp(Crs, session);
            var round1 = new ShareCollector(rkg, rkg.AllocateShare(session, 0, 1), Parties);
            var ephemerals = new EphemeralSecret[Parties];
            for (int i = 0; i < Parties; i++)
            {
                var share = rkg.AllocateShare(session, i + 1, 1);
                ephemerals[i] = rkg.GenerateShareRound1(Secrets[i], crp, share);
                round1.Add(share);
            }

            var round2 = new ShareCollector(rkg, rkg.AllocateShare(session, 0, 2), Parties);
            for (int i = 0; i < Parties; i++)
            {
                var share = rkg.AllocateShare(session, i + 1, 2);
                rkg.GenerateShareRound2(Secrets[i], ephemerals[i], round1.Aggregate, share);
                ephemerals[i].Dispose();
                round2.Add(share);
            }

            RelinearizationKey = rkg.GenerateKey(round1.Aggregate, round2.Aggregate);
        }

        // collective Galois key for a rotation by 1
        using (var gkg = new GaloisKeyGenProtocol(r))
        {
            ulong g = r.GaloisElementForRotation(1);
            var session = SessionId.FromName("test/galois/1");
            var crp = gkg.SampleCrp(Crs, session, g);
            var collector = new ShareCollector(gkg, gkg.AllocateShare(session, 0, g), Parties);
            for (int i = 0; i < Parties; i++)
            {
                var share = gkg.AllocateShare(session, i + 1, g);
                gkg.GenerateShare(Secrets[i], crp, share);
                collector.Add(share);
            }

            RotationKey = gkg.GenerateKey(collector.Aggregate, crp);
        }

        // t-of-n re-sharing: every party deals to every party (points 1..n)
        ShamirShares = ShareOut(Threshold);
        Encoder = new CkksEncoder(Parameters);
        Encryptor = new Encryptor(r, PublicKey);
        Evaluator = new CkksEvaluator(Parameters, new EvaluationKeySet(RelinearizationKey, [RotationKey]));
        IdealDecryptor = new Decryptor(r, IdealSecret);
    }

    public CkksParameters Parameters { get; }
    public CommonReferenceString Crs { get; }
    public SecretKey[] Secrets { get; }
    public SecretKey IdealSecret { get; }
    public PublicKey PublicKey { get; }
    public RelinearizationKey RelinearizationKey { get; }
    public GaloisKey RotationKey { get; }
    public SecretKey[] ShamirShares { get; }
    public CkksEncoder Encoder { get; }
    public Encryptor Encryptor { get; }
    public CkksEvaluator Evaluator { get; }
    public Decryptor IdealDecryptor { get; }

    /// <summary>Dealer-free re-sharing with threshold t; returns each party's Shamir share (index = point − 1).</summary>
    public SecretKey[] ShareOut(int threshold)
    {
        var r = Parameters.Rlwe;
        using var th = new Thresholdizer(r);
        var session = SessionId.FromName($"test/threshold/{threshold}");
        var polys = Secrets.Select(s => th.GeneratePolynomial(threshold, s)).ToArray();
        var result = new SecretKey[Parties];
        for (int j = 0; j < Parties; j++)
        {
            var collector = new ShareCollector(th, th.AllocateShare(session, 0), Parties);
            for (int i = 0; i < Parties; i++)
            {
                var share = th.AllocateShare(session, i + 1);
                th.GenerateShare(polys[i], (ulong)(j + 1), share);
                collector.Add(share);
            }

            result[j] = th.ToShamirShare(collector.Aggregate);
        }

        foreach (var p in polys)
        {
            p.Dispose();
        }

        return result;
    }

    /// <summary>Threshold decryption by the given active parties (points), each flooding with <paramref name="flooding"/>.</summary>
    public Plaintext ThresholdDecrypt(Ciphertext ct, IReadOnlyList<int> active, NoiseFlooding flooding, SecretKey[]? shamir = null, int? threshold = null)
    {
        var r = Parameters.Rlwe;
        using var cks = new KeySwitchProtocol(r, flooding);
        var session = SessionId.NewRandom();
        var collector = new ShareCollector(cks, cks.AllocateShare(session, 0, ct.Level), active.Count);
        var points = active.Select(a => (ulong)a).ToArray();
        foreach (int party in active)
        {
            var combiner = new Combiner(r, (ulong)party, threshold ?? active.Count);
            using var additive = combiner.GenerateAdditiveShare(points, (shamir ?? ShamirShares)[party - 1]);
            var share = cks.AllocateShare(session, party, ct.Level);
            cks.GenerateShare(additive, null, ct, share);
            collector.Add(share);
        }

        return cks.Decrypt(ct, collector.Aggregate);
    }

    public void Dispose()
    {
        Encryptor.Dispose();
        foreach (var s in Secrets.Concat(ShamirShares).Append(IdealSecret))
        {
            s.Dispose();
        }
    }
}

public sealed class MultipartyTests(CommitteeFixture committee, ITestOutputHelper output) : IClassFixture<CommitteeFixture>
{
    private Complex[] Random(int seed, double bound = 1) => CkksTestContext.RandomComplexFor(committee.Parameters.MaxSlots, seed, bound);

    private static double Bits(Complex[] expected, Complex[] actual) => CkksTestContext.PrecisionBits(expected, actual);

    /// <summary>Predicted precision after threshold decryption by t parties each adding σ_flood (max over slots ≈ 4 std).</summary>
    private double PredictedThresholdBits(int parties, double sigma) =>
        Math.Log2(committee.Parameters.DefaultScale) - Math.Log2(sigma * Math.Sqrt(parties * committee.Parameters.N / 2.0) * 4.5);

    [Fact]
    public void CollectivePublicKeyEncryptsUnderTheSumOfTheSecrets()
    {
        var z = Random(1);
        var ct = committee.Encryptor.Encrypt(committee.Encoder.Encode(z));
        double bits = Bits(z, committee.Encoder.DecodeComplex(committee.IdealDecryptor.Decrypt(ct)));
        output.WriteLine($"collective pk, ideal decryption: {bits:F1} bits (Δ = 2^57)");
        // the collective key's error is Σ e_i (√n·σ); after ModDown by P ≈ 2^106 only the rounding term is left
        Assert.True(bits > 40, $"{bits:F1}");
    }

    [Fact]
    public void DepthTwoCircuitUnderCollectiveKeysDecryptsByThreeOfFiveWithTwoOffline()
    {
        var ev = committee.Evaluator;
        var a = Random(2);
        var b = Random(3);
        var c = Random(4);
        var ca = committee.Encryptor.Encrypt(committee.Encoder.Encode(a));
        var cb = committee.Encryptor.Encrypt(committee.Encoder.Encode(b));
        var cc = committee.Encryptor.Encrypt(committee.Encoder.Encode(c));
        var t1 = ev.Rescale(ev.MultiplyRelinearize(ca, cb));          // a·b
        var t2 = ev.Rotate(t1, 1);                                     // rot(a·b, 1)
        var c1 = ev.DropLevel(cc, t2.Level);
        c1.Scale = t2.Scale;
        var t3 = ev.Rescale(ev.MultiplyRelinearize(t2, c1));          // rot(a·b, 1)·c
        int n = committee.Parameters.MaxSlots;
        var expected = Enumerable.Range(0, n).Select(j => a[(j + 1) % n] * b[(j + 1) % n] * c[j]).ToArray();
        Assert.True(Bits(expected, committee.Encoder.DecodeComplex(committee.IdealDecryptor.Decrypt(t3))) > 30);

        var pt = committee.ThresholdDecrypt(t3, [1, 3, 5], NoiseFlooding.Default); // custodians 2 and 4 offline
        double bits = Bits(expected, committee.Encoder.DecodeComplex(pt));
        double predicted = PredictedThresholdBits(3, NoiseFlooding.Default.Sigma);
        output.WriteLine($"depth 2 (multiply, relinearize, rescale, rotate) under collective keys, 3-of-5 decryption with σ = 2^30: {bits:F1} bits (predicted ≥ {predicted:F1})");
        Assert.True(bits >= predicted - 1, $"{bits:F1} < {predicted:F1} − 1");
    }

    [Fact]
    public void EveryThreeSubsetDecryptsAndTwoPartiesYieldNoise()
    {
        var z = Random(5);
        var ct = committee.Encryptor.Encrypt(committee.Encoder.Encode(z));
        var parties = Enumerable.Range(1, CommitteeFixture.Parties).ToArray();
        var subsets = from x in parties from y in parties from w in parties where x < y && y < w select new[] { x, y, w };
        double predicted = PredictedThresholdBits(3, NoiseFlooding.Default.Sigma);
        int count = 0;
        foreach (var set in subsets)
        {
            double bits = Bits(z, committee.Encoder.DecodeComplex(committee.ThresholdDecrypt(ct, set, NoiseFlooding.Default)));
            Assert.True(bits >= predicted - 1, $"subset {string.Join(",", set)}: {bits:F1} bits");
            count++;
        }

        Assert.Equal(10, count);
        // t − 1 = 2 parties: their Lagrange-combined shares do not sum to s; the output is noise
        double garbage = Bits(z, committee.Encoder.DecodeComplex(committee.ThresholdDecrypt(ct, [2, 4], NoiseFlooding.Default, threshold: 2)));
        output.WriteLine($"all 10 three-subsets decrypt (≥ {predicted - 1:F1} bits); two parties: {garbage:F1} bits");
        Assert.True(garbage < 0, $"two parties recovered {garbage:F1} bits");
    }

    [Fact]
    public void NOfNSharingAndPlainAdditiveSharesAlsoDecrypt()
    {
        var z = Random(6);
        var ct = committee.Encryptor.Encrypt(committee.Encoder.Encode(z));
        var fiveOfFive = committee.ShareOut(CommitteeFixture.Parties);
        double bits = Bits(z, committee.Encoder.DecodeComplex(committee.ThresholdDecrypt(ct, [1, 2, 3, 4, 5], NoiseFlooding.Default, fiveOfFive)));
        Assert.True(bits >= PredictedThresholdBits(5, NoiseFlooding.Default.Sigma) - 1, $"{bits:F1}");
        // additive n-of-n without re-sharing: each party uses its own s_i
        using var cks = new KeySwitchProtocol(committee.Parameters.Rlwe, NoiseFlooding.Default);
        var session = SessionId.NewRandom();
        var collector = new ShareCollector(cks, cks.AllocateShare(session, 0, ct.Level), CommitteeFixture.Parties);
        for (int i = 0; i < CommitteeFixture.Parties; i++)
        {
            var share = cks.AllocateShare(session, i + 1, ct.Level);
            cks.GenerateShare(committee.Secrets[i], null, ct, share);
            collector.Add(share);
        }

        Assert.True(Bits(z, committee.Encoder.DecodeComplex(cks.Decrypt(ct, collector.Aggregate))) >= PredictedThresholdBits(5, NoiseFlooding.Default.Sigma) - 1);
    }

    [Fact]
    public void WithoutFloodingThresholdDecryptionIsBitIdenticalToDecryptingWithTheSum()
    {
        var ct = committee.Encryptor.Encrypt(committee.Encoder.Encode(Random(7)));
        var ideal = committee.IdealDecryptor.Decrypt(ct);
        var threshold = committee.ThresholdDecrypt(ct, [2, 3, 5], NoiseFlooding.DisabledForTesting);
        Assert.True(ideal.Value.ContentEquals(threshold.Value));
    }

    [Fact]
    public void FloodingNoiseHasThePredictedStandardDeviation()
    {
        var ct = committee.Encryptor.Encrypt(committee.Encoder.Encode(Random(8)));
        var ideal = committee.IdealDecryptor.Decrypt(ct);
        var flooding = new NoiseFlooding(1 << 20, 6.0 * (1 << 20));
        var flooded = committee.ThresholdDecrypt(ct, [1, 2, 4], flooding);
        // difference in the coefficient domain, first limb, centered
        var r = committee.Parameters.Rlwe;
        var diff = new ulong[r.N];
        RingOps.Sub(flooded.Value.Limb(0), ideal.Value.Limb(0), diff, r.Q[0].Value);
        r.Q.Ntt(0).Inverse(diff);
        ulong q = r.Q[0].Value;
        double std = Math.Sqrt(diff.Select(v => v > q / 2 ? -(double)(q - v) : v).Average(x => x * x));
        double predicted = Math.Sqrt(3) * flooding.Sigma; // √t·σ_flood (the ciphertext noise cancels: same ciphertext)
        output.WriteLine($"flooding std {std:E3}, predicted {predicted:E3}");
        Assert.InRange(std / predicted, 0.93, 1.07);
    }

    [Fact]
    public void PublicKeySwitchReencryptsToTheReceiverOnly()
    {
        var r = committee.Parameters.Rlwe;
        using var kg = new KeyGenerator(r);
        using var receiverSecret = kg.GenerateSecretKey();
        var receiverPublic = kg.GeneratePublicKey(receiverSecret);
        var z = Random(9);
        var ct = committee.Encryptor.Encrypt(committee.Encoder.Encode(z));
        using var pcks = new PublicKeySwitchProtocol(r, NoiseFlooding.Default);
        var session = SessionId.NewRandom();
        var active = new ulong[] { 1, 4, 5 };
        var collector = new ShareCollector(pcks, pcks.AllocateShare(session, 0, ct.Level), active.Length);
        foreach (ulong party in active)
        {
            using var additive = new Combiner(r, party, CommitteeFixture.Threshold).GenerateAdditiveShare(active, committee.ShamirShares[party - 1]);
            var share = pcks.AllocateShare(session, (int)party, ct.Level);
            pcks.GenerateShare(additive, receiverPublic, ct, share);
            collector.Add(share);
        }

        var switched = pcks.KeySwitch(ct, collector.Aggregate);
        double receiverBits = Bits(z, committee.Encoder.DecodeComplex(new Decryptor(r, receiverSecret).Decrypt(switched)));
        double committeeBits = Bits(z, committee.Encoder.DecodeComplex(committee.IdealDecryptor.Decrypt(switched)));
        double predicted = PredictedThresholdBits(3, NoiseFlooding.Default.Sigma);
        output.WriteLine($"PCKS: receiver {receiverBits:F1} bits (predicted ≥ {predicted:F1}), the committee's own key {committeeBits:F1} bits");
        Assert.True(receiverBits >= predicted - 1);
        Assert.True(committeeBits < 0);
        // fewer than t custodians' shares reveal nothing: one share alone, key-switched, decrypts to noise
        var single = pcks.AllocateShare(session, 2, ct.Level);
        using var s2 = new Combiner(r, 2, CommitteeFixture.Threshold).GenerateAdditiveShare([2, 3, 4], committee.ShamirShares[1]);
        pcks.GenerateShare(s2, receiverPublic, ct, single);
        var alone = new ShareCollector(pcks, pcks.AllocateShare(session, 0, ct.Level), 1);
        alone.Add(single);
        double singleBits = Bits(z, committee.Encoder.DecodeComplex(new Decryptor(r, receiverSecret).Decrypt(pcks.KeySwitch(ct, alone.Aggregate))));
        Assert.True(singleBits < 0, $"one share recovered {singleBits:F1} bits");
    }

    [Fact]
    public void SharesRoundTripAndBadOrRepeatedSharesAreRefused()
    {
        var r = committee.Parameters.Rlwe;
        var serializer = new CkksSerializer(committee.Parameters);
        using var pkg = new PublicKeyGenProtocol(r);
        var session = SessionId.FromName("test/shares");
        var crp = pkg.SampleCrp(committee.Crs, session);
        var share = pkg.AllocateShare(session, 3);
        pkg.GenerateShare(committee.Secrets[2], crp, share);
        var bytes = serializer.Serialize(share);
        var back = serializer.DeserializeShare(bytes, ShareKind.PublicKey);
        Assert.Equal(3, back.Party);
        Assert.Equal(session, back.Session);
        Assert.True(back.Polys[0].ContentEquals(share.Polys[0]));
        Assert.Equal(FormatError.WrongKind, Assert.Throws<HomomorphicFormatException>(() => serializer.DeserializeShare(bytes, ShareKind.KeySwitch)).Error);
        var truncated = bytes[..^40];
        Assert.Throws<HomomorphicFormatException>(() => serializer.DeserializeShare(truncated, ShareKind.PublicKey));
        var flipped = (byte[])bytes.Clone();
        flipped[CkksSerializer.HeaderSize + CkksSerializer.ShareHeaderSize + 5] ^= 1;
        Assert.Equal(FormatError.DigestMismatch, Assert.Throws<HomomorphicFormatException>(() => serializer.DeserializeShare(flipped, ShareKind.PublicKey)).Error);

        // every share kind round-trips
        using var cks = new KeySwitchProtocol(r, NoiseFlooding.Default);
        var ct = committee.Encryptor.Encrypt(committee.Encoder.Encode([1.0]));
        var ksShare = cks.AllocateShare(session, 2, ct.Level);
        cks.GenerateShare(committee.Secrets[1], null, ct, ksShare);
        Assert.True(serializer.DeserializeShare(serializer.Serialize(ksShare), ShareKind.KeySwitch).Polys[0].ContentEquals(ksShare.Polys[0]));
        using var gkg = new GaloisKeyGenProtocol(r);
        var gShare = gkg.AllocateShare(session, 1, r.GaloisElementForRotation(2));
        gkg.GenerateShare(committee.Secrets[0], gkg.SampleCrp(committee.Crs, session, gShare.GaloisElement), gShare);
        Assert.Equal(gShare.GaloisElement, serializer.DeserializeShare(serializer.Serialize(gShare), ShareKind.GaloisKey).GaloisElement);

        // the collector refuses a repeated party, another session, another kind, an outsider, and changes nothing
        var collector = new ShareCollector(pkg, pkg.AllocateShare(session, 0), 3, new HashSet<int> { 1, 2, 3 });
        collector.Add(back);
        var before = collector.Aggregate.Polys[0].Clone();
        Assert.Contains("already sent", Assert.Throws<ShareRejectedException>(() => collector.Add(back)).Message);
        var otherSession = pkg.AllocateShare(SessionId.FromName("other"), 1);
        pkg.GenerateShare(committee.Secrets[0], crp, otherSession);
        Assert.Throws<ShareRejectedException>(() => collector.Add(otherSession));
        var outsider = pkg.AllocateShare(session, 5);
        pkg.GenerateShare(committee.Secrets[4], crp, outsider);
        Assert.Contains("not part", Assert.Throws<ShareRejectedException>(() => collector.Add(outsider)).Message);
        Assert.Throws<ShareRejectedException>(() => collector.Add(ksShare));
        Assert.True(before.ContentEquals(collector.Aggregate.Polys[0]));
        Assert.Single(collector.Parties);
    }

    [Fact]
    public void CombinerRejectsBadActiveSets()
    {
        var r = committee.Parameters.Rlwe;
        var combiner = new Combiner(r, 2, 3);
        Assert.Throws<ArgumentException>(() => combiner.GenerateAdditiveShare([1, 3, 4], committee.ShamirShares[1])); // not a member
        Assert.Throws<ArgumentException>(() => combiner.GenerateAdditiveShare([1, 2], committee.ShamirShares[1]));    // too few
        Assert.Throws<ArgumentException>(() => combiner.GenerateAdditiveShare([2, 2, 3], committee.ShamirShares[1])); // duplicate
        Assert.Throws<ArgumentNullException>(() => new KeySwitchProtocol(r, null!));
    }

    [Fact]
    public void CommonReferencePolynomialsAreDeterministicPerSeedAndSession()
    {
        var r = committee.Parameters.Rlwe;
        var seed = Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray();
        Poly Expand(byte[] s, string session)
        {
            var p = new Poly(r.N, r.QP.Count);
            new CommonReferenceString(s).ExpandPolynomial(r, SessionId.FromName(session), "public-key", 0, p);
            return p;
        }

        Assert.True(Expand(seed, "a").ContentEquals(Expand(seed, "a")));
        Assert.False(Expand(seed, "a").ContentEquals(Expand(seed, "b")));
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Expand(seed, "a").AsSpan())));
        output.WriteLine($"CRP KAT hash: {hash}");
        Assert.Equal(64, hash.Length);
    }
}

public sealed class LiMicciancioTests(CommitteeFixture committee, ITestOutputHelper output) : IClassFixture<CommitteeFixture>
{
    /// <summary>s = (m + e − c0)·c1^-1 limb by limb in the NTT domain (c1 invertible with high probability).</summary>
    private static Poly RecoverSecret(RlweParameters r, Ciphertext ct, Plaintext decrypted)
    {
        var s = new Poly(r.N, ct.Level + 1);
        for (int i = 0; i <= ct.Level; i++)
        {
            var mod = r.Q[i];
            var limb = s.Limb(i);
            RingOps.Sub(decrypted.Value.Limb(i), ct[0].Limb(i), limb, mod.Value);
            var c1 = ct[1].Limb(i);
            for (int j = 0; j < limb.Length; j++)
            {
                limb[j] = mod.Multiply(limb[j], mod.Inverse(c1[j]));
            }
        }

        return s;
    }

    [Fact]
    public void LiMicciancioKeyRecoverySucceedsOnRawDecryptionAndFailsThroughTheReleasePath()
    {
        var r = committee.Parameters.Rlwe;
        var z = CkksTestContext.RandomComplexFor(committee.Parameters.MaxSlots, 11);
        var ct = committee.Encryptor.Encrypt(committee.Encoder.Encode([.. z.Select(c => c.Real)]));

        // unprotected: the exact decryption m + e gives the collective secret away
        var recovered = RecoverSecret(r, ct, committee.IdealDecryptor.Decrypt(ct));
        for (int i = 0; i <= ct.Level; i++)
        {
            Assert.True(recovered.Limb(i).SequenceEqual(committee.IdealSecret.Value.Limb(i)), "the attack should recover s from a raw decryption");
        }

        // release path: 3-of-5 flooded decryption, then DecodePublic at 20 bits; the attacker re-encodes what is
        // published and tries again — the result is not the secret (nor even a small polynomial)
        var flooded = committee.ThresholdDecrypt(ct, [1, 2, 3], NoiseFlooding.Default);
        var published = new double[committee.Parameters.MaxSlots];
        committee.Encoder.DecodePublic(flooded, published, 20);
        var reencoded = committee.Encoder.Encode(published, ct.Level, ct.Scale);
        var attempt = RecoverSecret(r, ct, reencoded);
        Assert.False(attempt.Limb(0).SequenceEqual(committee.IdealSecret.Value.Limb(0)));
        var coefficients = attempt.Limb(0).ToArray();
        r.Q.Ntt(0).Inverse(coefficients);
        ulong q = r.Q[0].Value;
        double maxAbs = coefficients.Max(v => v > q / 2 ? (double)(q - v) : v);
        output.WriteLine($"recovered-secret candidate through the release path: max |coefficient| = 2^{Math.Log2(maxAbs):F1} (the real one is ≤ {CommitteeFixture.Parties})");
        Assert.True(maxAbs > 1 << 20);
    }
}

public sealed class CollectiveKeyNoiseTests(CommitteeFixture committee, ITestOutputHelper output) : IClassFixture<CommitteeFixture>
{
    /// <summary>Centered coefficients of limb 0 of an NTT-form polynomial.</summary>
    private double[] Coefficients(Poly p)
    {
        var r = committee.Parameters.Rlwe;
        var c = p.Limb(0).ToArray();
        r.Q.Ntt(0).Inverse(c);
        ulong q = r.Q[0].Value;
        return [.. c.Select(v => v > q / 2 ? -(double)(q - v) : v)];
    }

    private static double Std(double[] v) => Math.Sqrt(v.Average(x => x * x));

    [Fact]
    public void CollectiveKeyNoiseIsWithinTheReferenceBounds()
    {
        var r = committee.Parameters.Rlwe;
        int n = CommitteeFixture.Parties;
        var s = committee.IdealSecret.Value;
        var tmp = new Poly(r.N, r.QP.Count);

        // public key: b + a·s = Σ e_i, std √n·σ
        for (int i = 0; i < r.QP.Count; i++)
        {
            RingOps.Multiply(committee.PublicKey.A.Limb(i), s.Limb(i), tmp.Limb(i), r.QP[i]);
            RingOps.Add(tmp.Limb(i), committee.PublicKey.B.Limb(i), tmp.Limb(i), r.QP[i].Value);
        }

        double pkStd = Std(Coefficients(tmp));
        Assert.InRange(pkStd, Math.Sqrt(n) * 3.2 * 0.9, Math.Sqrt(n) * 3.2 * 1.1);

        // relinearization key, digit 0 on q_0: b + a·s − P·s² = s·e0 + u·e1 + e2 + e3 (Lattigo's NoiseRelinearizationKey)
        var rlk = committee.RelinearizationKey;
        var l0 = r.Q[0];
        var s2 = new ulong[r.N];
        RingOps.Multiply(s.Limb(0), s.Limb(0), s2, l0);
        RingOps.Multiply(rlk.A[0].Limb(0), s.Limb(0), tmp.Limb(0), l0);
        RingOps.Add(tmp.Limb(0), rlk.B[0].Limb(0), tmp.Limb(0), l0.Value);
        RingOps.MultiplyScalar(s2, r.PModQ[0], s2, l0);
        RingOps.Sub(tmp.Limb(0), s2, tmp.Limb(0), l0.Value);
        double rlkStd = Std(Coefficients(tmp));
        // variance: s·e0 and u·e1 each N·(2n/3)·(n·σ²), plus e2 + e3 — std ≈ n·σ·√(4N/3)
        double rlkPredicted = n * 3.2 * Math.Sqrt(4.0 * r.N / 3);
        output.WriteLine($"collective pk noise std {pkStd:F2} (√n·σ = {Math.Sqrt(n) * 3.2:F2}); rlk noise std 2^{Math.Log2(rlkStd):F2} (predicted n·σ·√(4N/3) = 2^{Math.Log2(rlkPredicted):F2})");
        Assert.InRange(rlkStd / rlkPredicted, 0.8, 1.2);

        // Galois key (rotation by 1), digit 0 on q_0: b + a·s − P·σ_g(s) = Σ e_i, std √n·σ
        var gk = committee.RotationKey;
        var perm = r.GaloisPermutation(gk.GaloisElement);
        var sg = new ulong[r.N];
        PolyMathPublic.Permute(s.Limb(0), perm, sg);
        RingOps.Multiply(gk.A[0].Limb(0), s.Limb(0), tmp.Limb(0), l0);
        RingOps.Add(tmp.Limb(0), gk.B[0].Limb(0), tmp.Limb(0), l0.Value);
        RingOps.MultiplyScalar(sg, r.PModQ[0], sg, l0);
        RingOps.Sub(tmp.Limb(0), sg, tmp.Limb(0), l0.Value);
        Assert.InRange(Std(Coefficients(tmp)), Math.Sqrt(n) * 3.2 * 0.9, Math.Sqrt(n) * 3.2 * 1.1);
    }

    [Fact]
    public void TheActiveSetIsChosenAmongTheCustodiansThatAnswer()
    {
        Assert.Equal([5UL, 1UL, 3UL], Combiner.ChooseActiveSet([5, 1, 1, 3, 4], 3));
        Assert.Contains("Only 2", Assert.Throws<InvalidOperationException>(() => Combiner.ChooseActiveSet([2, 4], 3)).Message);
    }
}
