using System.Numerics.Tensors;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.Learning.Training;

/// <summary>
/// Result of local training: <see cref="Delta"/> = w_local − w_global (what a participant sends, possibly
/// clipped and encrypted), <see cref="SampleCount"/> = local rows (the FedAvg weight), the mean data loss over
/// the mini-batches of the last epoch (each batch's loss measured before its step) and the number of SGD steps.
/// </summary>
public sealed record LocalUpdate(double[] Delta, long SampleCount, double MeanTrainingLoss, int Steps);

/// <summary>
/// Mini-batch SGD on one participant's data. Deterministic in (config, seed, epochOffset, data, model).
/// Per epoch e (e = 0 … LocalEpochs−1): rate η = LearningRate.RateAt(epochOffset + e); for mini-batch SGD the
/// row order is reshuffled (Fisher–Yates with one <see cref="SeededRandom"/>(seed) for the whole call, the
/// permutation carried over between epochs; full batch never shuffles and never draws), then batches of
/// BatchSize consecutive rows of that order (the last one may be smaller) each take one step:
/// <code>
/// g ← ∇L_B(w)                     (model's mean gradient over the batch)
/// g ← g + L2·(m ⊙ w)              (if L2 &gt; 0; m = RegularizationMask)
/// g ← g + μ·(w − w_global)        (if ProximalMu &gt; 0)
/// w ← w − η·g
/// </code>
/// </summary>
public sealed class LocalTrainer
{
    public LocalTrainer(TrainConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
    }

    public TrainConfig Config { get; }

    /// <summary>
    /// Trains a clone of <paramref name="globalModel"/> (left unchanged) on <paramref name="data"/> and returns
    /// Δ = w_local − w_global with the sample count. The FedProx anchor is the global model's parameters.
    /// <paramref name="epochOffset"/> is added to the local epoch index for the learning-rate schedule
    /// (federated rounds use round × LocalEpochs when the schedule should decay across rounds).
    /// </summary>
    public LocalUpdate Train(IModel globalModel, Dataset data, ulong seed, int epochOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(globalModel);
        IModel local = globalModel.Clone();
        ReadOnlySpan<double> global = globalModel.Parameters;
        (double loss, int steps) = Run(local, data, seed, epochOffset, global);
        double[] delta = new double[local.ParameterCount];
        TensorPrimitives.Subtract(local.Parameters, global, delta);
        return new LocalUpdate(delta, data.Count, loss, steps);
    }

    /// <summary>
    /// Trains <paramref name="model"/> in place (centralised training). The proximal term, if μ &gt; 0, pulls
    /// towards the parameters the model had when the call began. Returns the last epoch's mean batch loss.
    /// </summary>
    public double Fit(IModel model, Dataset data, ulong seed, int epochOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        double[] anchor = model.Parameters.ToArray();
        return Run(model, data, seed, epochOffset, anchor).Loss;
    }

    private (double Loss, int Steps) Run(IModel model, Dataset data, ulong seed, int epochOffset, ReadOnlySpan<double> anchor)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(epochOffset);
        if (data.Count == 0)
        {
            throw new ArgumentException("Local training needs at least one row.", nameof(data));
        }

        if (data.FeatureCount != model.InputDimension)
        {
            throw new ArgumentException($"The data has {data.FeatureCount} features; the model expects {model.InputDimension}.", nameof(data));
        }

        int n = data.Count;
        int batchSize = Config.BatchSize == 0 || Config.BatchSize >= n ? n : Config.BatchSize;
        bool fullBatch = batchSize == n;
        var random = new SeededRandom(seed);
        int[] order = ModelExtensions.AllRows(n);
        double[] gradient = new double[model.ParameterCount];
        double[] scratch = new double[model.ParameterCount];
        ReadOnlySpan<double> mask = model.RegularizationMask;
        double lastEpochLoss = 0;
        int steps = 0;
        for (int e = 0; e < Config.LocalEpochs; e++)
        {
            double rate = Config.LearningRate.RateAt(epochOffset + e);
            if (!fullBatch && Config.Shuffle)
            {
                random.Shuffle(order.AsSpan());
            }

            double epochLoss = 0;
            int batches = 0;
            for (int start = 0; start < n; start += batchSize)
            {
                ReadOnlySpan<int> batch = order.AsSpan(start, Math.Min(batchSize, n - start));
                Span<double> w = model.Parameters;
                epochLoss += model.LossAndGradient(data, batch, gradient);
                batches++;
                if (Config.L2 > 0)
                {
                    TensorPrimitives.Multiply(w, mask, scratch);
                    TensorPrimitives.MultiplyAdd(scratch, Config.L2, gradient, gradient);
                }

                if (Config.ProximalMu > 0)
                {
                    TensorPrimitives.Subtract(w, anchor, scratch);
                    TensorPrimitives.MultiplyAdd(scratch, Config.ProximalMu, gradient, gradient);
                }

                TensorPrimitives.MultiplyAdd(gradient, -rate, w, w);
                steps++;
            }

            lastEpochLoss = epochLoss / batches;
        }

        return (lastEpochLoss, steps);
    }
}
