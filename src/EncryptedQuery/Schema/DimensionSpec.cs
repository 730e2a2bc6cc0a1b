using System.Globalization;

namespace PrivateHealth.EncryptedQuery.Schema;

/// <summary>How a dimension partitions the cohort.</summary>
public enum DimensionKind
{
    /// <summary>A fixed list of string values, matched exactly (ordinal).</summary>
    Categorical,

    /// <summary>A number cut into bins by increasing edges.</summary>
    Numeric,
}

/// <summary>
/// One axis of the cell grid. A categorical dimension lists its <see cref="Values"/>; a numeric one lists
/// <see cref="Edges"/> e0 &lt; e1 &lt; … &lt; ek, giving k bins [e0, e1), [e1, e2), …, [e(k-1), ek] (the last one closed).
/// </summary>
/// <remarks>
/// JSON: <c>{"name":"label","kind":"categorical","values":["0","1"],"source":"target"}</c> or
/// <c>{"name":"radius_bin","kind":"numeric","edges":[6.981, …, 28.11],"source":"mean_radius"}</c>.
/// <see cref="Name"/> is an identifier used by queries; <see cref="Source"/> is the field of a person's record
/// it is read from (any non-empty string, e.g. a column name with spaces), defaulting to the name.
/// Lists are compared by reference in the record's equality; compare <see cref="CohortSchema.ToJson"/> for content.
/// </remarks>
public sealed record DimensionSpec
{
    /// <summary>Identifier ([A-Za-z_][A-Za-z0-9_]*), unique among the schema's dimensions and measures (case-insensitive).</summary>
    public required string Name { get; init; }

    /// <summary>Categorical or numeric.</summary>
    public DimensionKind Kind { get; init; }

    /// <summary>The categories of a categorical dimension (null for a numeric one).</summary>
    public IReadOnlyList<string>? Values { get; init; }

    /// <summary>The strictly increasing bin edges of a numeric dimension (null for a categorical one).</summary>
    public IReadOnlyList<double>? Edges { get; init; }

    /// <summary>The record field the value is read from; null means <see cref="Name"/>.</summary>
    public string? Source { get; init; }

    /// <summary>The key looked up in a person's record: <see cref="Source"/> if set, else <see cref="Name"/>.</summary>
    public string Field => Source ?? Name;

    /// <summary>Number of cells along this dimension: the number of values, or of bins (edges − 1).</summary>
    public int Size => Kind == DimensionKind.Categorical
        ? Values?.Count ?? 0
        : Math.Max(0, (Edges?.Count ?? 0) - 1);

    /// <summary>
    /// Human-readable cell labels: the values of a categorical dimension; for a numeric one the bins as
    /// <c>"[6.981, 9.0939)"</c>, the last closed (<c>"…, 28.11]"</c>). Edges are printed as written in the schema
    /// (shortest form within 1e-12 relative, so computed edges lose their floating-point noise); should two edges
    /// print alike, all are printed in full round-trip form so the labels stay unique. Computed on each call.
    /// </summary>
    public IReadOnlyList<string> Labels => ComputeLabels();

    /// <summary>
    /// The bin of a numeric value. Values below the first edge fall in bin 0 and values above the last edge in the
    /// last bin (clamped, like measures are clipped), so every person lands in some cell; ±∞ are clamped too.
    /// </summary>
    /// <exception cref="ArgumentException">The value is NaN.</exception>
    /// <exception cref="InvalidOperationException">The dimension is categorical or has fewer than two edges.</exception>
    public int BinOf(double value)
    {
        if (Kind != DimensionKind.Numeric)
        {
            throw new InvalidOperationException($"Dimension '{Name}' is categorical; use IndexOf.");
        }

        var edges = Edges;
        if (edges is null || edges.Count < 2)
        {
            throw new InvalidOperationException($"Dimension '{Name}' needs at least two edges.");
        }

        if (double.IsNaN(value))
        {
            throw new ArgumentException($"Value of dimension '{Name}' is NaN.", nameof(value));
        }

        int bins = edges.Count - 1;
        if (value < edges[1])
        {
            return 0;
        }

        if (value >= edges[bins - 1])
        {
            return bins - 1;
        }

        // edges[1] <= value < edges[bins-1]: largest i with edges[i] <= value.
        int lo = 1, hi = bins - 1;
        while (hi - lo > 1)
        {
            int mid = lo + ((hi - lo) / 2);
            if (edges[mid] <= value)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>
    /// Categorical: the index of the value (exact, ordinal match). Numeric: the index of a label from
    /// <see cref="Labels"/>. −1 when absent.
    /// </summary>
    public int IndexOf(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var list = Kind == DimensionKind.Categorical ? Values : Labels;
        if (list is null)
        {
            return -1;
        }

        for (int i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private string[] ComputeLabels()
    {
        if (Kind == DimensionKind.Categorical)
        {
            return Values is null ? [] : [.. Values];
        }

        var edges = Edges;
        if (edges is null || edges.Count < 2)
        {
            return [];
        }

        string[] text = FormatEdges(edges);
        var result = new string[edges.Count - 1];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = $"[{text[i]}, {text[i + 1]}{(i == result.Length - 1 ? "]" : ")")}";
        }

        return result;
    }

    private static string[] FormatEdges(IReadOnlyList<double> edges)
    {
        string[] text = [.. edges.Select(FormatEdge)];
        return text.Distinct(StringComparer.Ordinal).Count() == text.Length
            ? text
            : [.. edges.Select(e => e.ToString("R", CultureInfo.InvariantCulture))];
    }

    /// <summary>
    /// The shortest "G" form that reads back within 1e-12 (relative) of the edge: the edge as written in the schema
    /// (9.0939 → "9.0939"), without the floating-point noise of computed edges (9.093900000000001 → "9.0939").
    /// </summary>
    internal static string FormatEdge(double value)
    {
        for (int digits = 1; digits <= 15; digits++)
        {
            string text = value.ToString("G" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            double back = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            if (Math.Abs(back - value) <= 1e-12 * Math.Abs(value))
            {
                return back.ToString("R", CultureInfo.InvariantCulture);   // "150000", not G2's "1.5E+05"
            }
        }

        return value.ToString("R", CultureInfo.InvariantCulture);
    }
}
