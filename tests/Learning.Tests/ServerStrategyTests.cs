using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using PrivateHealth.Learning.Federated;

namespace PrivateHealth.Learning.Tests;

public sealed class ServerStrategyTests
{
    private static readonly ServerStrategyKind[] AllKinds =
        [ServerStrategyKind.FedAvg, ServerStrategyKind.FedProx, ServerStrategyKind.FedAvgM, ServerStrategyKind.FedAdam];

    public static TheoryData<ServerStrategyKind> Kinds => new(AllKinds);

    /// <summary>Plain-loop reference implementations of the documented update rules.</summary>
    private sealed class Schoolbook(ServerStrategyOptions options, int n)
    {
        private readonly double[] _m = new double[n];
        private readonly double[] _v = new double[n];

        public void Apply(double[] global, double[] delta)
        {
            double lr = options.ServerLearningRate;
            for (int i = 0; i < n; i++)
            {
                switch (options.Kind)
                {
                    case ServerStrategyKind.FedAvg:
                    case ServerStrategyKind.FedProx:
                        global[i] += lr * delta[i];
                        break;
                    case ServerStrategyKind.FedAvgM:
                        _v[i] = (options.Momentum * _v[i]) + delta[i];
                        global[i] += lr * _v[i];
                        break;
                    case ServerStrategyKind.FedAdam:
                        _m[i] = (options.Beta1 * _m[i]) + ((1 - options.Beta1) * delta[i]);
                        _v[i] = (options.Beta2 * _v[i]) + ((1 - options.Beta2) * delta[i] * delta[i]);
                        global[i] += lr * _m[i] / (Math.Sqrt(_v[i]) + options.Epsilon);
                        break;
                    default:
                        throw new InvalidOperationException();
                }
            }
        }
    }

    private static double[] RandomVector(Random random, int n, double scale)
    {
        double[] values = new double[n];
        for (int i = 0; i < n; i++)
        {
            // Some exact zeros (FedAdam's τ guard) among values of mixed magnitude.
            values[i] = random.Next(8) == 0 ? 0.0 : (random.NextDouble() * 2 - 1) * scale * Math.Pow(10, -random.Next(4));
        }

        return values;
    }

    private static ServerStrategyOptions RandomOptions(ServerStrategyKind kind, Random random) => new()
    {
        Kind = kind,
        ServerLearningRate = random.Next(3) == 0 ? 1.0 : 0.01 + random.NextDouble(),
        Momentum = random.NextDouble() * 0.99,
        Beta1 = random.NextDouble() * 0.99,
        Beta2 = 0.5 + random.NextDouble() * 0.499,
        Epsilon = Math.Pow(10, -random.Next(1, 10)),
    };

    private static long[] Bits(double[] values) => Array.ConvertAll(values, BitConverter.DoubleToInt64Bits);

    [Fact]
    public void EveryStrategyMatchesTheSchoolbookLoopOverSeveralSteps()
    {
        var cases = Gen.Choose(0, int.MaxValue).Zip(Gen.Choose(0, AllKinds.Length - 1)).ToArbitrary();
        Prop.ForAll(cases, tuple =>
        {
            (int seed, int kindIndex) = tuple;
            var random = new Random(seed);
            ServerStrategyOptions options = RandomOptions(AllKinds[kindIndex], random);
            int n = random.Next(1, 40);
            IServerStrategy strategy = ServerStrategy.Create(options, n);
            var reference = new Schoolbook(options, n);
            Assert.Equal(options.Kind, strategy.Kind);

            double[] global = RandomVector(random, n, 5);
            double[] expected = (double[])global.Clone();
            int steps = random.Next(1, 9);
            for (int step = 0; step < steps; step++)
            {
                double[] delta = RandomVector(random, n, 1);
                strategy.Apply(global, delta);
                reference.Apply(expected, delta);
                for (int i = 0; i < n; i++)
                {
                    Assert.Equal(expected[i], global[i], 1e-12 * Math.Max(1, Math.Abs(expected[i])));
                }
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Theory]
    [InlineData(ServerStrategyKind.FedAvg)]
    [InlineData(ServerStrategyKind.FedProx)]
    public void FedAvgAndFedProxWithRateOneEqualFedAvgApplyBitForBit(ServerStrategyKind kind)
    {
        var random = new Random(17);
        const int n = 33;
        IServerStrategy strategy = ServerStrategy.Create(new ServerStrategyOptions { Kind = kind }, n);
        double[] global = RandomVector(random, n, 3);
        double[] expected = (double[])global.Clone();
        for (int step = 0; step < 5; step++)
        {
            double[] delta = RandomVector(random, n, 1);
            strategy.Apply(global, delta);
            FedAvg.Apply(expected, delta);
            Assert.Equal(Bits(expected), Bits(global));
        }
    }

    [Fact]
    public void FedAvgMWithZeroMomentumIsFedAvg()
    {
        var random = new Random(5);
        const int n = 12;
        var options = new ServerStrategyOptions { Kind = ServerStrategyKind.FedAvgM, Momentum = 0, ServerLearningRate = 0.7 };
        IServerStrategy momentum = ServerStrategy.Create(options, n);
        IServerStrategy plain = ServerStrategy.Create(options with { Kind = ServerStrategyKind.FedAvg }, n);
        double[] a = RandomVector(random, n, 1);
        double[] b = (double[])a.Clone();
        for (int step = 0; step < 4; step++)
        {
            double[] delta = RandomVector(random, n, 1);
            momentum.Apply(a, delta);
            plain.Apply(b, delta);
        }

        Assert.Equal(Bits(b), Bits(a));
    }

    [Fact]
    public void FedAdamFirstStepIsBoundedByTheServerRate()
    {
        // With β₁ = 0.9, β₂ = 0.99 the first step is η·0.1Δ/(0.1|Δ| + τ), so |step| < η and the sign follows Δ.
        var options = new ServerStrategyOptions { Kind = ServerStrategyKind.FedAdam, ServerLearningRate = 0.1 };
        IServerStrategy strategy = ServerStrategy.Create(options, 3);
        double[] global = [0, 0, 0];
        strategy.Apply(global, [2.0, -0.5, 0.0]);
        Assert.InRange(global[0], 0.09, 0.1);
        Assert.InRange(global[1], -0.1, -0.09);
        Assert.Equal(0.0, global[2]);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ExportAndRestoreMidRunContinuesBitIdentically(ServerStrategyKind kind)
    {
        var random = new Random(1234 + (int)kind);
        const int n = 29;
        ServerStrategyOptions options = RandomOptions(kind, random);
        IServerStrategy original = ServerStrategy.Create(options, n);
        double[] global = RandomVector(random, n, 2);
        for (int step = 0; step < 4; step++)
        {
            original.Apply(global, RandomVector(random, n, 1));
        }

        byte[] state = original.ExportState();
        IServerStrategy restored = ServerStrategy.Create(options, n, state);
        Assert.Equal(kind, restored.Kind);
        Assert.Equal(state, restored.ExportState());

        double[] restoredGlobal = (double[])global.Clone();
        for (int step = 0; step < 5; step++)
        {
            double[] delta = RandomVector(random, n, 1);
            original.Apply(global, delta);
            restored.Apply(restoredGlobal, delta);
            Assert.Equal(Bits(global), Bits(restoredGlobal));
        }

        Assert.Equal(original.ExportState(), restored.ExportState());
    }

    [Theory]
    [InlineData(ServerStrategyKind.FedAvg, 0)]
    [InlineData(ServerStrategyKind.FedAvgM, 1)]
    [InlineData(ServerStrategyKind.FedAdam, 2)]
    public void StateHasTheDocumentedLayout(ServerStrategyKind kind, int arrays)
    {
        const int n = 3;
        IServerStrategy strategy = ServerStrategy.Create(new ServerStrategyOptions { Kind = kind }, n);
        strategy.Apply(new double[n], [1.5, -2, 0.25]);
        byte[] state = strategy.ExportState();

        Assert.Equal(20 + (arrays * n * sizeof(double)), state.Length);
        Assert.Equal("PHSS"u8.ToArray(), state[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(4)));
        Assert.Equal((int)kind, BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(8)));
        Assert.Equal(n, BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(12)));
        Assert.Equal(arrays, BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(16)));
        if (kind == ServerStrategyKind.FedAvgM)
        {
            Assert.Equal(1.5, BinaryPrimitives.ReadDoubleLittleEndian(state.AsSpan(20)));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TruncatedOrExtendedStateIsRejected(ServerStrategyKind kind)
    {
        var options = new ServerStrategyOptions { Kind = kind };
        IServerStrategy strategy = ServerStrategy.Create(options, 4);
        strategy.Apply(new double[4], [1, 2, 3, 4]);
        byte[] state = strategy.ExportState();

        for (int length = 0; length < state.Length; length++)
        {
            Assert.Throws<FormatException>(() => ServerStrategy.Create(options, 4, state[..length]));
        }

        Assert.Throws<FormatException>(() => ServerStrategy.Create(options, 4, [.. state, 0]));
    }

    [Fact]
    public void StateOfAnotherKindIsRejected()
    {
        foreach (ServerStrategyKind exporter in AllKinds)
        {
            byte[] state = ServerStrategy.Create(new ServerStrategyOptions { Kind = exporter }, 5).ExportState();
            foreach (ServerStrategyKind importer in AllKinds.Where(k => k != exporter))
            {
                var error = Assert.Throws<FormatException>(() => ServerStrategy.Create(new ServerStrategyOptions { Kind = importer }, 5, state));
                Assert.Contains(ServerStrategy.Name(exporter), error.Message, StringComparison.Ordinal);
                Assert.Contains(ServerStrategy.Name(importer), error.Message, StringComparison.Ordinal);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void StateForAnotherParameterCountIsRejected(ServerStrategyKind kind)
    {
        var options = new ServerStrategyOptions { Kind = kind };
        byte[] state = ServerStrategy.Create(options, 5).ExportState();
        var error = Assert.Throws<FormatException>(() => ServerStrategy.Create(options, 6, state));
        Assert.Contains("5 parameters", error.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => ServerStrategy.Create(options, 4, state));
    }

    [Fact]
    public void CorruptHeadersAndValuesAreRejected()
    {
        var options = new ServerStrategyOptions { Kind = ServerStrategyKind.FedAdam };
        IServerStrategy strategy = ServerStrategy.Create(options, 2);
        strategy.Apply(new double[2], [1, -1]);
        byte[] good = strategy.ExportState();
        _ = ServerStrategy.Create(options, 2, good);

        byte[] Corrupt(Action<byte[]> edit)
        {
            byte[] copy = (byte[])good.Clone();
            edit(copy);
            return copy;
        }

        byte[][] bad =
        [
            Corrupt(s => s[0] = (byte)'X'),                                                     // magic
            Corrupt(s => BinaryPrimitives.WriteInt32LittleEndian(s.AsSpan(4), 2)),              // version
            Corrupt(s => BinaryPrimitives.WriteInt32LittleEndian(s.AsSpan(8), 99)),             // unknown kind
            Corrupt(s => BinaryPrimitives.WriteInt32LittleEndian(s.AsSpan(12), -1)),            // count
            Corrupt(s => BinaryPrimitives.WriteInt32LittleEndian(s.AsSpan(16), 1)),             // array count
            Corrupt(s => BinaryPrimitives.WriteDoubleLittleEndian(s.AsSpan(20), double.NaN)),   // m[0]
            Corrupt(s => BinaryPrimitives.WriteDoubleLittleEndian(s.AsSpan(36), double.PositiveInfinity)), // v[0]
            Corrupt(s => BinaryPrimitives.WriteDoubleLittleEndian(s.AsSpan(44), -1e-3)),        // v[1] < 0
        ];
        foreach (byte[] state in bad)
        {
            Assert.Throws<FormatException>(() => ServerStrategy.Create(options, 2, state));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void InvalidApplyInputsThrowAndLeaveEverythingUnchanged(ServerStrategyKind kind)
    {
        var options = new ServerStrategyOptions { Kind = kind, ServerLearningRate = 0.5 };
        IServerStrategy strategy = ServerStrategy.Create(options, 3);
        double[] global = [1, 2, 3];
        strategy.Apply(global, [0.5, 0.25, -1]);
        byte[] state = strategy.ExportState();
        double[] before = (double[])global.Clone();

        Assert.Throws<ArgumentException>(() => strategy.Apply(global, [1, 2]));
        Assert.Throws<ArgumentException>(() => strategy.Apply(global.AsSpan(0, 2), [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => strategy.Apply(global, [1, double.NaN, 3]));
        Assert.Throws<ArgumentException>(() => strategy.Apply(global, [1, 2, double.NegativeInfinity]));

        Assert.Equal(Bits(before), Bits(global));
        Assert.Equal(state, strategy.ExportState());
    }

    [Theory]
    [InlineData("fedavg", ServerStrategyKind.FedAvg)]
    [InlineData("FedAvg", ServerStrategyKind.FedAvg)]
    [InlineData("FEDPROX", ServerStrategyKind.FedProx)]
    [InlineData("fedAvgM", ServerStrategyKind.FedAvgM)]
    [InlineData(" fedadam ", ServerStrategyKind.FedAdam)]
    public void ParseAcceptsTheFourNamesCaseInsensitively(string name, ServerStrategyKind expected)
    {
        Assert.Equal(expected, ServerStrategy.Parse(name));
    }

    [Fact]
    public void NameRoundTripsThroughParse()
    {
        foreach (ServerStrategyKind kind in AllKinds)
        {
            Assert.Equal(kind, ServerStrategy.Parse(ServerStrategy.Name(kind)));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("median")]
    [InlineData("krum")]
    [InlineData("trimmedmean")]
    [InlineData("fedyogi")]
    [InlineData("fed avg")]
    public void ParseRejectsOtherNamesWithAHelpfulMessage(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => ServerStrategy.Parse(name));
        Assert.Equal("name", error.ParamName);
        foreach (string valid in new[] { "fedavg", "fedprox", "fedavgm", "fedadam", "median", "Krum", "plaintext" })
        {
            Assert.Contains(valid, error.Message, StringComparison.Ordinal);
        }

        Assert.Throws<ArgumentNullException>(() => ServerStrategy.Parse(null!));
    }

    [Fact]
    public void DefaultOptionsAreValidAndDocumented()
    {
        var options = new ServerStrategyOptions();
        options.Validate();
        Assert.Equal(ServerStrategyKind.FedAvg, options.Kind);
        Assert.Equal(1.0, options.ServerLearningRate);
        Assert.Equal(0.9, options.Momentum);
        Assert.Equal(0.9, options.Beta1);
        Assert.Equal(0.99, options.Beta2);
        Assert.Equal(1e-3, options.Epsilon);
    }

    public static TheoryData<string, ServerStrategyOptions> BadOptions => new()
    {
        { "Kind", new ServerStrategyOptions { Kind = (ServerStrategyKind)7 } },
        { "ServerLearningRate", new ServerStrategyOptions { ServerLearningRate = 0 } },
        { "ServerLearningRate", new ServerStrategyOptions { ServerLearningRate = -0.1 } },
        { "ServerLearningRate", new ServerStrategyOptions { ServerLearningRate = double.NaN } },
        { "ServerLearningRate", new ServerStrategyOptions { ServerLearningRate = double.PositiveInfinity } },
        { "Momentum", new ServerStrategyOptions { Momentum = 1 } },
        { "Momentum", new ServerStrategyOptions { Momentum = -0.01 } },
        { "Momentum", new ServerStrategyOptions { Momentum = double.NaN } },
        { "Beta1", new ServerStrategyOptions { Beta1 = 1 } },
        { "Beta1", new ServerStrategyOptions { Beta1 = -1 } },
        { "Beta2", new ServerStrategyOptions { Beta2 = 1.5 } },
        { "Beta2", new ServerStrategyOptions { Beta2 = double.NaN } },
        { "Epsilon", new ServerStrategyOptions { Epsilon = 0 } },
        { "Epsilon", new ServerStrategyOptions { Epsilon = -1e-3 } },
        { "Epsilon", new ServerStrategyOptions { Epsilon = double.PositiveInfinity } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void InvalidOptionsAreRejectedByValidateAndCreate(string parameter, ServerStrategyOptions options)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(parameter, error.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => ServerStrategy.Create(options, 3));
    }

    [Fact]
    public void CreateRejectsBadArguments()
    {
        Assert.Throws<ArgumentNullException>(() => ServerStrategy.Create(null!, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => ServerStrategy.Create(new ServerStrategyOptions(), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ServerStrategy.Create(new ServerStrategyOptions(), -4));
    }
}
