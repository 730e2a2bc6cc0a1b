namespace PrivateHealth.Learning.Training;

/// <summary>Kinds of <see cref="LearningRateSchedule"/>.</summary>
public enum LearningRateScheduleKind
{
    /// <summary>η(e) = η₀.</summary>
    Constant = 0,

    /// <summary>η(e) = η₀ · factor^⌊e / stepEpochs⌋.</summary>
    StepDecay = 1,

    /// <summary>η(e) = η₀ · factor^e.</summary>
    ExponentialDecay = 2,
}

/// <summary>
/// Learning rate as a function of the epoch index e (0-based). In federated training the epoch index is
/// <c>epochOffset + local epoch</c>, where the caller chooses the offset (see <see cref="LocalTrainer.Train"/>),
/// so a schedule can decay across rounds. Build with <see cref="Constant"/>, <see cref="Step"/> or <see cref="Exponential"/>.
/// </summary>
public sealed record LearningRateSchedule
{
    private LearningRateSchedule(LearningRateScheduleKind kind, double initialRate, double factor, int stepEpochs)
    {
        if (!(initialRate > 0) || !double.IsFinite(initialRate))
        {
            throw new ArgumentOutOfRangeException(nameof(initialRate), initialRate, "The learning rate must be positive and finite.");
        }

        if (!(factor > 0 && factor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "The decay factor must lie in (0, 1].");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepEpochs);
        Kind = kind;
        InitialRate = initialRate;
        Factor = factor;
        StepEpochs = stepEpochs;
    }

    public LearningRateScheduleKind Kind { get; }

    /// <summary>η₀.</summary>
    public double InitialRate { get; }

    /// <summary>Multiplicative decay (1 for constant).</summary>
    public double Factor { get; }

    /// <summary>Epochs per step for <see cref="LearningRateScheduleKind.StepDecay"/> (1 otherwise).</summary>
    public int StepEpochs { get; }

    public static LearningRateSchedule Constant(double rate) => new(LearningRateScheduleKind.Constant, rate, 1.0, 1);

    /// <summary>η₀ multiplied by <paramref name="factor"/> every <paramref name="stepEpochs"/> epochs.</summary>
    public static LearningRateSchedule Step(double initialRate, double factor, int stepEpochs) =>
        new(LearningRateScheduleKind.StepDecay, initialRate, factor, stepEpochs);

    /// <summary>η₀ multiplied by <paramref name="factor"/> every epoch.</summary>
    public static LearningRateSchedule Exponential(double initialRate, double factor) =>
        new(LearningRateScheduleKind.ExponentialDecay, initialRate, factor, 1);

    /// <summary>The rate for epoch index <paramref name="epoch"/> (≥ 0).</summary>
    public double RateAt(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return Kind switch
        {
            LearningRateScheduleKind.StepDecay => InitialRate * Math.Pow(Factor, epoch / StepEpochs),
            LearningRateScheduleKind.ExponentialDecay => InitialRate * Math.Pow(Factor, epoch),
            _ => InitialRate,
        };
    }
}
