
namespace PrivateHealth.Learning.Models;

/// <summary>
/// Binary logistic regression, P(y = 1 | x) = σ(w·x + b). Parameter layout (d + 1 values):
/// [w₀, …, w_{d−1}, b]. Starts at zero (the loss is convex). Loss: mean binary cross-entropy.
/// </summary>
public sealed class LogisticRegression(int inputDimension) : SingleOutputLinearModel(inputDimension)
{
    public override ModelTask Task => ModelTask.BinaryClassification;

    /// <summary>The logit w·x + b.</summary>
    public double Logit(ReadOnlySpan<double> features) => Linear(features);

    protected override double Output(double z) => Numerics.Sigmoid(z);

    protected override double PointLoss(double z, double y) => Numerics.BinaryCrossEntropyFromLogit(z, y);

    protected override double PointLossDerivative(double z, double y) => Numerics.Sigmoid(z) - y;

    protected override SingleOutputLinearModel CreateEmpty() => new LogisticRegression(InputDimension);
}
