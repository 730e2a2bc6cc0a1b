using BenchmarkDotNet.Attributes;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Cost of one party's share (generation) and of adding one share into an aggregate, for every multiparty
/// protocol, at the threshold parameter sets: Set A (N = 8192, Q = [60, 56, 40], P = [60]) and Set B
/// (N = 16384, Q = [60, 40, 57×4], P = [60, 46]). Share sizes (bit-packed, with headers) are printed at setup and
/// recorded in bench/RESULTS.md. Single thread.
/// </summary>
[MemoryDiagnoser]
public class MultipartyBenchmarks
{
    private RlweParameters _r = null!;
    private SecretKey _sk = null!;
    private Ciphertext _ct = null!;
    private PublicKey _receiver = null!;
    private PublicKeyGenProtocol _pkg = null!;
    private RelinearizationKeyGenProtocol _rkg = null!;
    private GaloisKeyGenProtocol _gkg = null!;
    private KeySwitchProtocol _cks = null!;
    private PublicKeySwitchProtocol _pcks = null!;
    private Thresholdizer _th = null!;
    private ShamirPolynomial _shamir = null!;
    private Poly _pkCrp = null!;
    private Poly[] _rlkCrp = null!, _gkCrp = null!;
    private Share _pkShare = null!, _pkAgg = null!, _r1Share = null!, _r1Agg = null!, _r2Share = null!, _gkShare = null!, _gkAgg = null!;
    private Share _cksShare = null!, _cksAgg = null!, _pcksShare = null!, _pcksAgg = null!, _thShare = null!;
    private EphemeralSecret _ephemeral = null!;

    [Params("SetA-N8192", "SetB-N16384")]
    public string Set { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var p = CkksParameters.FromLiteral(Set.StartsWith("SetA", StringComparison.Ordinal) ? CkksParametersLiteral.AggregationLogN13LogQP216 : CkksParametersLiteral.QueryLogN14LogQP434);
        _r = p.Rlwe;
        using var kg = new KeyGenerator(_r);
        _sk = kg.GenerateSecretKey();
        var pk = kg.GeneratePublicKey(_sk);
        _receiver = kg.GeneratePublicKey(kg.GenerateSecretKey());
        var encoder = new CkksEncoder(p);
        using var enc = new Encryptor(_r, pk);
        _ct = enc.Encrypt(encoder.Encode(new double[p.MaxSlots]));

        var crs = new CommonReferenceString(new byte[32]);
        var session = SessionId.FromName("bench");
        ulong g = _r.GaloisElementForRotation(1);
        _pkg = new PublicKeyGenProtocol(_r);
        _rkg = new RelinearizationKeyGenProtocol(_r);
        _gkg = new GaloisKeyGenProtocol(_r);
        _cks = new KeySwitchProtocol(_r, NoiseFlooding.Default);
        _pcks = new PublicKeySwitchProtocol(_r, NoiseFlooding.Default);
        _th = new Thresholdizer(_r);
        _pkCrp = _pkg.SampleCrp(crs, session);
        _rlkCrp = _rkg.SampleCrp(crs, session);
        _gkCrp = _gkg.SampleCrp(crs, session, g);
        _pkShare = _pkg.AllocateShare(session, 1);
        _pkAgg = _pkg.AllocateShare(session, 0);
        _r1Share = _rkg.AllocateShare(session, 1, 1);
        _r1Agg = _rkg.AllocateShare(session, 0, 1);
        _r2Share = _rkg.AllocateShare(session, 1, 2);
        _gkShare = _gkg.AllocateShare(session, 1, g);
        _gkAgg = _gkg.AllocateShare(session, 0, g);
        _cksShare = _cks.AllocateShare(session, 1, _ct.Level);
        _cksAgg = _cks.AllocateShare(session, 0, _ct.Level);
        _pcksShare = _pcks.AllocateShare(session, 1, _ct.Level);
        _pcksAgg = _pcks.AllocateShare(session, 0, _ct.Level);
        _thShare = _th.AllocateShare(session, 1);
        _shamir = _th.GeneratePolynomial(3, _sk);
        _ephemeral = _rkg.GenerateShareRound1(_sk, _rlkCrp, _r1Share);
        _rkg.GenerateShareRound2(_sk, _ephemeral, _r1Share, _r2Share);

        var serializer = new CkksSerializer(p);
        _pkg.GenerateShare(_sk, _pkCrp, _pkShare);
        _gkg.GenerateShare(_sk, _gkCrp, _gkShare);
        _cks.GenerateShare(_sk, null, _ct, _cksShare);
        _pcks.GenerateShare(_sk, _receiver, _ct, _pcksShare);
        _th.GenerateShare(_shamir, 2, _thShare);
        Console.WriteLine($"// share bytes ({Set}): public key {serializer.Serialize(_pkShare).Length}, relinearization round 1 {serializer.Serialize(_r1Share).Length}, round 2 {serializer.Serialize(_r2Share).Length}, Galois key {serializer.Serialize(_gkShare).Length}, decryption (CKS, top level) {serializer.Serialize(_cksShare).Length}, PCKS {serializer.Serialize(_pcksShare).Length}, threshold re-sharing {serializer.Serialize(_thShare).Length}");
    }

    [Benchmark]
    public void PublicKeyShare() => _pkg.GenerateShare(_sk, _pkCrp, _pkShare);

    [Benchmark]
    public void PublicKeyAggregate() => _pkg.AggregateShares(_pkAgg, _pkShare, _pkAgg);

    [Benchmark]
    public void RelinearizationRound1Share() => _rkg.GenerateShareRound1(_sk, _rlkCrp, _r1Share).Dispose();

    [Benchmark]
    public void RelinearizationRound2Share() => _rkg.GenerateShareRound2(_sk, _ephemeral, _r1Share, _r2Share);

    [Benchmark]
    public void RelinearizationAggregate() => _rkg.AggregateShares(_r1Agg, _r1Share, _r1Agg);

    [Benchmark]
    public void GaloisKeyShare() => _gkg.GenerateShare(_sk, _gkCrp, _gkShare);

    [Benchmark]
    public void GaloisKeyAggregate() => _gkg.AggregateShares(_gkAgg, _gkShare, _gkAgg);

    [Benchmark]
    public void DecryptionShare() => _cks.GenerateShare(_sk, null, _ct, _cksShare);

    [Benchmark]
    public void DecryptionAggregate() => _cks.AggregateShares(_cksAgg, _cksShare, _cksAgg);

    [Benchmark]
    public void PublicKeySwitchShare() => _pcks.GenerateShare(_sk, _receiver, _ct, _pcksShare);

    [Benchmark]
    public void PublicKeySwitchAggregate() => _pcks.AggregateShares(_pcksAgg, _pcksShare, _pcksAgg);

    [Benchmark]
    public void ThresholdShare() => _th.GenerateShare(_shamir, 2, _thShare);
}
