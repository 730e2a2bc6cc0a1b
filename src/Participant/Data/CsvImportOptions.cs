using System.Globalization;

namespace PrivateHealth.Participant.Data;

/// <summary>A CSV column, by header name (matched trimmed, case-insensitively) or by 0-based index.</summary>
public readonly record struct CsvColumn
{
    private CsvColumn(string? name, int index)
    {
        Name = name;
        Index = index;
    }

    /// <summary>Header name, or null for a column given by index.</summary>
    public string? Name { get; }

    /// <summary>0-based index; -1 for a column given by name.</summary>
    public int Index { get; }

    public static CsvColumn Named(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new CsvColumn(name.Trim(), -1);
    }

    public static CsvColumn At(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return new CsvColumn(null, index);
    }

    public override string ToString() => Name is not null ? $"'{Name}'" : string.Create(CultureInfo.InvariantCulture, $"#{Index}");
}

/// <summary>A CSV column holding values of one metric.</summary>
/// <param name="Column">Where the values are.</param>
/// <param name="Unit">Unit of the values, stored on each record.</param>
/// <param name="Metric">Metric name; when null, derived from the header name (lower case, runs of other characters
/// than letters and digits turned into '_': "Resting HR" → "resting_hr").</param>
public sealed record CsvMetricColumn(CsvColumn Column, string Unit, string? Metric = null);

/// <summary>How to read a generic CSV file (RFC 4180: optional header row, quoted fields that may hold
/// delimiters, doubled quotes and line breaks; CRLF, LF or CR line ends; UTF-8 unless a BOM says otherwise).</summary>
public sealed class CsvImportOptions
{
    /// <summary>Field delimiter (',' by default; ';' and '\t' are common). Cannot be a quote or a line break.</summary>
    public char Delimiter { get; init; } = ',';

    /// <summary>Whether the first row names the columns (required to map columns by name).</summary>
    public bool HasHeaderRow { get; init; } = true;

    /// <summary>Column with each row's timestamp (the start of the interval).</summary>
    public required CsvColumn TimestampColumn { get; init; }

    /// <summary>Optional column with the end of the interval; without it records are instantaneous (End == Start)
    /// unless <see cref="Interval"/> is set.</summary>
    public CsvColumn? EndTimestampColumn { get; init; }

    /// <summary>Fixed interval length when there is no end column (e.g. one minute per row). Zero by default.</summary>
    public TimeSpan Interval { get; init; }

    /// <summary>
    /// Null: any invariant-culture date and time (ISO 8601 such as "2024-01-01T08:00:00Z" recommended). Otherwise an
    /// exact .NET format string ("yyyy-MM-dd HH:mm"), or "unix-s" / "unix-ms" for Unix epoch seconds / milliseconds.
    /// </summary>
    public string? TimestampFormat { get; init; }

    /// <summary>Zone of timestamps written without an offset (UTC by default).</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>Columns holding metric values; each non-empty cell becomes one record (empty cells are skipped).</summary>
    public required IReadOnlyList<CsvMetricColumn> Metrics { get; init; }

    /// <summary>Source stored on every record.</summary>
    public string Source { get; init; } = "csv";

    /// <summary>Longest row accepted, in characters; a longer row (usually an unbalanced quote) stops the import.</summary>
    public int MaxRowCharacters { get; init; } = 1 << 20;

    internal void Validate()
    {
        if (Delimiter is '"' or '\r' or '\n')
        {
            throw new ArgumentException($"The CSV delimiter cannot be {(Delimiter == '"' ? "a quote" : "a line break")}.", nameof(Delimiter));
        }

        if (Metrics is null || Metrics.Count == 0)
        {
            throw new ArgumentException("Map at least one CSV column to a metric.", nameof(Metrics));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRowCharacters, 16, nameof(MaxRowCharacters));
        ArgumentOutOfRangeException.ThrowIfLessThan(Interval, TimeSpan.Zero, nameof(Interval));
        ArgumentNullException.ThrowIfNull(TimeZone);
        ArgumentNullException.ThrowIfNull(Source);
        if (!HasHeaderRow)
        {
            IEnumerable<CsvColumn> columns = Metrics.Select(m => m.Column).Append(TimestampColumn);
            if (EndTimestampColumn is { } end)
            {
                columns = columns.Append(end);
            }

            if (columns.Any(c => c.Name is not null))
            {
                throw new ArgumentException("Columns can be named only when the file has a header row; use CsvColumn.At(index).");
            }

            if (Metrics.Any(m => m.Metric is null))
            {
                throw new ArgumentException("Without a header row every CSV metric column needs an explicit metric name.");
            }
        }

        foreach (var metric in Metrics)
        {
            ArgumentNullException.ThrowIfNull(metric);
            ArgumentNullException.ThrowIfNull(metric.Unit);
            if (metric.Metric is { } name)
            {
                ArgumentException.ThrowIfNullOrWhiteSpace(name);
            }
        }
    }
}
