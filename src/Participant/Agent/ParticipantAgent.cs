using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Federated;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Learning.Evaluation;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Privacy;
using PrivateHealth.Participant.Chain;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Custodian;
using PrivateHealth.Participant.Storage;
using PrivateHealth.Protocol;

namespace PrivateHealth.Participant.Agent;

/// <summary>Thrown when a contribution is asked for without a matching, unrevoked consent. Nothing leaves the device.</summary>
public sealed class ConsentRequiredException(ConsentPurpose purpose, string cohortId)
    : InvalidOperationException($"No consent for {purpose} in cohort '{cohortId}': nothing was computed or sent.")
{
    public ConsentPurpose Purpose { get; } = purpose;
    public string CohortId { get; } = cohortId;
}

/// <summary>An encrypted contribution ready to upload: serialized ciphertexts and the plaintext metadata the server may see.</summary>
public sealed record EncryptedContribution(string CohortId, ConsentPurpose Purpose, IReadOnlyList<byte[]> Ciphertexts, int ValueCount)
{
    public long Bytes => Ciphertexts.Sum(c => (long)c.Length);
}

/// <summary>
/// The participant agent: the person's encrypted local stores (health records, secrets, consent), a chain key for
/// payouts, the optional custodian role, and the contributions it makes — each checked against consent first.
/// Files under <see cref="Home"/>: <c>agent.key</c> (AES-256 key, mode 0600), <c>secrets.bin</c> (encrypted secret
/// store: consent ledger, chain key, custodian shares), <c>records.bin</c> (encrypted health-record store).
/// </summary>
public sealed class ParticipantAgent : IDisposable
{
    private const string ChainKeyName = "participant.chain-key.v1";
    private readonly byte[] _key;

    private ParticipantAgent(string home, byte[] key, EncryptedSecretStore secrets, HealthRecordStore records, ConsentLedger consent, ChainKey chainKey)
    {
        Home = home;
        _key = key;
        Secrets = secrets;
        Records = records;
        Consent = consent;
        ChainKey = chainKey;
    }

    public string Home { get; }
    public EncryptedSecretStore Secrets { get; }
    public HealthRecordStore Records { get; }
    public ConsentLedger Consent { get; }
    public ChainKey ChainKey { get; }

    /// <summary>Opens (or creates) an agent home directory.</summary>
    public static ParticipantAgent Open(string home, TimeProvider? timeProvider = null)
    {
        Directory.CreateDirectory(home);
        var key = LocalKeyFile.LoadOrCreate(Path.Combine(home, "agent.key"));
        var secrets = EncryptedSecretStore.Open(Path.Combine(home, "secrets.bin"), key);
        var records = HealthRecordStore.Open(Path.Combine(home, "records.bin"), key);
        var consent = ConsentLedger.Open(secrets, timeProvider);
        ChainKey chainKey;
        if (secrets.Get(ChainKeyName) is { } stored)
        {
            chainKey = ChainKey.FromPrivateKey(stored);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(stored);
        }
        else
        {
            chainKey = ChainKey.Generate();
            secrets.Set(ChainKeyName, chainKey.PrivateKey);
        }

        return new ParticipantAgent(home, key, secrets, records, consent, chainKey);
    }

    /// <summary>The custodian duties of this agent, with shares persisted in its encrypted secret store.</summary>
    public CustodianRole AsCustodian(CkksParameters parameters, int party) => new(parameters, party, new SecretStoreVault(Secrets));

    private void RequireConsent(ConsentPurpose purpose, string cohortId)
    {
        if (!Consent.IsAllowed(purpose, cohortId))
        {
            throw new ConsentRequiredException(purpose, cohortId);
        }
    }

    /// <summary>
    /// A training contribution for round <paramref name="round"/>: trains locally from the global model (exactly as
    /// <see cref="PlainFederatedSimulation.TrainClient"/>), weights the delta by the sample count, appends the count and
    /// the global model's metrics on the local data (Σ loss, Σ correct, examples), packs and encrypts under the
    /// collective key. Refused without a Training consent for the cohort.
    /// </summary>
    public EncryptedContribution CreateTrainingContribution(string cohortId, IModel globalModel, Dataset localData, FederatedConfig config,
        int round, int clientIndex, CkksParameters parameters, PublicKey collectiveKey, double clipNorm = 0)
    {
        RequireConsent(ConsentPurpose.Training, cohortId);
        // the round's metrics: the global model on this participant's data, before it trains
        var before = ModelEvaluator.Evaluate(globalModel, localData);
        var update = PlainFederatedSimulation.TrainClient(globalModel, localData, config, round, clientIndex);
        int p = update.Delta.Length;
        var vector = new double[p + 1 + TrainingJobSpecs.MetricValues];
        if (clipNorm > 0)
        {
            // differential privacy: the update is clipped to L2 norm clipNorm and weighted 1, bounding its influence
            UpdateClipping.ClipL2(update.Delta, clipNorm);
            update.Delta.CopyTo(vector, 0);
            vector[p] = 1;
        }
        else
        {
            FedAvg.Weight(update.Delta, update.SampleCount).CopyTo(vector, 0);
            vector[p] = update.SampleCount;
        }

        int examples = localData.Count;
        vector[p + 1] = before.Loss * examples;
        vector[p + 2] = (before.Accuracy ?? 0) * examples;
        vector[p + 3] = examples;
        return Encrypt(cohortId, ConsentPurpose.Training, vector, parameters, collectiveKey);
    }

    /// <summary>
    /// An analytics contribution: this person's summary encoded into the cohort's schema (<see cref="ContributionEncoder"/>)
    /// and encrypted in the cohort's slot layout (one fresh ciphertext at the top level). With a federated query's
    /// <paramref name="filter"/>, a summary that does not match contributes zeros — encrypted all the same, so nobody
    /// learns whether it matched. Refused without an Analytics consent for the cohort.
    /// </summary>
    public EncryptedContribution CreateAnalyticsContribution(string cohortId, CohortSchema schema, IReadOnlyDictionary<string, object> summary, CkksParameters parameters, PublicKey collectiveKey, LocalFilter? filter = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(summary);
        RequireConsent(ConsentPurpose.Analytics, cohortId);
        var encoder = new ContributionEncoder(schema);
        var vector = filter is null || filter.Matches(summary) ? encoder.Encode(summary) : new double[encoder.Layout.SlotCount];
        var codec = new AnalyticsCodec(parameters, new SlotLayout(schema));
        using var encryptor = new Encryptor(parameters.Rlwe, collectiveKey);
        var ct = codec.Encrypt(vector, encryptor);
        return new EncryptedContribution(cohortId, ConsentPurpose.Analytics, [new CkksSerializer(parameters).Serialize(ct)], vector.Length);
    }

    private static EncryptedContribution Encrypt(string cohortId, ConsentPurpose purpose, ReadOnlySpan<double> vector, CkksParameters parameters, PublicKey collectiveKey)
    {
        var packer = new UpdatePacker(parameters);
        var serializer = new CkksSerializer(parameters);
        using var encryptor = new Encryptor(parameters.Rlwe, collectiveKey);
        var cts = packer.Encrypt(vector, encryptor);
        return new EncryptedContribution(cohortId, purpose, [.. cts.Select(serializer.Serialize)], vector.Length);
    }

    public void Dispose()
    {
        ChainKey.Dispose();
        Records.Dispose();
        Secrets.Dispose();
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(_key);
    }
}

/// <summary>Custodian vault over the agent's encrypted secret store.</summary>
public sealed class SecretStoreVault(EncryptedSecretStore store) : ICustodianVault
{
    public byte[]? Get(string name) => store.Get(name);

    public void Set(string name, byte[] value) => store.Set(name, value);

    public void Remove(string name) => store.Remove(name);
}
