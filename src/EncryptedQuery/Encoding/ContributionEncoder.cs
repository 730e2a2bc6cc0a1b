using System.Globalization;
using System.Text.Json;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Encoding;

/// <summary>
/// Turns one person's summary into their contribution vector (on the person's device): a vector of
/// <see cref="CellLayout.SlotCount"/> slots, zero except the block of the person's cell, which holds
/// <c>[1, x_m…, x_m²…, x_a·x_b…]</c> with the measures clipped to their bounds. The coordinator only adds these
/// (encrypted), so an aggregate's blocks hold per-cell counts, sums, sums of squares and cross-products.
/// </summary>
public sealed class ContributionEncoder
{
    /// <summary>Creates an encoder for a schema.</summary>
    /// <exception cref="SchemaException">The schema is invalid.</exception>
    public ContributionEncoder(CohortSchema schema)
    {
        Layout = new CellLayout(schema);
    }

    /// <summary>The slot layout of the vectors produced.</summary>
    public CellLayout Layout { get; }

    /// <summary>
    /// Encodes one person. Keys are each dimension's and measure's <see cref="DimensionSpec.Field"/> (source, else
    /// name), matched case-insensitively; other keys are ignored. A categorical dimension takes a string (exact match
    /// with one of its values); a numeric dimension a number, binned by <see cref="DimensionSpec.BinOf"/> (clamped
    /// into the first/last bin); a measure a number, clipped to [lo, hi]. Numbers may be any .NET numeric type or a
    /// <see cref="JsonElement"/> number; strings a <see cref="string"/> or a <see cref="JsonElement"/> string.
    /// </summary>
    /// <exception cref="ArgumentException">A field is missing, has the wrong type or is NaN, or a categorical value is unknown (the message names the field and, for the latter, the allowed values).</exception>
    public double[] Encode(IReadOnlyDictionary<string, object> summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var fields = CaseInsensitive(summary, nameof(summary));
        var schema = Layout.Schema;
        Span<int> coordinates = stackalloc int[schema.Dimensions.Count];
        for (int i = 0; i < schema.Dimensions.Count; i++)
        {
            var d = schema.Dimensions[i];
            object value = Require(fields, d.Field, $"dimension '{d.Name}'");
            if (d.Kind == DimensionKind.Categorical)
            {
                if (!SummaryValues.TryText(value, out string? text))
                {
                    throw new ArgumentException(
                        $"Field '{d.Field}' (dimension '{d.Name}') must be a string, got {SummaryValues.Describe(value)}.", nameof(summary));
                }

                int index = d.IndexOf(text);
                if (index < 0)
                {
                    throw new ArgumentException(
                        $"Field '{d.Field}' (dimension '{d.Name}') has value \"{text}\", which is not one of the allowed values: "
                        + string.Join(", ", d.Values!.Select(v => $"\"{v}\"")) + ".",
                        nameof(summary));
                }

                coordinates[i] = index;
            }
            else
            {
                double x = RequireNumber(value, d.Field, $"dimension '{d.Name}'");
                coordinates[i] = d.BinOf(x);
            }
        }

        int m = schema.Measures.Count;
        var clipped = new double[m];
        for (int j = 0; j < m; j++)
        {
            var measure = schema.Measures[j];
            object value = Require(fields, measure.Field, $"measure '{measure.Name}'");
            clipped[j] = measure.Clip(RequireNumber(value, measure.Field, $"measure '{measure.Name}'"));
        }

        var vector = new double[Layout.SlotCount];
        WriteBlock(vector.AsSpan(Layout.BlockStart(Layout.CellIndex(coordinates)), Layout.BlockSize), clipped);
        return vector;
    }

    /// <summary>Fills a block with <c>[1, x…, x²…, x_a·x_b…]</c>.</summary>
    private void WriteBlock(Span<double> block, double[] x)
    {
        block[CellLayout.CountOffset] = 1;
        for (int a = 0; a < x.Length; a++)
        {
            block[Layout.SumOffset(a)] = x[a];
            block[Layout.SumSquaresOffset(a)] = x[a] * x[a];
            for (int b = a + 1; b < x.Length; b++)
            {
                block[Layout.ProductOffset(a, b)] = x[a] * x[b];
            }
        }
    }

    /// <summary>
    /// Summarises several records of one person into one summary, on the device: for each key (case-insensitive),
    /// numeric values are averaged over the records that have the key (this gives measures their mean and numeric
    /// dimensions the mean of the values, binned later); string values (categorical dimensions) are taken from the most
    /// recent record having the key, the records being in chronological order (last = most recent). Null values count
    /// as absent.
    /// </summary>
    /// <exception cref="ArgumentException">No records; a NaN or unsupported value; a key that is a string in one record and a number in another.</exception>
    public static IReadOnlyDictionary<string, object> Summarize(IReadOnlyList<IReadOnlyDictionary<string, object>> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            throw new ArgumentException("At least one record is needed to summarise a person.", nameof(records));
        }

        var sums = new Dictionary<string, (double Sum, int Count)>(StringComparer.OrdinalIgnoreCase);
        var texts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var order = new List<string>();
        for (int r = 0; r < records.Count; r++)
        {
            var record = records[r] ?? throw new ArgumentException($"Record {r} is null.", nameof(records));
            foreach (var (key, value) in CaseInsensitive(record, nameof(records)))
            {
                if (value is null)
                {
                    continue;
                }

                if (SummaryValues.TryNumber(value, out double x))
                {
                    if (double.IsNaN(x))
                    {
                        throw new ArgumentException($"Field '{key}' of record {r} is NaN.", nameof(records));
                    }

                    if (texts.ContainsKey(key))
                    {
                        throw MixedTypes(key);
                    }

                    if (!sums.TryGetValue(key, out var acc))
                    {
                        order.Add(key);
                    }

                    sums[key] = (acc.Sum + x, acc.Count + 1);
                }
                else if (SummaryValues.TryText(value, out string? text))
                {
                    if (sums.ContainsKey(key))
                    {
                        throw MixedTypes(key);
                    }

                    if (!texts.ContainsKey(key))
                    {
                        order.Add(key);
                    }

                    texts[key] = text;
                }
                else
                {
                    throw new ArgumentException(
                        $"Field '{key}' of record {r} has unsupported type {value.GetType().Name} (expected a number or a string).", nameof(records));
                }
            }
        }

        var summary = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        foreach (string key in order)
        {
            summary[key] = texts.TryGetValue(key, out string? text) ? text : sums[key].Sum / sums[key].Count;
        }

        return summary;

        static ArgumentException MixedTypes(string key) =>
            new($"Field '{key}' is a string in some records and a number in others.", nameof(records));
    }

    private static Dictionary<string, object?> CaseInsensitive(IReadOnlyDictionary<string, object> source, string parameter)
    {
        var result = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in source)
        {
            if (!result.TryAdd(key, value))
            {
                throw new ArgumentException($"Fields '{key}' and another differing only in case are both present.", parameter);
            }
        }

        return result;
    }

    private static object Require(Dictionary<string, object?> fields, string field, string what) =>
        fields.TryGetValue(field, out object? value) && value is not null
            ? value
            : throw new ArgumentException($"Field '{field}' ({what}) is missing.", "summary");

    private static double RequireNumber(object value, string field, string what)
    {
        if (!SummaryValues.TryNumber(value, out double x))
        {
            throw new ArgumentException($"Field '{field}' ({what}) must be a number, got {SummaryValues.Describe(value)}.", "summary");
        }

        if (double.IsNaN(x))
        {
            throw new ArgumentException($"Field '{field}' ({what}) is NaN.", "summary");
        }

        return x;
    }
}

/// <summary>The value types accepted in summaries.</summary>
internal static class SummaryValues
{
    public static bool TryNumber(object value, out double x)
    {
        switch (value)
        {
            case double d: x = d; return true;
            case float f: x = f; return true;
            case int i: x = i; return true;
            case long l: x = l; return true;
            case short s: x = s; return true;
            case byte b: x = b; return true;
            case sbyte sb: x = sb; return true;
            case uint ui: x = ui; return true;
            case ulong ul: x = ul; return true;
            case ushort us: x = us; return true;
            case decimal m: x = (double)m; return true;
            case JsonElement { ValueKind: JsonValueKind.Number } e: x = e.GetDouble(); return true;
            default: x = 0; return false;
        }
    }

    public static bool TryText(object value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text)
    {
        switch (value)
        {
            case string s: text = s; return true;
            case JsonElement { ValueKind: JsonValueKind.String } e: text = e.GetString()!; return true;
            default: text = null; return false;
        }
    }

    public static string Describe(object value) => value switch
    {
        string s => $"string \"{s}\"",
        JsonElement e => $"JSON {e.ValueKind} {e.GetRawText()}",
        IFormattable f => $"{value.GetType().Name} {f.ToString(null, CultureInfo.InvariantCulture)}",
        _ => value.GetType().Name,
    };
}
