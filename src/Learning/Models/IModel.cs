using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Models;

/// <summary>What a model predicts, which fixes its loss and its output.</summary>
public enum ModelTask
{
    /// <summary>Labels 0/1. Output: P(y = 1). Loss: binary cross-entropy (log-loss).</summary>
    BinaryClassification = 0,

    /// <summary>Labels 0 … K−1. Output: K class probabilities. Loss: categorical cross-entropy.</summary>
    MulticlassClassification = 1,

    /// <summary>Real labels. Output: ŷ. Loss: ½(ŷ − y)² (so the gradient is (ŷ − y)·∂ŷ/∂θ).</summary>
    Regression = 2,
}

/// <summary>
/// A differentiable model with all parameters in one flat array, so a model travels as a vector (e.g. packed
/// into CKKS slots) and federated averaging is vector arithmetic. Each implementation documents its
/// parameter layout. Losses and gradients are means over the given rows (no regularisation: L2 and the
/// FedProx term belong to <see cref="Training.LocalTrainer"/>). Implementations keep scratch buffers and are
/// not thread-safe; use <see cref="Clone"/> per thread.
/// </summary>
public interface IModel
{
    ModelTask Task { get; }

    /// <summary>Number of input features.</summary>
    int InputDimension { get; }

    /// <summary>Values written by <see cref="Predict"/> per row: 1, or the class count for multiclass.</summary>
    int OutputDimension { get; }

    int ParameterCount { get; }

    /// <summary>The live parameter vector (length <see cref="ParameterCount"/>); writes change the model.</summary>
    Span<double> Parameters { get; }

    /// <summary>1 for parameters subject to L2 regularisation (weights), 0 for the others (biases).</summary>
    ReadOnlySpan<double> RegularizationMask { get; }

    /// <summary>Predicts one row: P(y=1), class probabilities or ŷ, by <see cref="Task"/>.</summary>
    void Predict(ReadOnlySpan<double> features, Span<double> output);

    /// <summary>Mean loss over <paramref name="rows"/> of <paramref name="data"/>.</summary>
    double Loss(Dataset data, ReadOnlySpan<int> rows);

    /// <summary>
    /// Mean loss over <paramref name="rows"/>; overwrites <paramref name="gradient"/> with the gradient of that
    /// mean with respect to <see cref="Parameters"/>. Rows are accumulated in the order given.
    /// </summary>
    double LossAndGradient(Dataset data, ReadOnlySpan<int> rows, Span<double> gradient);

    /// <summary>An independent copy (same architecture and parameters, fresh scratch buffers).</summary>
    IModel Clone();
}
