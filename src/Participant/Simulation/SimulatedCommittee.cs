using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Participant.Custodian;

namespace PrivateHealth.Participant.Simulation;

/// <summary>A custodian vault kept in memory, for simulations and tests (real agents use the encrypted secret store).</summary>
public sealed class InMemoryCustodianVault : ICustodianVault
{
    private readonly Dictionary<string, byte[]> _values = [];

    public byte[]? Get(string name) => _values.TryGetValue(name, out var v) ? (byte[])v.Clone() : null;

    public void Set(string name, byte[] value) => _values[name] = (byte[])value.Clone();

    public void Remove(string name) => _values.Remove(name);
}

/// <summary>
/// n custodians in one process: runs the key ceremony (collective public key, optional relinearization key),
/// re-shares the key t-of-n, and performs threshold decryptions among the custodians that are online.
/// </summary>
public sealed class SimulatedCommittee : IDisposable
{
    private readonly CustodianRole[] _custodians;
    private readonly HashSet<int> _offline = [];

    public SimulatedCommittee(CkksParameters parameters, int members = 5, int threshold = 3, bool relinearizationKey = false, IReadOnlyList<int>? rotations = null)
    {
        if (threshold < 1 || threshold > members)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"The threshold must be in [1, {members}].");
        }

        Parameters = parameters;
        Members = members;
        Threshold = threshold;
        var r = parameters.Rlwe;
        _custodians = [.. Enumerable.Range(1, members).Select(i => new CustodianRole(parameters, i, new InMemoryCustodianVault()))];
        var crs = new CommonReferenceString(Prng.NewSeed());
        string ceremony = Convert.ToHexStringLower(Prng.NewSeed())[..16];
        using (var pkg = new PublicKeyGenProtocol(r))
        {
            var session = SessionId.FromName($"{ceremony}/public-key");
            var collector = new ShareCollector(pkg, pkg.AllocateShare(session, 0), members);
            foreach (var c in _custodians)
            {
                collector.Add(c.CreatePublicKeyShare(session, crs));
            }

            PublicKey = pkg.GenerateKey(collector.Aggregate, pkg.SampleCrp(crs, session));
        }

        if (relinearizationKey)
        {
            using var rkg = new RelinearizationKeyGenProtocol(r);
            var session = SessionId.FromName($"{ceremony}/relinearization-key");
            var round1 = new ShareCollector(rkg, rkg.AllocateShare(session, 0, 1), members);
            foreach (var c in _custodians)
            {
                round1.Add(c.CreateRelinearizationRound1(session, crs));
            }

            var round2 = new ShareCollector(rkg, rkg.AllocateShare(session, 0, 2), members);
            foreach (var c in _custodians)
            {
                round2.Add(c.CreateRelinearizationRound2(session, round1.Aggregate));
            }

            RelinearizationKey = rkg.GenerateKey(round1.Aggregate, round2.Aggregate);
        }

        var galois = new List<GaloisKey>();
        foreach (ulong element in (rotations ?? []).Select(k => r.GaloisElementForRotation(k)).Distinct())
        {
            using var gkg = new GaloisKeyGenProtocol(r);
            var session = SessionId.FromName($"{ceremony}/galois/{element}");
            var collector = new ShareCollector(gkg, gkg.AllocateShare(session, 0, element), members);
            foreach (var c in _custodians)
            {
                collector.Add(c.CreateGaloisKeyShare(session, crs, element));
            }

            galois.Add(gkg.GenerateKey(collector.Aggregate, gkg.SampleCrp(crs, session, element)));
        }

        GaloisKeys = galois;
        var resharing = SessionId.FromName($"{ceremony}/threshold");
        var memberIds = Enumerable.Range(1, members).ToArray();
        var dealt = _custodians.Select(c => c.CreateThresholdShares(resharing, threshold, memberIds)).ToArray();
        foreach (var c in _custodians)
        {
            c.AcceptThresholdShares(resharing, [.. dealt.Select(d => d[c.Party])], members);
        }
    }

    public CkksParameters Parameters { get; }
    public int Members { get; }
    public int Threshold { get; }
    public PublicKey PublicKey { get; }
    public RelinearizationKey? RelinearizationKey { get; }

    /// <summary>Collective Galois keys for the requested rotations (empty if none).</summary>
    public IReadOnlyList<GaloisKey> GaloisKeys { get; }

    /// <summary>Decryption shares produced so far (one per custodian per ciphertext).</summary>
    public int SharesProduced { get; private set; }

    /// <summary>Takes custodians offline (they do not answer) or brings them back.</summary>
    public void SetOffline(IEnumerable<int> custodians)
    {
        _offline.Clear();
        _offline.UnionWith(custodians);
    }

    public IReadOnlyCollection<int> Online => [.. Enumerable.Range(1, Members).Where(i => !_offline.Contains(i))];

    /// <summary>
    /// Threshold decryption of each ciphertext (each in its own session) by the first t online custodians, every one
    /// adding <paramref name="flooding"/>. Fails with a clear error if fewer than t are online.
    /// </summary>
    public Plaintext[] Decrypt(IReadOnlyList<Ciphertext> ciphertexts, NoiseFlooding flooding)
    {
        var active = Combiner.ChooseActiveSet(Online.Select(i => (ulong)i), Threshold);
        using var cks = new KeySwitchProtocol(Parameters.Rlwe, flooding);
        var result = new Plaintext[ciphertexts.Count];
        for (int i = 0; i < ciphertexts.Count; i++)
        {
            var ct = ciphertexts[i];
            var session = SessionId.NewRandom();
            var collector = new ShareCollector(cks, cks.AllocateShare(session, 0, ct.Level), Threshold, active.Select(a => (int)a).ToHashSet());
            foreach (ulong party in active)
            {
                collector.Add(_custodians[party - 1].CreateDecryptionShare(session, ct, active, Threshold, flooding));
                SharesProduced++;
            }

            result[i] = cks.Decrypt(ct, collector.Aggregate);
        }

        return result;
    }

    /// <summary>
    /// Re-encrypts each ciphertext to <paramref name="receiver"/> (PCKS) with the first t online custodians, every one
    /// adding <paramref name="flooding"/>; only the receiver's secret key decrypts the results.
    /// </summary>
    public Ciphertext[] KeySwitchTo(IReadOnlyList<Ciphertext> ciphertexts, PublicKey receiver, NoiseFlooding flooding)
    {
        var active = Combiner.ChooseActiveSet(Online.Select(i => (ulong)i), Threshold);
        using var pcks = new PublicKeySwitchProtocol(Parameters.Rlwe, flooding);
        var result = new Ciphertext[ciphertexts.Count];
        for (int i = 0; i < ciphertexts.Count; i++)
        {
            var ct = ciphertexts[i];
            var session = SessionId.NewRandom();
            var collector = new ShareCollector(pcks, pcks.AllocateShare(session, 0, ct.Level), Threshold, active.Select(a => (int)a).ToHashSet());
            foreach (ulong party in active)
            {
                collector.Add(_custodians[party - 1].CreatePublicKeySwitchShare(session, ct, receiver, active, Threshold, flooding));
                SharesProduced++;
            }

            result[i] = pcks.KeySwitch(ct, collector.Aggregate);
        }

        return result;
    }

    public void Dispose()
    {
        foreach (var c in _custodians)
        {
            c.Dispose();
        }
    }
}
