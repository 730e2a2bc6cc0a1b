using System.Globalization;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Planning;

/// <summary>A query that parses but cannot run against the schema; the message points at the offending text.</summary>
public sealed class QueryPlanException(string message, SourceSpan span) : FormatException(message)
{
    public SourceSpan Span { get; } = span;
}

/// <summary>
/// Turns a parsed query into a <see cref="QueryPlan"/> against a cohort schema: filters and GROUP BY must range over
/// schema dimensions, statistics over measures; anything outside the schema is refused with the reason.
/// </summary>
public static class QueryPlanner
{
    /// <summary>Most output blocks a query may release (keeps results small and groups meaningful).</summary>
    public const int MaxBlocks = 4096;

    public static QueryPlan Plan(QueryAst query, CohortSchema schema)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(schema);
        var layout = new SlotLayout(schema);
        if (!string.Equals(query.Cohort.Name, schema.Id, StringComparison.OrdinalIgnoreCase))
        {
            throw Error(query, query.Cohort.Span, $"unknown cohort '{query.Cohort.Name}'; this schema is '{schema.Id}'");
        }

        var items = query.Items.Select(item => Resolve(query, schema, item)).ToList();
        var group = new List<int>();
        foreach (var id in query.GroupBy)
        {
            int d = DimensionIndex(schema, id.Name);
            if (d < 0)
            {
                throw Error(query, id.Span, schema.MeasureIndex(id.Name) >= 0
                    ? $"cannot GROUP BY '{id.Name}': it is a measure; group by a dimension ({Names(schema)})"
                    : $"unknown dimension '{id.Name}' in GROUP BY; dimensions are {Names(schema)}");
            }

            group.Add(d);
        }

        var kept = group.Concat(items.Where(i => i.Dimension >= 0).Select(i => i.Dimension)).Distinct().Order().ToArray();
        var summed = Enumerable.Range(0, schema.Dimensions.Count).Except(kept).ToArray();
        var keptCells = new bool[layout.Cells.CellCount];
        for (int cell = 0; cell < keptCells.Length; cell++)
        {
            keptCells[cell] = query.Where is null || Evaluate(query, schema, query.Where, layout.Cells.Coordinates(cell));
        }

        long blocks = kept.Aggregate(1L, (n, d) => n * schema.Dimensions[d].Size);
        if (blocks > MaxBlocks)
        {
            throw Error(query, query.Span, $"the query would release {blocks} groups; at most {MaxBlocks}");
        }

        var outputs = new List<OutputBlock>();
        var coordinates = new int[schema.Dimensions.Count];
        foreach (var combination in Combinations(kept.Select(d => schema.Dimensions[d].Size).ToArray()))
        {
            Array.Clear(coordinates);
            var key = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < kept.Length; i++)
            {
                coordinates[kept[i]] = combination[i];
                key[schema.Dimensions[kept[i]].Name] = schema.Dimensions[kept[i]].Labels[combination[i]];
            }

            var members = Enumerable.Range(0, keptCells.Length)
                .Where(cell => keptCells[cell] && kept.All(d => layout.Cells.Coordinates(cell)[d] == coordinates[d]))
                .ToList();
            outputs.Add(new OutputBlock(key, layout.SlotOf(coordinates), members));
        }

        return new QueryPlan(query, layout, keptCells, kept, summed, outputs, items, [.. group.Distinct().Order()]);
    }

    private static PlannedItem Resolve(QueryAst query, CohortSchema schema, SelectItem item)
    {
        int Measure(Identifier id)
        {
            int m = schema.MeasureIndex(id.Name);
            if (m < 0)
            {
                throw Error(query, id.Span, DimensionIndex(schema, id.Name) >= 0
                    ? $"'{id.Name}' is a dimension; {item.Kind.ToString().ToUpperInvariant()} needs a measure ({MeasureNames(schema)})"
                    : $"unknown measure '{id.Name}'; measures are {MeasureNames(schema)}");
            }

            return m;
        }

        switch (item.Kind)
        {
            case AggregateKind.Count:
                return new PlannedItem(item, [], -1, -1);
            case AggregateKind.Sum or AggregateKind.Avg or AggregateKind.Var or AggregateKind.Stddev:
                return new PlannedItem(item, [Measure(item.Arguments[0])], -1, -1);
            case AggregateKind.Covar or AggregateKind.Corr:
            {
                int a = Measure(item.Arguments[0]);
                int b = Measure(item.Arguments[1]);
                if (a == b)
                {
                    throw Error(query, item.Span, $"{item.Kind.ToString().ToUpperInvariant()} needs two different measures");
                }

                return new PlannedItem(item, [a, b], -1, -1);
            }

            case AggregateKind.LinReg:
            {
                int y = Measure(item.Target!);
                var xs = item.Arguments.Select(Measure).ToArray();
                if (xs.Contains(y) || xs.Distinct().Count() != xs.Length)
                {
                    throw Error(query, item.Span, "LINREG regressors must be distinct and differ from the response");
                }

                return new PlannedItem(item, xs, y, -1);
            }

            case AggregateKind.Histogram:
            {
                var id = item.Arguments[0];
                int d = DimensionIndex(schema, id.Name);
                if (d < 0 && schema.FindMeasure(id.Name) is { } measure)
                {
                    // HISTOGRAM(measure): the numeric dimension that bins the same source field
                    string source = measure.Source ?? measure.Name;
                    d = schema.Dimensions.ToList().FindIndex(x => x.Kind == DimensionKind.Numeric && string.Equals(x.Source ?? x.Name, source, StringComparison.OrdinalIgnoreCase));
                    if (d < 0)
                    {
                        throw Error(query, id.Span, $"no dimension bins measure '{id.Name}': a histogram needs bins fixed in the schema (numeric dimensions: {string.Join(", ", schema.Dimensions.Where(x => x.Kind == DimensionKind.Numeric).Select(x => x.Name))})");
                    }
                }

                if (d < 0)
                {
                    throw Error(query, id.Span, $"unknown dimension '{id.Name}' in HISTOGRAM; dimensions are {Names(schema)}");
                }

                return new PlannedItem(item, [], -1, d);
            }

            default:
                throw Error(query, item.Span, $"{item.Kind} is not supported");
        }
    }

    private static bool Evaluate(QueryAst query, CohortSchema schema, Condition condition, int[] cell) => condition switch
    {
        AndCondition a => Evaluate(query, schema, a.Left, cell) && Evaluate(query, schema, a.Right, cell),
        OrCondition o => Evaluate(query, schema, o.Left, cell) || Evaluate(query, schema, o.Right, cell),
        NotCondition n => !Evaluate(query, schema, n.Inner, cell),
        InCondition i => i.Values.Any(v => Compare(query, schema, i.Dimension, v, cell) == 0) != i.Negated,
        BetweenCondition b => Compare(query, schema, b.Dimension, b.Low, cell) >= 0 && Compare(query, schema, b.Dimension, b.High, cell) <= 0,
        ComparisonCondition c => c.Operator switch
        {
            ComparisonOperator.Equal => Compare(query, schema, c.Dimension, c.Value, cell) == 0,
            ComparisonOperator.NotEqual => Compare(query, schema, c.Dimension, c.Value, cell) != 0,
            ComparisonOperator.Less => Compare(query, schema, c.Dimension, c.Value, cell) < 0,
            ComparisonOperator.LessOrEqual => Compare(query, schema, c.Dimension, c.Value, cell) <= 0,
            ComparisonOperator.Greater => Compare(query, schema, c.Dimension, c.Value, cell) > 0,
            _ => Compare(query, schema, c.Dimension, c.Value, cell) >= 0,
        },
        _ => throw Error(query, condition.Span, "unsupported condition"),
    };

    /// <summary>
    /// Compares the cell's value of a dimension with a literal: categorical values by their schema order, bins of a
    /// numeric dimension by position. A number must be a bin edge (a filter cannot split a bin); a string must be a
    /// value (or bin label).
    /// </summary>
    private static int Compare(QueryAst query, CohortSchema schema, Identifier dimension, Literal literal, int[] cell)
    {
        int d = DimensionIndex(schema, dimension.Name);
        if (d < 0)
        {
            throw Error(query, dimension.Span, schema.MeasureIndex(dimension.Name) >= 0
                ? $"filters range over dimensions; '{dimension.Name}' is a measure (dimensions: {Names(schema)})"
                : $"unknown dimension '{dimension.Name}'; dimensions are {Names(schema)}");
        }

        var spec = schema.Dimensions[d];
        int index = cell[d];
        if (literal.Number is { } number && spec.Kind == DimensionKind.Numeric)
        {
            var edges = spec.Edges!;
            int edge = edges.ToList().FindIndex(e => e == number);
            if (edge < 0)
            {
                throw Error(query, literal.Span, $"{number.ToString(CultureInfo.InvariantCulture)} is not a bin edge of '{spec.Name}' (edges: {string.Join(", ", edges.Select(e => e.ToString(CultureInfo.InvariantCulture)))}); a filter cannot split a bin");
            }

            // bin i covers [edge i, edge i+1): compare the bin's lower edge with the literal
            return index.CompareTo(edge) switch { < 0 => -1, 0 => 0, _ => 1 };
        }

        int position = spec.IndexOf(literal.Text);
        if (position < 0)
        {
            throw Error(query, literal.Span, $"'{literal.Text}' is not a value of '{spec.Name}' (values: {string.Join(", ", spec.Labels.Select(l => "'" + l + "'"))})");
        }

        return index.CompareTo(position);
    }

    private static int DimensionIndex(CohortSchema schema, string name) =>
        schema.Dimensions.ToList().FindIndex(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase));

    private static string Names(CohortSchema schema) => string.Join(", ", schema.Dimensions.Select(d => d.Name));

    private static string MeasureNames(CohortSchema schema) => string.Join(", ", schema.Measures.Select(m => m.Name));

    private static IEnumerable<int[]> Combinations(int[] sizes)
    {
        var current = new int[sizes.Length];
        while (true)
        {
            yield return (int[])current.Clone();
            int i = sizes.Length - 1;
            while (i >= 0 && ++current[i] == sizes[i])
            {
                current[i] = 0;
                i--;
            }

            if (i < 0)
            {
                yield break;
            }
        }
    }

    private static QueryPlanException Error(QueryAst query, SourceSpan span, string message) =>
        new(QueryErrors.Describe(query.Text, span, message), span);
}
