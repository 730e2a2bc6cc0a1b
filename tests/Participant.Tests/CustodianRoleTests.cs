using System.Numerics;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Participant.Custodian;

namespace PrivateHealth.Participant.Tests;

/// <summary>A vault in memory (the agent uses the encrypted secret store); counts writes to check durability order.</summary>
internal sealed class MemoryVault : ICustodianVault
{
    private readonly Dictionary<string, byte[]> _values = [];

    public int Writes { get; private set; }

    public byte[]? Get(string name) => _values.TryGetValue(name, out var v) ? (byte[])v.Clone() : null;

    public void Set(string name, byte[] value)
    {
        _values[name] = (byte[])value.Clone();
        Writes++;
    }

    public void Remove(string name) => _values.Remove(name);

    public bool Contains(string name) => _values.ContainsKey(name);
}

public sealed class CustodianRoleTests
{
    private static readonly CkksParameters Parameters = CkksParameters.FromLiteral(new CkksParametersLiteral
    {
        LogN = 11, LogQ = [60, 40, 57], LogP = [60, 46], LogDefaultScale = 57, InsecureForTestingOnly = true,
    });

    private sealed class Committee : IDisposable
    {
        public MemoryVault[] Vaults { get; } = [.. Enumerable.Range(0, 5).Select(_ => new MemoryVault())];
        public CustodianRole[] Custodians { get; }
        public PublicKey PublicKey { get; }
        public RelinearizationKey RelinearizationKey { get; }

        public Committee()
        {
            var r = Parameters.Rlwe;
            Custodians = [.. Vaults.Select((v, i) => new CustodianRole(Parameters, i + 1, v))];
            var crs = new CommonReferenceString(Prng.NewSeed());
            using (var pkg = new PublicKeyGenProtocol(r))
            {
                var session = SessionId.FromName("ceremony/pk");
                var collector = new ShareCollector(pkg, pkg.AllocateShare(session, 0), 5);
                foreach (var c in Custodians)
                {
                    collector.Add(c.CreatePublicKeyShare(session, crs));
                }

                PublicKey = pkg.GenerateKey(collector.Aggregate, pkg.SampleCrp(crs, session));
            }

            using (var rkg = new RelinearizationKeyGenProtocol(r))
            {
                var session = SessionId.FromName("ceremony/rlk");
                var round1 = new ShareCollector(rkg, rkg.AllocateShare(session, 0, 1), 5);
                foreach (var c in Custodians)
                {
                    round1.Add(c.CreateRelinearizationRound1(session, crs));
                }

                var round2 = new ShareCollector(rkg, rkg.AllocateShare(session, 0, 2), 5);
                foreach (var c in Custodians)
                {
                    round2.Add(c.CreateRelinearizationRound2(session, round1.Aggregate));
                }

                RelinearizationKey = rkg.GenerateKey(round1.Aggregate, round2.Aggregate);
            }

            var resharing = SessionId.FromName("ceremony/threshold");
            var dealt = Custodians.Select(c => c.CreateThresholdShares(resharing, 3, [1, 2, 3, 4, 5])).ToArray();
            foreach (var c in Custodians)
            {
                c.AcceptThresholdShares(resharing, [.. dealt.Select(d => d[c.Party])], 5);
            }
        }

        public Plaintext Decrypt(Ciphertext ct, SessionId session, int[] active)
        {
            using var cks = new KeySwitchProtocol(Parameters.Rlwe, NoiseFlooding.Default);
            var collector = new ShareCollector(cks, cks.AllocateShare(session, 0, ct.Level), active.Length);
            ulong[] points = [.. active.Select(a => (ulong)a)];
            foreach (int a in active)
            {
                collector.Add(Custodians[a - 1].CreateDecryptionShare(session, ct, points, 3, NoiseFlooding.Default));
            }

            return cks.Decrypt(ct, collector.Aggregate);
        }

        public void Dispose()
        {
            foreach (var c in Custodians)
            {
                c.Dispose();
            }
        }
    }

    private static double MaxError(double[] expected, double[] actual) => expected.Select((e, i) => Math.Abs(e - actual[i])).Max();

    [Fact]
    public void CustodiansRunTheCeremonyAndDecryptThreeOfFive()
    {
        using var committee = new Committee();
        var encoder = new CkksEncoder(Parameters);
        using var encryptor = new Encryptor(Parameters.Rlwe, committee.PublicKey);
        double[] x = [.. Enumerable.Range(0, 50).Select(i => i * 0.25)];
        var ct = encryptor.Encrypt(encoder.Encode(x));
        var evaluator = new CkksEvaluator(Parameters, new EvaluationKeySet(committee.RelinearizationKey));
        var squared = evaluator.Rescale(evaluator.MultiplyRelinearize(ct, ct));
        var pt = committee.Decrypt(squared, SessionId.NewRandom(), [1, 3, 5]);
        var y = new double[50];
        encoder.DecodePublic(pt, y, 12);
        Assert.True(MaxError([.. x.Select(v => v * v)], y) < 1e-3);
        Assert.All(committee.Custodians, c => Assert.True(c.HasThresholdShare));
        // the additive shares are retired after re-sharing: only the t-of-n sharing remains on the devices
        Assert.All(committee.Vaults, v => Assert.False(v.Contains("custodian/additive-share")));
    }

    [Fact]
    public void ACustodianNeverAnswersTheSameSessionOrCiphertextTwiceEvenAfterARestart()
    {
        using var committee = new Committee();
        var encoder = new CkksEncoder(Parameters);
        using var encryptor = new Encryptor(Parameters.Rlwe, committee.PublicKey);
        var ct = encryptor.Encrypt(encoder.Encode([1.0, 2.0]));
        var session = SessionId.NewRandom();
        var c2 = committee.Custodians[1];
        c2.CreateDecryptionShare(session, ct, [1, 2, 3], 3, NoiseFlooding.Default);
        Assert.Contains("already answered", Assert.Throws<CustodianRefusedException>(() => c2.CreateDecryptionShare(session, ct, [1, 2, 3], 3, NoiseFlooding.Default)).Message);
        // the same ciphertext under a new session (a retry with another active set) is refused too
        Assert.Contains("this ciphertext", Assert.Throws<CustodianRefusedException>(() => c2.CreateDecryptionShare(SessionId.NewRandom(), ct, [2, 4, 5], 3, NoiseFlooding.Default)).Message);

        // restart: a new role over the same vault reloads its Shamir share and its ledger
        int answered = c2.AnsweredCount;
        using var restarted = new CustodianRole(Parameters, 2, committee.Vaults[1]);
        Assert.True(restarted.HasThresholdShare);
        Assert.Equal(answered, restarted.AnsweredCount);
        Assert.Throws<CustodianRefusedException>(() => restarted.CreateDecryptionShare(session, ct, [1, 2, 3], 3, NoiseFlooding.Default));
        // and still answers a new ciphertext correctly, together with the others
        var other = encryptor.Encrypt(encoder.Encode([3.0, 4.0]));
        committee.Custodians[1] = restarted;
        var pt = committee.Decrypt(other, SessionId.NewRandom(), [2, 4, 5]);
        var y = encoder.Decode(pt);
        Assert.True(Math.Abs(y[0] - 3) < 1e-3 && Math.Abs(y[1] - 4) < 1e-3);
    }

    [Fact]
    public void RelinearizationRoundTwoNeedsTheRoundOneStateOfTheSameSession()
    {
        var vault = new MemoryVault();
        using var custodian = new CustodianRole(Parameters, 1, vault);
        var crs = new CommonReferenceString(Prng.NewSeed());
        var session = SessionId.FromName("rlk");
        var round1 = custodian.CreateRelinearizationRound1(session, crs);
        Assert.Throws<CustodianRefusedException>(() => custodian.CreateRelinearizationRound2(SessionId.FromName("other"), round1));
        custodian.CreateRelinearizationRound2(session, round1);
        Assert.Throws<CustodianRefusedException>(() => custodian.CreateRelinearizationRound2(session, round1));
        Assert.Throws<CustodianRefusedException>(() => custodian.CreateRelinearizationRound1(session, crs));
    }

    [Fact]
    public void TheLedgerIsPersistedBeforeTheShareIsReleased()
    {
        var vault = new MemoryVault();
        using var custodian = new CustodianRole(Parameters, 1, vault);
        var crs = new CommonReferenceString(Prng.NewSeed());
        int before = vault.Writes;
        custodian.CreatePublicKeyShare(SessionId.FromName("pk"), crs);
        Assert.Equal(before + 1, vault.Writes);
        Assert.Contains("s:", System.Text.Encoding.UTF8.GetString(vault.Get("custodian/answered")!));
    }
}
