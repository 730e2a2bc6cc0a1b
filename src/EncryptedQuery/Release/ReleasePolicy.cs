using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Release;

/// <summary>Settings of the release policy of a cohort.</summary>
public sealed record ReleaseSettings
{
    /// <summary>Differential privacy on (the default). Off only in test configurations, to check exactness.</summary>
    public bool DifferentialPrivacy { get; init; } = true;

    /// <summary>Smallest noisy count a released group may have; smaller groups are suppressed. Default 10.</summary>
    public int MinGroupSize { get; init; } = 10;

    /// <summary>ε spent by one query (split between the noisy counts and the statistics).</summary>
    public double EpsilonPerQuery { get; init; } = 1.0;

    /// <summary>δ spent by one query.</summary>
    public double DeltaPerQuery { get; init; } = 1e-7;

    /// <summary>Fraction of a query's ε and δ spent on the noisy counts that decide suppression. Default 0.25.</summary>
    public double CountShare { get; init; } = 0.25;

    public void Validate()
    {
        if (MinGroupSize < 0) { throw new ArgumentOutOfRangeException(nameof(MinGroupSize), "must be ≥ 0"); }
        if (DifferentialPrivacy && !(EpsilonPerQuery > 0 && double.IsFinite(EpsilonPerQuery))) { throw new ArgumentOutOfRangeException(nameof(EpsilonPerQuery), "must be > 0"); }
        if (DifferentialPrivacy && !(DeltaPerQuery > 0 && DeltaPerQuery < 1)) { throw new ArgumentOutOfRangeException(nameof(DeltaPerQuery), "must be in (0, 1)"); }
        if (!(CountShare > 0 && CountShare < 1)) { throw new ArgumentOutOfRangeException(nameof(CountShare), "must be in (0, 1)"); }
    }
}

/// <summary>
/// The one place where the release of a query result is decided. A person contributes to exactly one cell, hence to at
/// most one output block, and clipping bounds each value of that block, so the L2 sensitivity of the released vector
/// is the norm of the largest possible block — √B, since blocks are released in the normalized domain where every
/// entry of one person's block lies in [0, 1]. The Gaussian mechanism adds N(0, σ²) to every released slot with
/// σ = Δ₂·√(2 ln(1.25/δ))/ε, each of the t decrypting custodians adding an encrypted share N(0, σ²/t).
/// </summary>
public static class ReleasePolicy
{
    /// <summary>
    /// L2 sensitivity of one person's block in the normalized domain (<see cref="Evaluation.BlockNormalization"/>):
    /// every entry of a person's block is in [0, 1], so the norm is at most √B.
    /// </summary>
    public static double BlockSensitivity(CohortSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return Math.Sqrt(new CellLayout(schema).BlockSize);
    }

    /// <summary>The count-only L2 sensitivity (a person changes one count by 1).</summary>
    public const double CountSensitivity = 1.0;

    /// <summary>Gaussian-mechanism standard deviation for (ε, δ) and L2 sensitivity Δ₂.</summary>
    public static double GaussianSigma(double sensitivity, double epsilon, double delta)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epsilon);
        if (!(delta > 0 && delta < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "δ must be in (0, 1).");
        }

        return sensitivity * Math.Sqrt(2 * Math.Log(1.25 / delta)) / epsilon;
    }

    /// <summary>Noise standard deviation of the counts pass and of the statistics pass of one query.</summary>
    public static (double CountSigma, double StatisticsSigma) Sigmas(CohortSchema schema, ReleaseSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.DifferentialPrivacy)
        {
            return (0, 0);
        }

        return (GaussianSigma(CountSensitivity, settings.EpsilonPerQuery * settings.CountShare, settings.DeltaPerQuery * settings.CountShare),
            GaussianSigma(BlockSensitivity(schema), settings.EpsilonPerQuery * (1 - settings.CountShare), settings.DeltaPerQuery * (1 - settings.CountShare)));
    }

    /// <summary>Blocks whose noisy count reaches the minimum group size (the others are suppressed).</summary>
    public static IReadOnlyList<OutputBlock> Released(QueryPlan plan, ReadOnlySpan<double> noisyCountSlots, int minGroupSize)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var kept = new List<OutputBlock>();
        foreach (var block in plan.Blocks)
        {
            if (noisyCountSlots[block.Slot] >= minGroupSize)
            {
                kept.Add(block);
            }
        }

        return kept;
    }

    /// <summary>Noise vector of one custodian's share: N(0, σ²/t) on the released blocks' slots, 0 elsewhere.</summary>
    public static double[] NoiseShare(QueryPlan plan, IEnumerable<OutputBlock> blocks, double sigma, int threshold, Func<double> standardNormal, int slots, bool countsOnly = false)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(standardNormal);
        var noise = new double[slots];
        double share = sigma / Math.Sqrt(threshold);
        int width = countsOnly ? 1 : plan.Layout.Cells.BlockSize;
        foreach (var block in blocks)
        {
            for (int t = 0; t < width; t++)
            {
                noise[block.Slot + t] = share * standardNormal();
            }
        }

        return noise;
    }
}

/// <summary>Refusal of a query that would exceed the cohort's privacy budget; nothing was spent.</summary>
public sealed class PrivacyBudgetExceededException(string message) : InvalidOperationException(message);

/// <summary>
/// The (ε, δ) budget of a cohort under basic composition: a query is admitted only if its cost fits, and then spent
/// atomically; a refused query spends nothing.
/// </summary>
public sealed class PrivacyBudgetLedger(double epsilon, double delta)
{
    private readonly Lock _lock = new();

    public double Epsilon { get; } = epsilon;
    public double Delta { get; } = delta;
    public double SpentEpsilon { get; private set; }
    public double SpentDelta { get; private set; }

    public (double Epsilon, double Delta) Remaining
    {
        get
        {
            lock (_lock)
            {
                return (Epsilon - SpentEpsilon, Delta - SpentDelta);
            }
        }
    }

    /// <summary>Spends (ε, δ) or throws <see cref="PrivacyBudgetExceededException"/> without spending.</summary>
    public void Spend(double epsilon, double delta)
    {
        lock (_lock)
        {
            if (SpentEpsilon + epsilon > Epsilon + 1e-12 || SpentDelta + delta > Delta + 1e-18)
            {
                throw new PrivacyBudgetExceededException(
                    $"The query needs ε = {epsilon:G4}, δ = {delta:G3}; the cohort has ε = {Epsilon - SpentEpsilon:G4}, δ = {Delta - SpentDelta:G3} left. Nothing was spent.");
            }

            SpentEpsilon += epsilon;
            SpentDelta += delta;
        }
    }
}
