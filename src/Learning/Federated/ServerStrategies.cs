using System.Buffers.Binary;
using System.Numerics.Tensors;

namespace PrivateHealth.Learning.Federated;

/// <summary>
/// Server-side optimisation strategies (Flower naming). The numeric values are part of the persisted state format
/// (<see cref="IServerStrategy.ExportState"/>) and must never change.
/// </summary>
public enum ServerStrategyKind
{
    /// <summary>Federated averaging (McMahan et al. 2017): w ← w + η·Δ̄ (η = 1 is plain FedAvg).</summary>
    FedAvg = 0,

    /// <summary>
    /// FedProx (Li et al. 2020). The proximal term μ/2·‖w − w_global‖² is applied <b>client-side</b> by
    /// <see cref="Training.LocalTrainer"/> (see <see cref="Training.TrainConfig.ProximalMu"/>); on the server FedProx is
    /// exactly FedAvg.
    /// </summary>
    FedProx = 1,

    /// <summary>FedAvg with server momentum (Hsu et al. 2019): v ← β·v + Δ̄, w ← w + η·v.</summary>
    FedAvgM = 2,

    /// <summary>
    /// FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2, no bias correction):
    /// m ← β₁·m + (1−β₁)·Δ̄, v ← β₂·v + (1−β₂)·Δ̄², w ← w + η·m / (√v + τ).
    /// </summary>
    FedAdam = 3,
}

/// <summary>
/// Hyper-parameters of a server strategy. Every field is validated regardless of <see cref="Kind"/>, so a typo in an
/// unused field is still reported. These are configuration, not state: they are not stored by
/// <see cref="IServerStrategy.ExportState"/>, so a restarted coordinator must pass the same values to resume exactly.
/// </summary>
public sealed record ServerStrategyOptions
{
    /// <summary>Which strategy. Default <see cref="ServerStrategyKind.FedAvg"/>.</summary>
    public ServerStrategyKind Kind { get; init; } = ServerStrategyKind.FedAvg;

    /// <summary>
    /// Server learning rate η (finite, &gt; 0). Default 1.0, which makes FedAvg/FedProx identical to
    /// <see cref="FedAvg.Apply"/>. FedAdam's step is ≈ η per coordinate in early rounds (|m/√v| ≈ 1), so FedAdam
    /// normally wants a much smaller η (Reddi et al. tune it on a log grid; 10⁻²…10⁻¹ is a usual start).
    /// </summary>
    public double ServerLearningRate { get; init; } = 1.0;

    /// <summary>FedAvgM server momentum β in [0, 1). Default 0.9 (Hsu et al. 2019). β = 0 is FedAvg.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>FedAdam first-moment decay β₁ in [0, 1). Default 0.9.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>FedAdam second-moment decay β₂ in [0, 1). Default 0.99.</summary>
    public double Beta2 { get; init; } = 0.99;

    /// <summary>
    /// FedAdam adaptivity τ (finite, &gt; 0), added to √v. Default 10⁻³ (Reddi et al. found larger τ ≈ 10⁻³ robust;
    /// Flower's default is 10⁻⁹). A large τ matters here: the decrypted average carries CKKS noise (≈ 10⁻⁷ or less),
    /// and with τ = 10⁻⁹ a coordinate whose true delta is 0 would take a full ±η step driven by that noise alone;
    /// with τ = 10⁻³ the step is ≈ η·noise/τ, i.e. negligible.
    /// </summary>
    public double Epsilon { get; init; } = 1e-3;

    /// <summary>Throws <see cref="ArgumentException"/> (or a subclass) naming the first invalid value.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"Unknown server strategy; valid: {ServerStrategy.ValidNames}.");
        }

        if (!double.IsFinite(ServerLearningRate) || !(ServerLearningRate > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(ServerLearningRate), ServerLearningRate, "The server learning rate must be finite and positive.");
        }

        CheckDecay(Momentum, nameof(Momentum));
        CheckDecay(Beta1, nameof(Beta1));
        CheckDecay(Beta2, nameof(Beta2));
        if (!double.IsFinite(Epsilon) || !(Epsilon > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "The FedAdam adaptivity τ (Epsilon) must be finite and positive.");
        }
    }

    private static void CheckDecay(double value, string name)
    {
        if (!(value >= 0 && value < 1))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1).");
        }
    }
}

/// <summary>
/// The post-decryption half of a server strategy. The homomorphic half is always the same weighted sum
/// (<see cref="FedAvg.Weight(ReadOnlySpan{double}, long, Span{double})"/> by each client, ciphertext addition by the server);
/// after decryption <see cref="FedAvg.Average"/> gives Δ̄ and <see cref="Apply"/> turns it into new global parameters.
/// Deltas use the convention Δ = w_local − w_global, so Δ̄ is the negative pseudo-gradient.
/// Instances are not thread-safe; one instance serves one training run.
/// </summary>
public interface IServerStrategy
{
    /// <summary>The strategy implemented.</summary>
    ServerStrategyKind Kind { get; }

    /// <summary>
    /// Updates the optimiser state with Δ̄ and applies the step to <paramref name="globalParameters"/> in place.
    /// Both spans must have the strategy's parameter count and Δ̄ must be finite (checked before anything changes).
    /// </summary>
    void Apply(Span<double> globalParameters, ReadOnlySpan<double> averageDelta);

    /// <summary>
    /// The optimiser state (empty payload for FedAvg/FedProx, v for FedAvgM, m and v for FedAdam) as a versioned
    /// little-endian blob; <see cref="ServerStrategy.Create"/> restores it bit-exactly.
    /// </summary>
    byte[] ExportState();
}

/// <summary>Parsing and construction of <see cref="IServerStrategy"/> instances.</summary>
public static class ServerStrategy
{
    /// <summary>State blob magic, ASCII "PHSS" (PrivateHealth server strategy).</summary>
    internal static ReadOnlySpan<byte> Magic => "PHSS"u8;

    /// <summary>Current state format version.</summary>
    internal const int FormatVersion = 1;

    /// <summary>Header: magic (4) + version (int32) + kind (int32) + parameter count (int32) + array count (int32).</summary>
    internal const int HeaderSize = 20;

    internal const string ValidNames = "fedavg, fedprox, fedavgm, fedadam";

    /// <summary>
    /// Parses "fedavg", "fedprox", "fedavgm" or "fedadam" (case-insensitive, surrounding white space ignored).
    /// </summary>
    /// <exception cref="ArgumentException">For any other name, listing the valid names.</exception>
    public static ServerStrategyKind Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToUpperInvariant() switch
        {
            "FEDAVG" => ServerStrategyKind.FedAvg,
            "FEDPROX" => ServerStrategyKind.FedProx,
            "FEDAVGM" => ServerStrategyKind.FedAvgM,
            "FEDADAM" => ServerStrategyKind.FedAdam,
            _ => throw new ArgumentException(
                $"Unknown server strategy '{name}'. Valid strategies: {ValidNames}. Robust aggregators such as median, " +
                "trimmed mean or Krum are not offered: they need every client's plaintext update, but the server only " +
                "ever sees the decrypted sum of encrypted updates.",
                nameof(name)),
        };
    }

    /// <summary>The canonical lower-case name accepted by <see cref="Parse"/>.</summary>
    public static string Name(ServerStrategyKind kind) => kind switch
    {
        ServerStrategyKind.FedAvg => "fedavg",
        ServerStrategyKind.FedProx => "fedprox",
        ServerStrategyKind.FedAvgM => "fedavgm",
        ServerStrategyKind.FedAdam => "fedadam",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Unknown server strategy; valid: {ValidNames}."),
    };

    /// <summary>
    /// Creates a strategy for <paramref name="parameterCount"/> parameters, with zero optimiser state or the state
    /// previously returned by <see cref="IServerStrategy.ExportState"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid options or parameter count.</exception>
    /// <exception cref="FormatException">
    /// The state is truncated, has trailing bytes, a wrong magic/version, another strategy kind or parameter count,
    /// or non-finite (or, for FedAdam's v, negative) values.
    /// </exception>
    public static IServerStrategy Create(ServerStrategyOptions options, int parameterCount, byte[]? state = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);

        int arrays = ArrayCount(options.Kind);
        double[][] buffers = new double[arrays][];
        for (int a = 0; a < arrays; a++)
        {
            buffers[a] = new double[parameterCount];
        }

        if (state is not null)
        {
            Read(state, options.Kind, parameterCount, buffers);
        }

        return options.Kind switch
        {
            ServerStrategyKind.FedAvg or ServerStrategyKind.FedProx => new SgdStrategy(options, parameterCount),
            ServerStrategyKind.FedAvgM => new MomentumStrategy(options, buffers[0]),
            ServerStrategyKind.FedAdam => new AdamStrategy(options, buffers[0], buffers[1]),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Kind, "Unknown server strategy."),
        };
    }

    internal static int ArrayCount(ServerStrategyKind kind) => kind switch
    {
        ServerStrategyKind.FedAvgM => 1,
        ServerStrategyKind.FedAdam => 2,
        _ => 0,
    };

    internal static byte[] Write(ServerStrategyKind kind, int parameterCount, params ReadOnlySpan<double[]> arrays)
    {
        byte[] blob = new byte[checked(HeaderSize + (arrays.Length * parameterCount * sizeof(double)))];
        Span<byte> span = blob;
        Magic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], (int)kind);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], parameterCount);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], arrays.Length);
        int offset = HeaderSize;
        foreach (double[] array in arrays)
        {
            foreach (double value in array)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(span[offset..], value);
                offset += sizeof(double);
            }
        }

        return blob;
    }

    private static void Read(byte[] state, ServerStrategyKind kind, int parameterCount, double[][] buffers)
    {
        ReadOnlySpan<byte> span = state;
        if (span.Length < HeaderSize)
        {
            throw new FormatException($"Server strategy state is truncated: {span.Length} bytes, the header alone is {HeaderSize}.");
        }

        if (!span[..4].SequenceEqual(Magic))
        {
            throw new FormatException("Server strategy state has the wrong magic; it is not a state exported by ServerStrategy.");
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        if (version != FormatVersion)
        {
            throw new FormatException($"Server strategy state has format version {version}; this build reads version {FormatVersion}.");
        }

        int storedKind = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        if (storedKind != (int)kind)
        {
            string stored = Enum.IsDefined((ServerStrategyKind)storedKind) ? Name((ServerStrategyKind)storedKind) : $"unknown kind {storedKind}";
            throw new FormatException($"Server strategy state was exported by {stored}, but the options ask for {Name(kind)}.");
        }

        int storedCount = BinaryPrimitives.ReadInt32LittleEndian(span[12..]);
        if (storedCount != parameterCount)
        {
            throw new FormatException($"Server strategy state is for {storedCount} parameters, but the model has {parameterCount}.");
        }

        int storedArrays = BinaryPrimitives.ReadInt32LittleEndian(span[16..]);
        if (storedArrays != buffers.Length)
        {
            throw new FormatException($"Server strategy state holds {storedArrays} arrays; {Name(kind)} needs {buffers.Length}.");
        }

        long expected = HeaderSize + ((long)buffers.Length * parameterCount * sizeof(double));
        if (span.Length != expected)
        {
            throw new FormatException($"Server strategy state has {span.Length} bytes; {Name(kind)} with {parameterCount} parameters needs {expected}.");
        }

        int offset = HeaderSize;
        for (int a = 0; a < buffers.Length; a++)
        {
            double[] buffer = buffers[a];
            for (int i = 0; i < buffer.Length; i++)
            {
                double value = BinaryPrimitives.ReadDoubleLittleEndian(span[offset..]);
                offset += sizeof(double);
                if (!double.IsFinite(value))
                {
                    throw new FormatException($"Server strategy state array {a} has a non-finite value at index {i}.");
                }

                buffer[i] = value;
            }
        }

        if (kind == ServerStrategyKind.FedAdam && TensorPrimitives.Min<double>(buffers[1]) < 0)
        {
            throw new FormatException("FedAdam state has a negative second moment v.");
        }
    }

    internal static void CheckInputs(int parameterCount, Span<double> globalParameters, ReadOnlySpan<double> averageDelta)
    {
        if (globalParameters.Length != parameterCount)
        {
            throw new ArgumentException($"Expected {parameterCount} global parameters, got {globalParameters.Length}.", nameof(globalParameters));
        }

        if (averageDelta.Length != parameterCount)
        {
            throw new ArgumentException($"Expected {parameterCount} delta values, got {averageDelta.Length}.", nameof(averageDelta));
        }

        for (int i = 0; i < averageDelta.Length; i++)
        {
            if (!double.IsFinite(averageDelta[i]))
            {
                throw new ArgumentException($"The average delta has a non-finite value at index {i}.", nameof(averageDelta));
            }
        }
    }

    /// <summary>FedAvg / FedProx: w ← w + η·Δ̄ (stateless). With η = 1 this is exactly <see cref="FedAvg.Apply"/>.</summary>
    private sealed class SgdStrategy(ServerStrategyOptions options, int parameterCount) : IServerStrategy
    {
        private readonly double _lr = options.ServerLearningRate;

        public ServerStrategyKind Kind { get; } = options.Kind;

        public void Apply(Span<double> globalParameters, ReadOnlySpan<double> averageDelta)
        {
            CheckInputs(parameterCount, globalParameters, averageDelta);
            if (_lr == 1.0)
            {
                FedAvg.Apply(globalParameters, averageDelta);
            }
            else
            {
                // Unfused (x·y) + z, the same rounding as the schoolbook g + η·Δ.
                TensorPrimitives.MultiplyAdd(averageDelta, _lr, globalParameters, globalParameters);
            }
        }

        public byte[] ExportState() => Write(Kind, parameterCount);
    }

    /// <summary>FedAvgM: v ← β·v + Δ̄; w ← w + η·v.</summary>
    private sealed class MomentumStrategy(ServerStrategyOptions options, double[] velocity) : IServerStrategy
    {
        private readonly double _lr = options.ServerLearningRate;
        private readonly double _momentum = options.Momentum;

        public ServerStrategyKind Kind => ServerStrategyKind.FedAvgM;

        public void Apply(Span<double> globalParameters, ReadOnlySpan<double> averageDelta)
        {
            CheckInputs(velocity.Length, globalParameters, averageDelta);
            TensorPrimitives.MultiplyAdd(velocity, _momentum, averageDelta, velocity);
            TensorPrimitives.MultiplyAdd(velocity, _lr, globalParameters, globalParameters);
        }

        public byte[] ExportState() => Write(Kind, velocity.Length, velocity);
    }

    /// <summary>FedAdam: m ← β₁·m + (1−β₁)·Δ̄; v ← β₂·v + (1−β₂)·Δ̄²; w ← w + η·m / (√v + τ).</summary>
    private sealed class AdamStrategy(ServerStrategyOptions options, double[] firstMoment, double[] secondMoment) : IServerStrategy
    {
        private readonly double _lr = options.ServerLearningRate;
        private readonly double _beta1 = options.Beta1;
        private readonly double _beta2 = options.Beta2;
        private readonly double _tau = options.Epsilon;
        private readonly double[] _scratch = new double[firstMoment.Length];

        public ServerStrategyKind Kind => ServerStrategyKind.FedAdam;

        public void Apply(Span<double> globalParameters, ReadOnlySpan<double> averageDelta)
        {
            CheckInputs(firstMoment.Length, globalParameters, averageDelta);
            Span<double> scratch = _scratch;

            // m = β₁·m + (1−β₁)·Δ
            TensorPrimitives.Multiply(averageDelta, 1 - _beta1, scratch);
            TensorPrimitives.MultiplyAdd(firstMoment, _beta1, scratch, firstMoment);

            // v = β₂·v + (1−β₂)·Δ²
            TensorPrimitives.Multiply(averageDelta, averageDelta, scratch);
            TensorPrimitives.Multiply(scratch, 1 - _beta2, scratch);
            TensorPrimitives.MultiplyAdd(secondMoment, _beta2, scratch, secondMoment);

            // w = w + η·m / (√v + τ)
            TensorPrimitives.Sqrt(secondMoment, scratch);
            TensorPrimitives.Add(scratch, _tau, scratch);
            TensorPrimitives.Divide(firstMoment, scratch, scratch);
            TensorPrimitives.MultiplyAdd(scratch, _lr, globalParameters, globalParameters);
        }

        public byte[] ExportState() => Write(Kind, firstMoment.Length, firstMoment, secondMoment);
    }
}
