using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Statistics;

namespace PrivateHealth.EncryptedQuery.Evaluation;

/// <summary>One SELECT item's answer for one group.</summary>
/// <param name="Item">The item as written (canonical form), e.g. <c>AVG(mean_radius)</c>.</param>
/// <param name="Value">Scalar answer (COUNT, SUM, AVG, VAR, STDDEV, COVAR, CORR); null otherwise.</param>
/// <param name="Histogram">HISTOGRAM: bin label → count.</param>
/// <param name="Regression">LINREG: the fit.</param>
public sealed record ItemResult(string Item, double? Value, IReadOnlyDictionary<string, double>? Histogram, LinearRegressionResult? Regression);

/// <summary>The answers for one GROUP BY combination (an empty key without GROUP BY).</summary>
public sealed record GroupResult(IReadOnlyDictionary<string, string> Key, double Count, IReadOnlyList<ItemResult> Items);

/// <summary>The finished statistics of a query.</summary>
public sealed record QueryResult(IReadOnlyList<GroupResult> Groups);

/// <summary>
/// The researcher's side: from the decrypted result slots, finishes the statistics (means from sums and counts,
/// variances, correlations, regressions from the normal equations) per group.
/// </summary>
public static class QueryResultReader
{
    /// <param name="plan">The query's plan.</param>
    /// <param name="slots">The decrypted result (normalized blocks, as the evaluator produced them).</param>
    /// <param name="released">The blocks that were released (default all); suppressed groups are absent from the result.</param>
    public static QueryResult Read(QueryPlan plan, ReadOnlySpan<double> slots, IEnumerable<OutputBlock>? released = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var layout = plan.Layout;
        var schema = plan.Schema;
        var normalization = new BlockNormalization(schema, layout.Cells);
        var blocks = new List<(IReadOnlyDictionary<string, string> Key, BlockStatistics Stats)>();
        foreach (var b in released ?? plan.Blocks)
        {
            var block = layout.BlockAt(slots, b.Slot);
            normalization.Inverse(block);
            blocks.Add((b.Key, new BlockStatistics(layout.Cells, block)));
        }

        var groupNames = plan.GroupDimensions.Select(d => schema.Dimensions[d].Name).ToArray();
        var groups = new List<GroupResult>();
        foreach (var group in blocks.GroupBy(b => string.Join("\u0001", groupNames.Select(n => b.Key[n]))))
        {
            var members = group.ToList();
            IReadOnlyDictionary<string, string> key = groupNames.ToDictionary(n => n, n => members[0].Key[n], StringComparer.Ordinal);
            var merged = BlockStatistics.Add([.. members.Select(m => m.Stats)]);
            var items = new List<ItemResult>();
            foreach (var planned in plan.Items)
            {
                string name = Describe(planned.Item);
                var m = planned.Measures;
                items.Add(planned.Item.Kind switch
                {
                    AggregateKind.Count => new ItemResult(name, merged.Count, null, null),
                    AggregateKind.Sum => new ItemResult(name, merged.Sum(m[0]), null, null),
                    AggregateKind.Avg => new ItemResult(name, Defined(() => merged.Mean(m[0])), null, null),
                    AggregateKind.Var => new ItemResult(name, Defined(() => merged.Variance(m[0])), null, null),
                    AggregateKind.Stddev => new ItemResult(name, Defined(() => merged.StandardDeviation(m[0])), null, null),
                    AggregateKind.Covar => new ItemResult(name, Defined(() => merged.Covariance(m[0], m[1])), null, null),
                    AggregateKind.Corr => new ItemResult(name, Defined(() => merged.Correlation(m[0], m[1])), null, null),
                    AggregateKind.LinReg => new ItemResult(name, null, null, Regression(merged, planned.Target, m)),
                    AggregateKind.Histogram => new ItemResult(name, null, Histogram(schema.Dimensions[planned.Dimension], members), null),
                    _ => throw new InvalidOperationException($"Unsupported item {planned.Item.Kind}."),
                });
            }

            groups.Add(new GroupResult(key, merged.Count, items));
        }

        return new QueryResult(groups);
    }

    /// <summary>A statistic that noise made undefined (count ≤ 0 or ≤ 1) is NaN rather than an error.</summary>
    private static double Defined(Func<double> statistic)
    {
        try
        {
            return statistic();
        }
        catch (InvalidOperationException)
        {
            return double.NaN;
        }
    }

    private static LinearRegressionResult? Regression(BlockStatistics merged, int target, IReadOnlyList<int> regressors)
    {
        try
        {
            return merged.LinearRegression(target, regressors);
        }
        catch (InvalidOperationException)
        {
            return null; // too few people (or too much noise) for a fit
        }
    }

    private static Dictionary<string, double> Histogram(Schema.DimensionSpec dimension, List<(IReadOnlyDictionary<string, string> Key, BlockStatistics Stats)> members)
    {
        var bins = dimension.Labels.ToDictionary(l => l, _ => 0.0, StringComparer.Ordinal);
        foreach (var (key, stats) in members)
        {
            bins[key[dimension.Name]] += stats.Count;
        }

        return bins;
    }

    private static string Describe(SelectItem item)
    {
        string name = item.Kind.ToString().ToUpperInvariant();
        return item.Kind switch
        {
            AggregateKind.Count => "COUNT(*)",
            AggregateKind.LinReg => $"LINREG({item.Target!.Name} ~ {string.Join(" + ", item.Arguments.Select(a => a.Name))})",
            _ => $"{name}({string.Join(", ", item.Arguments.Select(a => a.Name))})",
        };
    }
}
