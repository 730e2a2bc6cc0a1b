using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Evaluation;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Randomness;
using PrivateHealth.Learning.Training;

namespace PrivateHealth.Learning.Federated;

/// <summary>Configuration of a federated run.</summary>
public sealed record FederatedConfig
{
    /// <summary>Number of rounds R. Default 50.</summary>
    public int Rounds { get; init; } = 50;

    /// <summary>Local training of every client in every round.</summary>
    public TrainConfig Local { get; init; } = new();

    /// <summary>Root seed; client k in round r trains with <see cref="PlainFederatedSimulation.ClientSeed"/>(Seed, r, k).</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// When true the learning-rate schedule continues across rounds (epoch offset r × LocalEpochs); when false
    /// (default) every round restarts the schedule at epoch 0.
    /// </summary>
    public bool ScheduleAcrossRounds { get; init; }

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Rounds);
        ArgumentNullException.ThrowIfNull(Local);
        Local.Validate();
    }
}

/// <summary>
/// One round's outcome: <see cref="GlobalParameters"/> are the global model after the round's aggregate was
/// applied; <see cref="AverageDelta"/> the FedAvg aggregate Δ̄; per-client sample counts and last-epoch mean
/// training losses in client order; <see cref="Evaluation"/> of the new global model on the evaluation set (if any).
/// </summary>
public sealed record RoundResult(
    int Round,
    IReadOnlyList<double> GlobalParameters,
    IReadOnlyList<double> AverageDelta,
    IReadOnlyList<long> ClientSampleCounts,
    IReadOnlyList<double> ClientTrainingLosses,
    EvaluationResult? Evaluation);

/// <summary>A whole run: the initial parameters, one result per round, and the final global model.</summary>
public sealed record FederatedRunResult(IReadOnlyList<double> InitialParameters, IReadOnlyList<RoundResult> Rounds, IModel FinalModel);

/// <summary>
/// Plaintext FedAvg reference: R rounds, all clients every round, sequential and deterministic. Round r
/// (0-based), starting from global parameters w_r:
/// <list type="number">
/// <item>each client k = 0 … K−1, in order, runs <see cref="TrainClient"/>: <see cref="LocalTrainer.Train"/> from
/// w_r on its data with seed <see cref="ClientSeed"/>(Seed, r, k) and epoch offset <see cref="EpochOffset"/>(config, r),
/// giving (Δ_k, n_k);</item>
/// <item>Δ̄ = <see cref="FedAvg.Aggregate"/>([(Δ_0, n_0), …, (Δ_{K−1}, n_{K−1})]) — weight Δ_k × n_k, sum in client
/// order, divide by Σ n_k;</item>
/// <item>w_{r+1} = w_r + Δ̄ (<see cref="FedAvg.Apply"/>); evaluate w_{r+1} if an evaluation set was given.</item>
/// </list>
/// An encrypted pipeline that trains each client with <see cref="TrainClient"/> and replaces step 2 by
/// encrypted summation of Δ_k × n_k and n_k should match these global models to CKKS precision.
/// </summary>
public sealed class PlainFederatedSimulation
{
    private readonly IModel _initialModel;
    private readonly Dataset[] _clients;
    private readonly Dataset? _evaluation;

    /// <param name="initialModel">w_0; cloned, not modified.</param>
    /// <param name="clients">Client datasets (each non-empty), in client order.</param>
    /// <param name="config">Rounds, local training and seed.</param>
    /// <param name="evaluationData">Optional held-out set evaluated after every round.</param>
    public PlainFederatedSimulation(IModel initialModel, IReadOnlyList<Dataset> clients, FederatedConfig config, Dataset? evaluationData = null)
    {
        ArgumentNullException.ThrowIfNull(initialModel);
        ArgumentNullException.ThrowIfNull(clients);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (clients.Count == 0)
        {
            throw new ArgumentException("A federation needs at least one client.", nameof(clients));
        }

        for (int k = 0; k < clients.Count; k++)
        {
            if (clients[k] is null || clients[k].Count == 0 || clients[k].FeatureCount != initialModel.InputDimension)
            {
                throw new ArgumentException($"Client {k} must be non-empty with {initialModel.InputDimension} features.", nameof(clients));
            }
        }

        _initialModel = initialModel.Clone();
        _clients = [.. clients];
        Config = config;
        _evaluation = evaluationData;
    }

    public FederatedConfig Config { get; }

    public int ClientCount => _clients.Length;

    /// <summary>The seed of client <paramref name="clientIndex"/> in round <paramref name="round"/>: Seeds.Derive(seed, round, clientIndex).</summary>
    public static ulong ClientSeed(ulong seed, int round, int clientIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        ArgumentOutOfRangeException.ThrowIfNegative(clientIndex);
        return Seeds.Derive(seed, (ulong)round, (ulong)clientIndex);
    }

    /// <summary>The learning-rate epoch offset of round <paramref name="round"/>: round × LocalEpochs if ScheduleAcrossRounds, else 0.</summary>
    public static int EpochOffset(FederatedConfig config, int round)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        return config.ScheduleAcrossRounds ? checked(round * config.Local.LocalEpochs) : 0;
    }

    /// <summary>
    /// What participant <paramref name="clientIndex"/> computes in round <paramref name="round"/>: local training
    /// from <paramref name="globalModel"/> (unchanged) with the derived seed and epoch offset.
    /// </summary>
    public static LocalUpdate TrainClient(IModel globalModel, Dataset clientData, FederatedConfig config, int round, int clientIndex)
    {
        ArgumentNullException.ThrowIfNull(config);
        var trainer = new LocalTrainer(config.Local);
        return trainer.Train(globalModel, clientData, ClientSeed(config.Seed, round, clientIndex), EpochOffset(config, round));
    }

    /// <summary>Runs all rounds.</summary>
    public FederatedRunResult Run()
    {
        IModel global = _initialModel.Clone();
        double[] initial = global.GetParameters();
        var rounds = new List<RoundResult>(Config.Rounds);
        var updates = new (double[] Delta, long Count)[_clients.Length];
        double[] losses = new double[_clients.Length];
        for (int r = 0; r < Config.Rounds; r++)
        {
            for (int k = 0; k < _clients.Length; k++)
            {
                LocalUpdate update = TrainClient(global, _clients[k], Config, r, k);
                updates[k] = (update.Delta, update.SampleCount);
                losses[k] = update.MeanTrainingLoss;
            }

            double[] average = FedAvg.Aggregate(updates);
            FedAvg.Apply(global.Parameters, average);
            EvaluationResult? evaluation = _evaluation is null ? null : ModelEvaluator.Evaluate(global, _evaluation);
            rounds.Add(new RoundResult(
                r,
                global.GetParameters(),
                average,
                [.. updates.Select(u => u.Count)],
                [.. losses],
                evaluation));
        }

        return new FederatedRunResult(initial, rounds, global);
    }
}
