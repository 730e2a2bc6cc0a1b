using System.Text;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;

namespace PrivateHealth.Participant.Custodian;

/// <summary>Persistent, confidential storage for a custodian's secrets (an encrypted secret store on the device).</summary>
public interface ICustodianVault
{
    byte[]? Get(string name);

    /// <summary>Stores the value durably (atomically) before returning.</summary>
    void Set(string name, byte[] value);

    void Remove(string name);
}

/// <summary>Thrown when a custodian refuses a request (repeated session or ciphertext, missing share, bad input).</summary>
public sealed class CustodianRefusedException(string message) : InvalidOperationException(message);

/// <summary>
/// The custodian duties of an agent: holds its additive key share (key ceremony) and its Shamir share (t-of-n),
/// both persisted encrypted in the vault, and answers ceremony, threshold-decryption and key-switching requests.
/// It never answers the same session twice, nor the same ciphertext in two sessions: every answered
/// (session, ciphertext digest) is written to the vault before the share is released (SECURITY.md). Not thread-safe.
/// </summary>
public sealed class CustodianRole : IDisposable
{
    private const string AdditiveKeyName = "custodian/additive-share";
    private const string ShamirKeyName = "custodian/shamir-share";
    private const string LedgerName = "custodian/answered";

    private readonly CkksParameters _p;
    private readonly ICustodianVault _vault;
    private readonly CkksSerializer _serializer;
    private readonly HashSet<string> _answered;
    private readonly Dictionary<SessionId, EphemeralSecret> _ephemerals = [];
    private SecretKey? _additive;
    private SecretKey? _shamir;

    /// <param name="parameters">The committee's parameters.</param>
    /// <param name="party">This custodian's number (1…n), also its Shamir point.</param>
    /// <param name="vault">Encrypted persistent storage; an existing custodian reloads its shares and ledger from it.</param>
    public CustodianRole(CkksParameters parameters, int party, ICustodianVault vault)
    {
        if (party < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(party), party, "Custodian numbers start at 1.");
        }

        _p = parameters;
        Party = party;
        _vault = vault;
        _serializer = new CkksSerializer(parameters);
        _answered = [.. (Encoding.UTF8.GetString(vault.Get(LedgerName) ?? [])).Split('\n', StringSplitOptions.RemoveEmptyEntries)];
        _additive = Load(AdditiveKeyName);
        _shamir = Load(ShamirKeyName);
        if (_additive is null && _shamir is null)
        {
            using var kg = new KeyGenerator(parameters.Rlwe);
            _additive = kg.GenerateSecretKey();
            _vault.Set(AdditiveKeyName, _serializer.Serialize(_additive));
        }
    }

    public int Party { get; }
    public ulong ShamirPoint => (ulong)Party;
    public bool HasThresholdShare => _shamir is not null;
    public int AnsweredCount => _answered.Count;

    private SecretKey? Load(string name) => _vault.Get(name) is { } bytes ? _serializer.DeserializeSecretKey(bytes) : null;

    private SecretKey Additive => _additive ?? throw new CustodianRefusedException("This custodian's additive share was retired after re-sharing; key generation must use the threshold shares.");

    /// <summary>Records the answer durably, or refuses if this session (or this ciphertext) was answered before.</summary>
    private void Claim(SessionId session, string? ciphertextDigest)
    {
        string sessionKey = "s:" + session;
        string? ctKey = ciphertextDigest is null ? null : "c:" + ciphertextDigest;
        if (_answered.Contains(sessionKey))
        {
            throw new CustodianRefusedException($"Custodian {Party} already answered session {session.ToString()[..12]}…; repeated shares enable key recovery.");
        }

        if (ctKey is not null && _answered.Contains(ctKey))
        {
            throw new CustodianRefusedException($"Custodian {Party} already produced a share for this ciphertext (in another session); a failed run is abandoned, not retried.");
        }

        _answered.Add(sessionKey);
        if (ctKey is not null)
        {
            _answered.Add(ctKey);
        }

        _vault.Set(LedgerName, Encoding.UTF8.GetBytes(string.Join('\n', _answered)));
    }

    // ------------------------------------------------------------------ key ceremony

    public Share CreatePublicKeyShare(SessionId session, CommonReferenceString crs)
    {
        Claim(session, null);
        using var protocol = new PublicKeyGenProtocol(_p.Rlwe);
        var share = protocol.AllocateShare(session, Party);
        protocol.GenerateShare(Additive, protocol.SampleCrp(crs, session), share);
        return share;
    }

    /// <summary>Relinearization round 1; the ephemeral secret stays in memory until round 2 of the same session.</summary>
    public Share CreateRelinearizationRound1(SessionId session, CommonReferenceString crs)
    {
        Claim(session, null);
        using var protocol = new RelinearizationKeyGenProtocol(_p.Rlwe);
        var share = protocol.AllocateShare(session, Party, 1);
        _ephemerals[session] = protocol.GenerateShareRound1(Additive, protocol.SampleCrp(crs, session), share);
        return share;
    }

    public Share CreateRelinearizationRound2(SessionId session, Share aggregatedRound1)
    {
        if (!_ephemerals.Remove(session, out var ephemeral))
        {
            throw new CustodianRefusedException($"No round-1 state for session {session.ToString()[..12]}… (already answered, or lost in a restart: start a new session).");
        }

        if (aggregatedRound1.Session != session)
        {
            throw new CustodianRefusedException("The round-1 aggregate belongs to another session.");
        }

        using (ephemeral)
        {
            Claim(new SessionId(System.Security.Cryptography.SHA256.HashData([.. session.Bytes, 2])), null);
            using var protocol = new RelinearizationKeyGenProtocol(_p.Rlwe);
            var share = protocol.AllocateShare(session, Party, 2);
            protocol.GenerateShareRound2(Additive, ephemeral, aggregatedRound1, share);
            return share;
        }
    }

    public Share CreateGaloisKeyShare(SessionId session, CommonReferenceString crs, ulong galoisElement)
    {
        Claim(session, null);
        using var protocol = new GaloisKeyGenProtocol(_p.Rlwe);
        var share = protocol.AllocateShare(session, Party, galoisElement);
        protocol.GenerateShare(Additive, protocol.SampleCrp(crs, session, galoisElement), share);
        return share;
    }

    /// <summary>Deals this custodian's additive share to every committee member (one private message each).</summary>
    public IReadOnlyDictionary<int, Share> CreateThresholdShares(SessionId session, int threshold, IEnumerable<int> members)
    {
        Claim(session, null);
        using var th = new Thresholdizer(_p.Rlwe);
        using var polynomial = th.GeneratePolynomial(threshold, Additive);
        var result = new Dictionary<int, Share>();
        foreach (int member in members)
        {
            var share = th.AllocateShare(session, Party);
            th.GenerateShare(polynomial, (ulong)member, share);
            result[member] = share;
        }

        return result;
    }

    /// <summary>
    /// Combines the threshold shares received from every member into this custodian's Shamir share, persists it,
    /// and (optionally) retires the additive share so that only the t-of-n sharing remains.
    /// </summary>
    public void AcceptThresholdShares(SessionId session, IReadOnlyCollection<Share> received, int members, bool retireAdditiveShare = true)
    {
        using var th = new Thresholdizer(_p.Rlwe);
        var collector = new ShareCollector(th, th.AllocateShare(session, 0), members);
        foreach (var share in received)
        {
            collector.Add(share);
        }

        if (!collector.IsComplete)
        {
            throw new CustodianRefusedException($"Re-sharing needs a share from each of the {members} members; got {collector.Parties.Count}.");
        }

        _shamir?.Dispose();
        _shamir = th.ToShamirShare(collector.Aggregate);
        _vault.Set(ShamirKeyName, _serializer.Serialize(_shamir));
        if (retireAdditiveShare)
        {
            _vault.Remove(AdditiveKeyName);
            _additive?.Dispose();
            _additive = null;
        }
    }

    // ------------------------------------------------------------------ decryption and key switching

    /// <summary>The secret share to use for a request: the Lagrange-weighted Shamir share for the active set, or the additive share.</summary>
    private SecretKey ShareFor(IReadOnlyCollection<ulong>? activeSet, int threshold)
    {
        if (_shamir is null)
        {
            return activeSet is null ? Additive : throw new CustodianRefusedException("This custodian has no threshold share yet.");
        }

        if (activeSet is null)
        {
            throw new CustodianRefusedException("A threshold custodian needs the active set of the request.");
        }

        return new Combiner(_p.Rlwe, ShamirPoint, threshold).GenerateAdditiveShare(activeSet, _shamir);
    }

    private string Digest(Ciphertext ciphertext) => Convert.ToHexStringLower(CkksSerializer.ContentId(_serializer.Serialize(ciphertext)));

    /// <summary>A flooded decryption share for an aggregate ciphertext (threshold decryption, target key zero).</summary>
    public Share CreateDecryptionShare(SessionId session, Ciphertext ciphertext, IReadOnlyCollection<ulong>? activeSet, int threshold, NoiseFlooding flooding) =>
        ShareWith(session, ciphertext, activeSet, threshold, secret =>
        {
            using var protocol = new KeySwitchProtocol(_p.Rlwe, flooding);
            var share = protocol.AllocateShare(session, Party, ciphertext.Level);
            protocol.GenerateShare(secret, null, ciphertext, share);
            return share;
        });

    /// <summary>A flooded share re-encrypting a result to a researcher's public key (PCKS).</summary>
    public Share CreatePublicKeySwitchShare(SessionId session, Ciphertext ciphertext, PublicKey receiver, IReadOnlyCollection<ulong>? activeSet, int threshold, NoiseFlooding flooding) =>
        ShareWith(session, ciphertext, activeSet, threshold, secret =>
        {
            using var protocol = new PublicKeySwitchProtocol(_p.Rlwe, flooding);
            var share = protocol.AllocateShare(session, Party, ciphertext.Level);
            protocol.GenerateShare(secret, receiver, ciphertext, share);
            return share;
        });

    /// <summary>Claims (session, ciphertext) durably, then produces a share with the secret for the active set and wipes it.</summary>
    private Share ShareWith(SessionId session, Ciphertext ciphertext, IReadOnlyCollection<ulong>? activeSet, int threshold, Func<SecretKey, Share> produce)
    {
        Claim(session, Digest(ciphertext));
        var secret = ShareFor(activeSet, threshold);
        try
        {
            return produce(secret);
        }
        finally
        {
            if (!ReferenceEquals(secret, _additive))
            {
                secret.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _additive?.Dispose();
        _shamir?.Dispose();
        foreach (var e in _ephemerals.Values)
        {
            e.Dispose();
        }
    }
}
