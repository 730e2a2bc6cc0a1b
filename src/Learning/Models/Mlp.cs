using System.Numerics.Tensors;
using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.Learning.Models;

/// <summary>Hidden-layer non-linearity of an <see cref="Mlp"/>.</summary>
public enum Activation
{
    /// <summary>max(0, z); hidden weights He-initialised, N(0, 2/fan_in).</summary>
    ReLU = 0,

    /// <summary>tanh z; hidden weights Xavier-initialised, U(±√(6/(fan_in + fan_out))).</summary>
    Tanh = 1,
}

/// <summary>
/// Fully connected network with one or more hidden layers and a task-specific head (sigmoid for binary,
/// softmax for multiclass, identity for regression; same losses as the linear models). Layer sizes
/// n₀ = d, n₁ … n_H (hidden), n_{H+1} = output (1, or K classes). Parameter layout: for each layer l = 1 … H+1
/// in order, W_l (n_l × n_{l−1}, row-major: row j = the incoming weights of unit j) then b_l (n_l).
/// Initialisation, deterministic in the seed: one <see cref="SeededRandom"/>(seed) draws the weights in layout
/// order — hidden layers He normal (ReLU) or Xavier uniform (tanh), the output layer Xavier uniform —
/// and all biases start at 0.
/// </summary>
public sealed class Mlp : IModel
{
    private readonly int[] _sizes;
    private readonly int[] _weightOffsets;
    private readonly int[] _biasOffsets;
    private readonly double[] _parameters;
    private readonly double[] _mask;
    private readonly double[][] _preActivations;
    private readonly double[][] _activations;
    private readonly double[][] _deltas;

    /// <param name="inputDimension">Number of features d.</param>
    /// <param name="hiddenSizes">Units per hidden layer (one or two layers are typical; at least one).</param>
    /// <param name="task">The head and loss.</param>
    /// <param name="activation">Hidden non-linearity.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="classCount">Number of classes for <see cref="ModelTask.MulticlassClassification"/>; ignored otherwise.</param>
    public Mlp(int inputDimension, IReadOnlyList<int> hiddenSizes, ModelTask task, Activation activation, ulong seed, int classCount = 2)
        : this(inputDimension, hiddenSizes, task, activation, classCount)
    {
        var random = new SeededRandom(seed);
        var gaussian = new GaussianSampler(random);
        int layers = _sizes.Length - 1;
        for (int l = 0; l < layers; l++)
        {
            int fanIn = _sizes[l];
            int fanOut = _sizes[l + 1];
            Span<double> w = _parameters.AsSpan(_weightOffsets[l], fanIn * fanOut);
            bool hidden = l < layers - 1;
            if (hidden && activation == Activation.ReLU)
            {
                gaussian.Fill(w, 0.0, Math.Sqrt(2.0 / fanIn));
            }
            else
            {
                double limit = Math.Sqrt(6.0 / (fanIn + fanOut));
                for (int i = 0; i < w.Length; i++)
                {
                    w[i] = ((2.0 * random.NextDouble()) - 1.0) * limit;
                }
            }
        }
    }

    private Mlp(int inputDimension, IReadOnlyList<int> hiddenSizes, ModelTask task, Activation activation, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputDimension);
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        if (hiddenSizes.Count == 0 || hiddenSizes.Any(h => h <= 0))
        {
            throw new ArgumentException("An MLP needs at least one hidden layer, each with at least one unit.", nameof(hiddenSizes));
        }

        if (!Enum.IsDefined(task))
        {
            throw new ArgumentOutOfRangeException(nameof(task), task, "Unknown task.");
        }

        if (!Enum.IsDefined(activation))
        {
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }

        int outputs = 1;
        if (task == ModelTask.MulticlassClassification)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
            outputs = classCount;
        }

        Task = task;
        Activation = activation;
        _sizes = [inputDimension, .. hiddenSizes, outputs];
        int layers = _sizes.Length - 1;
        _weightOffsets = new int[layers];
        _biasOffsets = new int[layers];
        int offset = 0;
        for (int l = 0; l < layers; l++)
        {
            _weightOffsets[l] = offset;
            offset += _sizes[l] * _sizes[l + 1];
            _biasOffsets[l] = offset;
            offset += _sizes[l + 1];
        }

        _parameters = new double[offset];
        _mask = new double[offset];
        for (int l = 0; l < layers; l++)
        {
            _mask.AsSpan(_weightOffsets[l], _sizes[l] * _sizes[l + 1]).Fill(1.0);
        }

        _preActivations = new double[layers][];
        _activations = new double[layers][];
        _deltas = new double[layers][];
        for (int l = 0; l < layers; l++)
        {
            _preActivations[l] = new double[_sizes[l + 1]];
            _activations[l] = new double[_sizes[l + 1]];
            _deltas[l] = new double[_sizes[l + 1]];
        }
    }

    public ModelTask Task { get; }

    public Activation Activation { get; }

    /// <summary>n₀ = d, the hidden sizes, then the output size.</summary>
    public IReadOnlyList<int> LayerSizes => _sizes;

    public int InputDimension => _sizes[0];

    public int OutputDimension => _sizes[^1];

    public int ParameterCount => _parameters.Length;

    public Span<double> Parameters => _parameters;

    public ReadOnlySpan<double> RegularizationMask => _mask;

    private int LayerCount => _sizes.Length - 1;

    public void Predict(ReadOnlySpan<double> features, Span<double> output)
    {
        Numerics.CheckPredict(this, features, output);
        Span<double> logits = Forward(features);
        switch (Task)
        {
            case ModelTask.BinaryClassification:
                output[0] = Numerics.Sigmoid(logits[0]);
                break;
            case ModelTask.MulticlassClassification:
                logits.CopyTo(output);
                Numerics.SoftmaxInPlace(output[..OutputDimension]);
                break;
            default:
                output[0] = logits[0];
                break;
        }
    }

    public double Loss(Dataset data, ReadOnlySpan<int> rows)
    {
        Numerics.CheckBatch(this, data, rows);
        double total = 0;
        foreach (int i in rows)
        {
            Span<double> logits = Forward(data.Row(i));
            total += HeadLossAndDelta(logits, data.Label(i), delta: default);
        }

        return total / rows.Length;
    }

    public double LossAndGradient(Dataset data, ReadOnlySpan<int> rows, Span<double> gradient)
    {
        Numerics.CheckBatch(this, data, rows);
        Numerics.CheckGradient(this, gradient);
        gradient.Clear();
        double total = 0;
        foreach (int i in rows)
        {
            ReadOnlySpan<double> x = data.Row(i);
            Span<double> logits = Forward(x);
            total += HeadLossAndDelta(logits, data.Label(i), _deltas[LayerCount - 1]);
            Backward(x, gradient);
        }

        TensorPrimitives.Divide(gradient, rows.Length, gradient);
        return total / rows.Length;
    }

    public IModel Clone()
    {
        var copy = new Mlp(InputDimension, _sizes[1..^1], Task, Activation, OutputDimension);
        _parameters.CopyTo(copy._parameters, 0);
        return copy;
    }

    private ReadOnlySpan<double> Weights(int layer, int unit) =>
        _parameters.AsSpan(_weightOffsets[layer] + (unit * _sizes[layer]), _sizes[layer]);

    /// <summary>Forward pass; returns the output logits (pre-head values).</summary>
    private Span<double> Forward(ReadOnlySpan<double> x)
    {
        ReadOnlySpan<double> input = x;
        for (int l = 0; l < LayerCount; l++)
        {
            double[] z = _preActivations[l];
            ReadOnlySpan<double> bias = _parameters.AsSpan(_biasOffsets[l], z.Length);
            for (int j = 0; j < z.Length; j++)
            {
                z[j] = TensorPrimitives.Dot(Weights(l, j), input) + bias[j];
            }

            if (l < LayerCount - 1)
            {
                double[] a = _activations[l];
                if (Activation == Activation.ReLU)
                {
                    TensorPrimitives.Max(z, 0.0, a);
                }
                else
                {
                    TensorPrimitives.Tanh(z, a);
                }

                input = a;
            }
        }

        return _preActivations[LayerCount - 1];
    }

    /// <summary>Loss of one row from its logits; when <paramref name="delta"/> is non-empty writes ∂loss/∂logits there.</summary>
    private double HeadLossAndDelta(Span<double> logits, double label, Span<double> delta)
    {
        switch (Task)
        {
            case ModelTask.BinaryClassification:
            {
                double z = logits[0];
                if (!delta.IsEmpty)
                {
                    delta[0] = Numerics.Sigmoid(z) - label;
                }

                return Numerics.BinaryCrossEntropyFromLogit(z, label);
            }

            case ModelTask.MulticlassClassification:
            {
                int y = Numerics.ClassOf(label, OutputDimension);
                double logit = logits[y];
                Span<double> p = delta.IsEmpty ? stackalloc double[logits.Length] : delta;
                logits.CopyTo(p);
                double loss = Numerics.SoftmaxInPlace(p) - logit;
                p[y] -= 1.0;
                return loss;
            }

            default:
            {
                double r = logits[0] - label;
                if (!delta.IsEmpty)
                {
                    delta[0] = r;
                }

                return 0.5 * r * r;
            }
        }
    }

    /// <summary>Back-propagates _deltas[last] (already set) and adds this row's gradient to <paramref name="gradient"/>.</summary>
    private void Backward(ReadOnlySpan<double> x, Span<double> gradient)
    {
        for (int l = LayerCount - 1; l >= 0; l--)
        {
            double[] delta = _deltas[l];
            ReadOnlySpan<double> input = l == 0 ? x : _activations[l - 1];
            int fanIn = _sizes[l];
            for (int j = 0; j < delta.Length; j++)
            {
                Span<double> gw = gradient.Slice(_weightOffsets[l] + (j * fanIn), fanIn);
                TensorPrimitives.MultiplyAdd(input, delta[j], gw, gw);
                gradient[_biasOffsets[l] + j] += delta[j];
            }

            if (l == 0)
            {
                break;
            }

            double[] previous = _deltas[l - 1];
            Array.Clear(previous);
            for (int j = 0; j < delta.Length; j++)
            {
                TensorPrimitives.MultiplyAdd(Weights(l, j), delta[j], previous, previous);
            }

            double[] z = _preActivations[l - 1];
            double[] a = _activations[l - 1];
            for (int u = 0; u < previous.Length; u++)
            {
                previous[u] *= Activation == Activation.ReLU
                    ? (z[u] > 0 ? 1.0 : 0.0)
                    : 1.0 - (a[u] * a[u]);
            }
        }
    }
}
