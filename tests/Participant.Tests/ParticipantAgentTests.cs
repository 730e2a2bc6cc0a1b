using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Simulation;

namespace PrivateHealth.Participant.Tests;

public sealed class ParticipantAgentTests : IDisposable
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), "ph-agent-" + Guid.NewGuid().ToString("N"));
    private static readonly CkksParameters Training = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);

    public void Dispose()
    {
        if (Directory.Exists(_home))
        {
            Directory.Delete(_home, recursive: true);
        }
    }

    private static (Dataset Data, PublicKey Key, SecretKey Secret) Setup()
    {
        var data = CsvDataset.Load(EncryptedFederatedTests.BreastCancerPath(), "target");
        data = Standardizer.Fit(data).Transform(data).Subset([.. Enumerable.Range(0, 40)]);
        using var kg = new KeyGenerator(Training.Rlwe);
        var sk = kg.GenerateSecretKey();
        return (data, kg.GeneratePublicKey(sk), sk);
    }

    [Fact]
    public void TheAgentRefusesToContributeWithoutConsent()
    {
        var (data, pk, _) = Setup();
        using var agent = ParticipantAgent.Open(_home);
        var model = new LogisticRegression(data.FeatureCount);
        var e = Assert.Throws<ConsentRequiredException>(() => agent.CreateTrainingContribution("cohort-a", model, data, new FederatedConfig(), 0, 0, Training, pk));
        Assert.Equal(ConsentPurpose.Training, e.Purpose);
        // consent for another purpose or another cohort does not count
        agent.Consent.Grant(ConsentPurpose.Analytics, "cohort-a");
        agent.Consent.Grant(ConsentPurpose.Training, "cohort-b");
        Assert.Throws<ConsentRequiredException>(() => agent.CreateTrainingContribution("cohort-a", model, data, new FederatedConfig(), 0, 0, Training, pk));
        var schema = PrivateHealth.EncryptedQuery.Schema.CohortSchema.Parse("""{ "version": 1, "id": "cohort_b", "dimensions": [ { "name": "sex", "kind": "categorical", "values": ["f", "m"] } ], "measures": [ { "name": "steps", "lo": 0, "hi": 30000 } ] }""");
        var summary = new Dictionary<string, object> { ["sex"] = "f", ["steps"] = 8000.0 };
        Assert.Throws<ConsentRequiredException>(() => agent.CreateAnalyticsContribution("cohort-b", schema, summary, Training, pk));
    }

    [Fact]
    public void TheAgentContributesWithConsentAndStopsAfterRevocationEvenAcrossARestart()
    {
        var (data, pk, sk) = Setup();
        var model = new LogisticRegression(data.FeatureCount);
        using (var agent = ParticipantAgent.Open(_home))
        {
            agent.Consent.Grant(ConsentPurpose.Training, "cohort-a");
            var contribution = agent.CreateTrainingContribution("cohort-a", model, data, new FederatedConfig(), 0, 0, Training, pk);
            Assert.Single(contribution.Ciphertexts);
            // (w, b) weighted, the weight, then the global model's metrics on the local data: Σ loss, Σ correct, examples
            int p = data.FeatureCount + 1;
            Assert.Equal(p + 1 + 3, contribution.ValueCount);
            // the upload decrypts to Δ·n and n, the plaintext computation of the same client
            var ct = new PrivateHealth.Homomorphic.Serialization.CkksSerializer(Training).DeserializeCiphertext(contribution.Ciphertexts[0]);
            var packer = new PrivateHealth.Learning.Encrypted.UpdatePacker(Training);
            var values = packer.Unpack([new Decryptor(Training.Rlwe, sk).Decrypt(ct)], contribution.ValueCount);
            var expected = PlainFederatedSimulation.TrainClient(model, data, new FederatedConfig(), 0, 0);
            Assert.Equal(expected.SampleCount, values[p], 1e-6);
            Assert.Equal(expected.Delta[0] * expected.SampleCount, values[0], 1e-6);
            var before = PrivateHealth.Learning.Evaluation.ModelEvaluator.Evaluate(model, data);
            Assert.Equal(before.Loss * data.Count, values[p + 1], 1e-6);
            Assert.Equal(before.Accuracy!.Value * data.Count, values[p + 2], 1e-6);
            Assert.Equal(data.Count, values[p + 3], 1e-6);

            agent.Consent.Revoke(ConsentPurpose.Training, "cohort-a");
            Assert.Throws<ConsentRequiredException>(() => agent.CreateTrainingContribution("cohort-a", model, data, new FederatedConfig(), 1, 0, Training, pk));
        }

        using (var reopened = ParticipantAgent.Open(_home))
        {
            Assert.Throws<ConsentRequiredException>(() => reopened.CreateTrainingContribution("cohort-a", model, data, new FederatedConfig(), 2, 0, Training, pk));
            Assert.Equal(2, reopened.Consent.History.Count); // the audit keeps both the grant and the revocation
        }
    }

    [Fact]
    public void TheChainKeyAndCustodianSharesPersistEncryptedOnTheDevice()
    {
        string address;
        using (var agent = ParticipantAgent.Open(_home))
        {
            address = agent.ChainKey.AddressHex;
            using var custodian = agent.AsCustodian(Training, 1);
            custodian.CreatePublicKeyShare(PrivateHealth.Homomorphic.Multiparty.SessionId.FromName("s"), new PrivateHealth.Homomorphic.Multiparty.CommonReferenceString(new byte[32]));
        }

        using (var agent = ParticipantAgent.Open(_home))
        {
            Assert.Equal(address, agent.ChainKey.AddressHex);
            using var custodian = agent.AsCustodian(Training, 1);
            Assert.Equal(1, custodian.AnsweredCount); // the ledger came back from the encrypted store
        }

        // nothing secret is stored in the clear: the 32-byte chain key does not appear in any file
        byte[] secret;
        using (var again = ParticipantAgent.Open(_home))
        {
            secret = again.ChainKey.PrivateKey.ToArray();
        }

        foreach (var file in Directory.GetFiles(_home))
        {
            var bytes = File.ReadAllBytes(file);
            Assert.True(bytes.AsSpan().IndexOf(secret) < 0, $"{Path.GetFileName(file)} holds the chain key in the clear");
        }
    }
}
