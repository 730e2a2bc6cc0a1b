namespace PrivateHealth.Learning.Training;

/// <summary>
/// Local training hyper-parameters for <see cref="LocalTrainer"/>. The objective minimised on a mini-batch B is
/// L_B(w) + (L2/2)·‖m ⊙ w‖² + (ProximalMu/2)·‖w − w_global‖², with L_B the model's mean loss over B and m its
/// <see cref="Models.IModel.RegularizationMask"/> (weights 1, biases 0).
/// </summary>
public sealed record TrainConfig
{
    /// <summary>Passes over the local data per call (E). Default 1.</summary>
    public int LocalEpochs { get; init; } = 1;

    /// <summary>Mini-batch size; 0 or ≥ the row count means full batch (plain gradient descent). Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Learning rate per epoch. Default constant 0.1.</summary>
    public LearningRateSchedule LearningRate { get; init; } = LearningRateSchedule.Constant(0.1);

    /// <summary>L2 coefficient λ on the weights (not biases). Default 0.</summary>
    public double L2 { get; init; }

    /// <summary>FedProx μ: proximal term μ/2·‖w − w_global‖² on all parameters. 0 = plain FedAvg local SGD. Default 0.</summary>
    public double ProximalMu { get; init; }

    /// <summary>Reshuffle the rows before every mini-batch epoch (never done for full batch). Default true.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(LocalEpochs);
        ArgumentOutOfRangeException.ThrowIfNegative(BatchSize);
        ArgumentNullException.ThrowIfNull(LearningRate);
        if (!(L2 >= 0) || !double.IsFinite(L2))
        {
            throw new ArgumentOutOfRangeException(nameof(L2), L2, "L2 must be finite and non-negative.");
        }

        if (!(ProximalMu >= 0) || !double.IsFinite(ProximalMu))
        {
            throw new ArgumentOutOfRangeException(nameof(ProximalMu), ProximalMu, "The proximal μ must be finite and non-negative.");
        }
    }
}
