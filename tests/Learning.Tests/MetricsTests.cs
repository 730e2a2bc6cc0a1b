using PrivateHealth.Learning.Data;
using PrivateHealth.Learning.Evaluation;
using PrivateHealth.Learning.Models;

namespace PrivateHealth.Learning.Tests;

public sealed class MetricsTests
{
    [Fact]
    public void AccuracyCountsMatchingPredictions()
    {
        Assert.Equal(0.75, Metrics.Accuracy([0, 1, 2, 1], [0, 1, 1, 1]));
        Assert.Equal(2.0 / 3, Metrics.Accuracy([1.0, 0.0, 1.0], [0.5, 0.49, 0.2]));
    }

    [Fact]
    public void RocAucHandlesTiesWithHalfCredit()
    {
        // Positives 0.4, 0.8, 0.4; negatives 0.1, 0.4, 0.9. Pairs won: 0.4 → 1 + ½ + 0, 0.8 → 1 + 1 + 0,
        // 0.4 → 1 + ½ + 0; total 5 of 9. Mid-ranks: 0.1 → 1, the three 0.4 → 3, 0.8 → 5, 0.9 → 6; (3 + 3 + 5 − 6) / 9.
        Assert.Equal(5.0 / 9, Metrics.RocAuc([0, 0, 1, 1, 1, 0], [0.1, 0.4, 0.4, 0.8, 0.4, 0.9]), 15);
    }

    [Fact]
    public void RocAucIsOneForPerfectRankingHalfForConstantScoresAndZeroWhenReversed()
    {
        double[] labels = [0, 1, 0, 1];
        Assert.Equal(1.0, Metrics.RocAuc(labels, [0.1, 0.9, 0.2, 0.8]));
        Assert.Equal(0.5, Metrics.RocAuc(labels, [0.3, 0.3, 0.3, 0.3]));
        Assert.Equal(0.0, Metrics.RocAuc(labels, [0.9, 0.1, 0.8, 0.2]));
    }

    [Fact]
    public void RocAucNeedsBothClasses()
    {
        Assert.Throws<ArgumentException>(() => Metrics.RocAuc([1, 1], [0.2, 0.3]));
    }

    [Fact]
    public void LogLossMatchesHandComputedValues()
    {
        // −(ln 0.9 + ln 0.8 + ln 0.6) / 3
        Assert.Equal(0.2797765635793423, Metrics.LogLoss([1, 0, 1], [0.9, 0.2, 0.6]), 15);

        // p = 0 for a positive is clipped to 1e-15: −ln 1e-15 = 34.538776394910684
        Assert.Equal(34.538776394910684, Metrics.LogLoss([1], [0.0]), 12);
    }

    [Fact]
    public void MulticlassLogLossMatchesHandComputedValues()
    {
        // Probabilities of the true classes 0.7, 0.5, 0.2: −(ln 0.7 + ln 0.5 + ln 0.2) / 3
        double[] probabilities = [0.7, 0.2, 0.1, 0.3, 0.5, 0.2, 0.5, 0.3, 0.2];
        Assert.Equal(0.8864200123109262, Metrics.MulticlassLogLoss([0, 1, 2], probabilities, 3), 15);
    }

    [Fact]
    public void MeanSquaredErrorAndRSquaredMatchHandComputedValues()
    {
        double[] actual = [1, 2, 3, 4];
        double[] predicted = [1.5, 2, 2, 4];

        // residuals 0.5, 0, −1, 0 → MSE 1.25 / 4; mean 2.5, SS_tot 5 → R² = 1 − 1.25 / 5
        Assert.Equal(0.3125, Metrics.MeanSquaredError(actual, predicted), 15);
        Assert.Equal(0.75, Metrics.RSquared(actual, predicted), 15);
        Assert.Equal(1.0, Metrics.RSquared([2, 2], [2, 2]));
        Assert.True(double.IsNaN(Metrics.RSquared([2, 2], [2, 3])));
    }

    [Fact]
    public void ModelLossOfLogisticRegressionEqualsTheLogLossMetric()
    {
        var data = Dataset.FromRows([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]], new[] { 1, 0, 1 });
        var model = new LogisticRegression(2);
        model.SetParameters([0.4, -0.3, 0.1]);
        var result = ModelEvaluator.Evaluate(model, data);
        Assert.Equal(result.LogLoss!.Value, result.Loss, 12);
        Assert.Null(result.MeanSquaredError);
    }

    [Fact]
    public void EvaluationOmitsAucWhenOnlyOneClassIsPresent()
    {
        var data = Dataset.FromRows([[1.0], [2.0]], new[] { 1, 1 });
        var result = ModelEvaluator.Evaluate(new LogisticRegression(1), data);
        Assert.Null(result.RocAuc);
        Assert.Equal(Math.Log(2), result.Loss, 12);
    }
}
