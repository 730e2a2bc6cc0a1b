using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Federated;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.EncryptedQuery.Tests.Schema;
using PrivateHealth.Homomorphic.Ckks;

namespace PrivateHealth.EncryptedQuery.Tests.Federated;

/// <summary>
/// Schema mode when the WHERE clause names only dimensions; federated mode when it names other fields, in which case
/// agents apply it to their own data and the answer over their summed contributions equals the plaintext answer over
/// the matching rows.
/// </summary>
public sealed class QueryModeTests
{
    private static readonly CohortSchema Schema = EncodingTestData.BreastCancerSchema() with { Id = "breast_cancer" };

    [Theory]
    [InlineData("SELECT COUNT(*) FROM breast_cancer", QueryMode.Schema)]
    [InlineData("SELECT COUNT(*), AVG(mean_radius) FROM breast_cancer WHERE label = '1' GROUP BY radius_bin", QueryMode.Schema)]
    [InlineData("SELECT COUNT(*) FROM breast_cancer WHERE worst_texture > 20 GROUP BY label", QueryMode.Federated)]
    [InlineData("SELECT AVG(mean_area) FROM breast_cancer WHERE label = '1' AND mean_symmetry BETWEEN 0.1 AND 0.2", QueryMode.Federated)]
    public void TheModeFollowsTheWhereClause(string text, QueryMode expected) =>
        Assert.Equal(expected, QueryModes.Plan(text, Schema).Mode);

    [Theory]
    [InlineData("SELECT AVG(bmi) FROM breast_cancer WHERE worst_texture > 20", "bmi")]
    [InlineData("SELECT COUNT(*) FROM breast_cancer WHERE worst_texture > 20 GROUP BY region", "region")]
    public void FederatedModeStillNeedsTheSchemasMeasuresAndGroups(string text, string unknown)
    {
        var ex = Assert.ThrowsAny<FormatException>(() => QueryModes.Plan(text, Schema));
        Assert.Contains(unknown, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFederatedAnswerOverFilteredContributionsEqualsThePlaintextAnswerOverTheMatchingRows()
    {
        const string text = "SELECT COUNT(*), AVG(mean_radius), VAR(mean_area) FROM breast_cancer WHERE worst_texture > 25 AND mean_symmetry < 0.2 GROUP BY label";
        var rows = EncodingTestData.Rows();
        var moded = QueryModes.Plan(text, Schema);
        Assert.Equal(QueryMode.Federated, moded.Mode);
        var filter = moded.LocalFilter(Schema);
        var encoder = new ContributionEncoder(Schema);

        // every agent uploads: its encoded vector when it matches, zeros otherwise
        var total = PlainAggregator.Sum(rows.Select(r => filter.Matches(r) ? encoder.Encode(r) : new double[encoder.Layout.SlotCount]));
        var codec = new AnalyticsCodec(CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216), moded.Plan.Layout);
        var answer = QueryResultReader.Read(moded.Plan, moded.Plan.EvaluatePlain(codec.Slots(total)));

        var matching = rows.Where(r => (double)r["worst_texture"] > 25 && (double)r["mean_symmetry"] < 0.2).ToList();
        Assert.InRange(matching.Count, 50, rows.Count - 50); // the filter really selects
        foreach (var group in answer.Groups)
        {
            var mine = matching.Where(r => (string)r["target"] == group.Key["label"]).ToList();
            Assert.Equal(mine.Count, group.Count, 9);
            Assert.Equal(mine.Average(r => (double)r["mean_radius"]), group.Items[1].Value!.Value, 9);
            double mean = mine.Average(r => (double)r["mean_area"]);
            double variance = mine.Sum(r => ((double)r["mean_area"] - mean) * ((double)r["mean_area"] - mean)) / (mine.Count - 1);
            Assert.True(Math.Abs(variance - group.Items[2].Value!.Value) <= 1e-9 * variance, $"VAR {group.Items[2].Value} vs {variance}");
        }
    }
}
