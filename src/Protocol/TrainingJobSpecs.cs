using System.Globalization;
using PrivateHealth.Learning.Federated;
using PrivateHealth.Learning.Models;
using PrivateHealth.Learning.Training;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Protocol;

/// <summary>
/// Defaults, validation and interpretation of <see cref="TrainingJobSpec"/>, shared by the coordinator and the
/// participant agent so that both read a job the same way.
/// </summary>
public static class TrainingJobSpecs
{
    /// <summary>Model names accepted in <see cref="TrainingJobSpec.Model"/>.</summary>
    public static IReadOnlyList<string> Models { get; } = ["logistic", "linear", "softmax"];

    /// <summary>Strategy names accepted in <see cref="TrainingJobSpec.Strategy"/>.</summary>
    public static IReadOnlyList<string> Strategies { get; } = ["fedavg", "fedprox", "fedavgm", "fedadam"];

    /// <summary>Whether the job is a federated query's collection (one round of encrypted analytics contributions).</summary>
    public static bool IsFederatedQuery(this TrainingJobSpec spec) => spec?.FederatedQuery is not null;

    /// <summary>A copy with every unset (zero or empty) field given its default.</summary>
    public static TrainingJobSpec WithDefaults(this TrainingJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var s = spec.Clone();
        if (s.IsFederatedQuery())
        {
            // one collection round over every consenting online agent; too few answers fail the query
            if (s.Rounds == 0) { s.Rounds = 1; }
            if (s.SampleFraction == 0) { s.SampleFraction = 1.0; }
            if (s.MinParticipants == 0) { s.MinParticipants = 10; }
            if (s.RoundDeadlineMs == 0) { s.RoundDeadlineMs = 120_000; }
            if (string.IsNullOrEmpty(s.OnTooFew)) { s.OnTooFew = "fail"; }
            if (s.MinAvailable == 0) { s.MinAvailable = s.MinParticipants; }
            return s;
        }

        if (string.IsNullOrEmpty(s.Model)) { s.Model = "logistic"; }
        if (s.Classes == 0) { s.Classes = s.Model == "softmax" ? 2 : 1; }
        if (s.Rounds == 0) { s.Rounds = 10; }
        if (s.SampleFraction == 0) { s.SampleFraction = 1.0; }
        if (s.MinParticipants == 0) { s.MinParticipants = 2; }
        if (s.RoundDeadlineMs == 0) { s.RoundDeadlineMs = 120_000; }
        if (s.LocalEpochs == 0) { s.LocalEpochs = 1; }
        if (s.BatchSize == 0) { s.BatchSize = 32; }
        if (s.LearningRate == 0) { s.LearningRate = 0.1; }
        if (string.IsNullOrEmpty(s.Strategy)) { s.Strategy = "fedavg"; }
        if (s.ServerLearningRate == 0) { s.ServerLearningRate = 1.0; }
        if (s.ServerMomentum == 0) { s.ServerMomentum = 0.9; }
        if (s.AdamBeta1 == 0) { s.AdamBeta1 = 0.9; }
        if (s.AdamBeta2 == 0) { s.AdamBeta2 = 0.99; }
        if (s.AdamEpsilon == 0) { s.AdamEpsilon = 1e-3; }
        if (string.IsNullOrEmpty(s.OnTooFew)) { s.OnTooFew = "extend"; }
        if (s.MaxRoundExtensions == 0) { s.MaxRoundExtensions = 3; }
        if (s.MinAvailable == 0) { s.MinAvailable = s.MinParticipants; }
        return s;
    }

    /// <summary>All problems of a (defaulted) spec, empty when it is valid.</summary>
    public static IReadOnlyList<string> Problems(this TrainingJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var p = new List<string>();
        if (string.IsNullOrWhiteSpace(spec.CohortId)) { p.Add("cohort_id is required."); }
        if (spec.IsFederatedQuery())
        {
            if (string.IsNullOrWhiteSpace(spec.FederatedQuery.QueryJobId)) { p.Add("federated_query.query_job_id is required."); }
            if (string.IsNullOrWhiteSpace(spec.FederatedQuery.Query)) { p.Add("federated_query.query is required."); }
            if (spec.Rounds != 1) { p.Add("a federated query collects in exactly one round."); }
            if (!(spec.SampleFraction > 0 && spec.SampleFraction <= 1)) { p.Add("sample_fraction must be in (0, 1]."); }
            if (spec.MinParticipants < 1) { p.Add("min_participants must be >= 1."); }
            if (spec.MinAvailable < spec.MinParticipants) { p.Add("min_available must be >= min_participants."); }
            if (spec.RoundDeadlineMs < 100) { p.Add("round_deadline_ms must be >= 100."); }
            if (spec.WaitAfterMinimumMs < 0) { p.Add("wait_after_minimum_ms must be >= 0."); }
            if (spec.OnTooFew is not ("extend" or "fail")) { p.Add("on_too_few must be 'extend' or 'fail'."); }
            if (spec.MaxRoundExtensions < 0) { p.Add("max_round_extensions must be >= 0."); }
            return p;
        }

        if (!Models.Contains(spec.Model)) { p.Add($"model '{spec.Model}' is not one of {string.Join(", ", Models)}."); }
        if (spec.Features is < 1 or > 1_000_000) { p.Add("features must be in [1, 1000000]."); }
        if (spec.Model == "softmax" && spec.Classes < 2) { p.Add("softmax needs classes >= 2."); }
        if (spec.Rounds is < 1 or > 100_000) { p.Add("rounds must be in [1, 100000]."); }
        if (!(spec.SampleFraction > 0 && spec.SampleFraction <= 1)) { p.Add("sample_fraction must be in (0, 1]."); }
        if (spec.MinParticipants < 1) { p.Add("min_participants must be >= 1."); }
        if (spec.MinAvailable < spec.MinParticipants) { p.Add("min_available must be >= min_participants."); }
        if (spec.RoundDeadlineMs < 100) { p.Add("round_deadline_ms must be >= 100."); }
        if (spec.WaitAfterMinimumMs < 0) { p.Add("wait_after_minimum_ms must be >= 0."); }
        if (spec.LocalEpochs is < 1 or > 10_000) { p.Add("local_epochs must be in [1, 10000]."); }
        if (spec.BatchSize < 1) { p.Add("batch_size must be >= 1."); }
        if (!(spec.LearningRate > 0) || double.IsInfinity(spec.LearningRate)) { p.Add("learning_rate must be > 0."); }
        if (!Strategies.Contains(spec.Strategy))
        {
            p.Add($"strategy '{spec.Strategy}' is not one of {string.Join(", ", Strategies)} (median, Krum and trimmed mean need per-client plaintext updates and are not offered).");
        }

        if (spec.ProximalMu < 0) { p.Add("proximal_mu must be >= 0."); }
        if (spec.Strategy == "fedprox" && !(spec.ProximalMu > 0)) { p.Add("fedprox needs proximal_mu > 0."); }
        if (!(spec.ServerLearningRate > 0)) { p.Add("server_learning_rate must be > 0."); }
        if (spec.ServerMomentum is < 0 or >= 1) { p.Add("server_momentum must be in [0, 1)."); }
        if (spec.AdamBeta1 is < 0 or >= 1 || spec.AdamBeta2 is < 0 or >= 1) { p.Add("adam betas must be in [0, 1)."); }
        if (!(spec.AdamEpsilon > 0)) { p.Add("adam_epsilon must be > 0."); }
        if (spec.DpNoiseMultiplier < 0) { p.Add("dp_noise_multiplier must be >= 0."); }
        if (spec.DpNoiseMultiplier > 0 && !(spec.DpClipNorm > 0)) { p.Add("dp_noise_multiplier > 0 needs dp_clip_norm > 0."); }
        if (spec.DpClipNorm < 0) { p.Add("dp_clip_norm must be >= 0."); }
        if (spec.OnTooFew is not ("extend" or "fail")) { p.Add("on_too_few must be 'extend' or 'fail'."); }
        if (spec.MaxRoundExtensions < 0) { p.Add("max_round_extensions must be >= 0."); }
        if (spec.L2 < 0) { p.Add("l2 must be >= 0."); }
        return p;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem of the spec.</summary>
    public static void Validate(this TrainingJobSpec spec)
    {
        var problems = spec.Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid training job: " + string.Join(" ", problems), nameof(spec));
        }
    }

    /// <summary>The initial (all-zero) model the job starts from.</summary>
    public static IModel CreateModel(this TrainingJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Model switch
        {
            "logistic" => new LogisticRegression(spec.Features),
            "linear" => new LinearRegression(spec.Features),
            "softmax" => new SoftmaxRegression(spec.Features, spec.Classes),
            _ => throw new ArgumentException($"Unknown model '{spec.Model}'.", nameof(spec)),
        };
    }

    /// <summary>The model with the given parameters.</summary>
    public static IModel CreateModel(this TrainingJobSpec spec, ReadOnlySpan<double> parameters)
    {
        var model = spec.CreateModel();
        if (parameters.Length != model.ParameterCount)
        {
            throw new ArgumentException($"The model has {model.ParameterCount} parameters; got {parameters.Length}.", nameof(parameters));
        }

        parameters.CopyTo(model.Parameters);
        return model;
    }

    /// <summary>Number of model parameters.</summary>
    public static int ParameterCount(this TrainingJobSpec spec) => spec.CreateModel().ParameterCount;

    /// <summary>Values after the weight in an upload: Σ loss, Σ correct and the examples they are over (see <see cref="UploadLength"/>).</summary>
    public const int MetricValues = 3;

    /// <summary>
    /// Length of an uploaded vector: the weighted parameters, the weight, then the round's metrics of the global model
    /// on the participant's data before it trains (Σ loss, Σ correct predictions, examples) — summed under encryption
    /// like the update, so only the round's totals are ever decrypted.
    /// </summary>
    public static int UploadLength(this TrainingJobSpec spec) => spec.ParameterCount() + 1 + MetricValues;

    /// <summary>Whether DP noise is added (noise multiplier &gt; 0); updates are then clipped and weighted 1.</summary>
    public static bool DifferentialPrivacy(this TrainingJobSpec spec) => spec.DpNoiseMultiplier > 0;

    /// <summary>The federated configuration participants train with (FedProx's μ included).</summary>
    public static FederatedConfig ToFederatedConfig(this TrainingJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new FederatedConfig
        {
            Rounds = spec.Rounds,
            Seed = spec.Seed,
            Local = new TrainConfig
            {
                LocalEpochs = spec.LocalEpochs,
                BatchSize = spec.BatchSize,
                LearningRate = LearningRateSchedule.Constant(spec.LearningRate),
                ProximalMu = spec.Strategy == "fedprox" ? spec.ProximalMu : 0,
                L2 = spec.L2,
            },
        };
    }

    /// <summary>The post-decryption server step of the job's strategy.</summary>
    public static ServerStrategyOptions ToStrategyOptions(this TrainingJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new ServerStrategyOptions
        {
            Kind = ServerStrategy.Parse(spec.Strategy),
            ServerLearningRate = spec.ServerLearningRate,
            Momentum = spec.ServerMomentum,
            Beta1 = spec.AdamBeta1,
            Beta2 = spec.AdamBeta2,
            Epsilon = spec.AdamEpsilon,
        };
    }

    /// <summary>A stable client index derived from a participant id (seeds the participant's local training).</summary>
    public static int ClientIndexOf(string participantId)
    {
        ArgumentNullException.ThrowIfNull(participantId);
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(participantId));
        return (int)(BitConverter.ToUInt32(hash) & 0x7FFFFFFF);
    }

    /// <summary>Short human description, for logs.</summary>
    public static string Describe(this TrainingJobSpec spec) => string.Create(CultureInfo.InvariantCulture,
        $"{spec.Strategy} {spec.Model}({spec.Features}) cohort={spec.CohortId} rounds={spec.Rounds} fraction={spec.SampleFraction} min={spec.MinParticipants}");
}
