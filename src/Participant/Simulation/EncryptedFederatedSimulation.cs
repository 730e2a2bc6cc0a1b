using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Learning.Evaluation;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;

namespace PrivateHealth.Participant.Simulation;

/// <summary>One round of the encrypted simulation.</summary>
public sealed record EncryptedRoundResult(int Round, IReadOnlyList<double> GlobalParameters, long TotalSamples, long BytesUploaded, EvaluationResult? Evaluation);

/// <summary>
/// Federated averaging where only ciphertexts leave the agents. Round r: every agent trains from the global model
/// exactly as <see cref="PlainFederatedSimulation.TrainClient"/>, weights its delta by its sample count, appends the
/// count, packs the vector into CKKS slots (<see cref="UpdatePacker"/>, level 0) and encrypts it under the
/// committee's collective public key; the upload is serialized and validated as the coordinator would; the server
/// adds the ciphertexts; t custodians decrypt the sum with noise flooding; the released sum (rounded with
/// DecodePublic) is divided by the decrypted total count and added to the global model.
/// </summary>
public sealed class EncryptedFederatedSimulation
{
    private readonly IModel _initial;
    private readonly Dataset[] _clients;
    private readonly FederatedConfig _config;
    private readonly SimulatedCommittee _committee;
    private readonly Dataset? _evaluation;

    public EncryptedFederatedSimulation(IModel initialModel, IReadOnlyList<Dataset> clients, FederatedConfig config, SimulatedCommittee committee, Dataset? evaluationData = null)
    {
        config.Validate();
        _initial = initialModel.Clone();
        _clients = [.. clients];
        _config = config;
        _committee = committee;
        _evaluation = evaluationData;
        Flooding = FloodingFor(committee.Parameters, committee.Members, clients.Count);
        ReleasePrecisionBits = UpdateRelease.PrecisionBits(committee.Parameters, Flooding, committee.Threshold);
    }

    public NoiseFlooding Flooding { get; }

    /// <summary>Bits after the binary point kept in released sums (DecodePublic rounding).</summary>
    public double ReleasePrecisionBits { get; }

    /// <summary>
    /// Flooding for a sum of <paramref name="uploads"/> fresh public-key ciphertexts under a key shared by
    /// <paramref name="parties"/>: the fresh error is the ModDown rounding τ0 + τ1·s (coefficient std
    /// √(N·(2n/3)/12)), bounded by 6 std per upload, so B = uploads·6·std; σ = √12·2^15·B (s = 30 bits, τ = 1).
    /// </summary>
    public static NoiseFlooding FloodingFor(CkksParameters parameters, int parties, int uploads) => UpdateRelease.FloodingFor(parameters, parties, uploads);

    public IReadOnlyList<EncryptedRoundResult> Run()
    {
        var p = _committee.Parameters;
        var packer = new UpdatePacker(p);
        var serializer = new CkksSerializer(p);
        var evaluator = new CkksEvaluator(p);
        using var encryptor = new Encryptor(p.Rlwe, _committee.PublicKey);
        var model = _initial.Clone();
        int length = model.ParameterCount + 1;
        var results = new List<EncryptedRoundResult>(_config.Rounds);
        for (int round = 0; round < _config.Rounds; round++)
        {
            Ciphertext[]? sum = null;
            long bytes = 0;
            for (int k = 0; k < _clients.Length; k++)
            {
                var update = PlainFederatedSimulation.TrainClient(model, _clients[k], _config, round, k);
                var vector = new double[length];
                var weighted = FedAvg.Weight(update.Delta, update.SampleCount);
                weighted.CopyTo(vector, 0);
                vector[^1] = update.SampleCount;
                foreach (var (ct, index) in packer.Encrypt(vector, encryptor).Select((c, i) => (c, i)))
                {
                    // what the coordinator receives and validates: bytes under the committee's parameters
                    var upload = serializer.Serialize(ct);
                    bytes += upload.Length;
                    var received = serializer.DeserializeCiphertext(upload);
                    if (received.Level != packer.Level)
                    {
                        throw new InvalidOperationException("Uploads must be at level 0.");
                    }

                    if (sum is null)
                    {
                        sum = new Ciphertext[packer.CiphertextCount(length)];
                    }

                    if (sum[index] is null)
                    {
                        sum[index] = received;
                    }
                    else
                    {
                        evaluator.AddInPlace(sum[index], received);
                    }
                }
            }

            var released = packer.UnpackPublic(_committee.Decrypt(sum!, Flooding), length, ReleasePrecisionBits);
            long total = (long)Math.Round(released[^1]);
            var average = new double[model.ParameterCount];
            FedAvg.Average(released.AsSpan(0, model.ParameterCount), total, average);
            FedAvg.Apply(model.Parameters, average);
            results.Add(new EncryptedRoundResult(round, [.. model.Parameters.ToArray()], total, bytes,
                _evaluation is null ? null : ModelEvaluator.Evaluate(model, _evaluation)));
        }

        FinalModel = model;
        return results;
    }

    public IModel? FinalModel { get; private set; }
}
