using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Models;

namespace PrivateHealth.Learning.Evaluation;

/// <summary>
/// Metrics of a model on a dataset. <see cref="Loss"/> is the model's own mean loss; the other fields are
/// null where they do not apply: binary → accuracy, ROC AUC (null when only one class is present), log-loss;
/// multiclass → accuracy, log-loss; regression → MSE and R².
/// </summary>
public sealed record EvaluationResult(
    int Count,
    double Loss,
    double? Accuracy,
    double? RocAuc,
    double? LogLoss,
    double? MeanSquaredError,
    double? RSquared);

/// <summary>Evaluates an <see cref="IModel"/> on a <see cref="Dataset"/>.</summary>
public static class ModelEvaluator
{
    public static EvaluationResult Evaluate(IModel model, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        double loss = model.Loss(data);
        double[] output = model.PredictAll(data);
        ReadOnlySpan<double> labels = data.Labels;
        switch (model.Task)
        {
            case ModelTask.BinaryClassification:
            {
                bool bothClasses = labels.Contains(1.0) && labels.Contains(0.0);
                return new EvaluationResult(
                    data.Count,
                    loss,
                    Metrics.Accuracy(labels, output),
                    bothClasses ? Metrics.RocAuc(labels, output) : null,
                    Metrics.LogLoss(labels, output),
                    null,
                    null);
            }

            case ModelTask.MulticlassClassification:
            {
                int[] classes = data.ClassLabels();
                return new EvaluationResult(
                    data.Count,
                    loss,
                    Metrics.Accuracy(classes, model.PredictClasses(data)),
                    null,
                    Metrics.MulticlassLogLoss(classes, output, model.OutputDimension),
                    null,
                    null);
            }

            default:
                return new EvaluationResult(
                    data.Count,
                    loss,
                    null,
                    null,
                    null,
                    Metrics.MeanSquaredError(labels, output),
                    Metrics.RSquared(labels, output));
        }
    }
}
