using System.Globalization;
using System.Text;

namespace PrivateHealth.Participant.Data;

/// <summary>
/// Streams a generic CSV file through a column mapping: each data row gives a timestamp (and optionally an end) and
/// one record per mapped metric column with a value. Numbers are culture-invariant ("72.5"). Rows with a bad
/// timestamp, too few fields or broken quoting are reported and skipped; a non-numeric cell is reported and the
/// row's other cells are still imported.
/// </summary>
public sealed class CsvHealthRecordImporter : IHealthRecordImporter
{
    private readonly CsvImportOptions _options;

    public CsvHealthRecordImporter(CsvImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    public IEnumerable<HealthRecord> Read(Stream source, ImportReport report, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(report);
        if (!source.CanRead)
        {
            throw new ArgumentException("The source stream is not readable.", nameof(source));
        }

        return Iterate(source, report, progress, cancellationToken);
    }

    private sealed record ResolvedMetric(int Index, string Metric, string Unit, string ColumnLabel);

    private sealed record Mapping(int Timestamp, int? End, ResolvedMetric[] Metrics, int RequiredFields);

    private IEnumerable<HealthRecord> Iterate(Stream source, ImportReport report, IProgress<ImportProgress>? progress, CancellationToken cancellationToken)
    {
        var tracker = new ImportTracker(source, report, progress);
        bool reachedEnd = false;
        try
        {
            using var reader = new StreamReader(tracker.Input, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024, leaveOpen: true);
            var csv = new CsvTokenizer(reader, _options.Delimiter, _options.MaxRowCharacters);
            Mapping? mapping;
            if (_options.HasHeaderRow)
            {
                if (!csv.ReadRow())
                {
                    tracker.Issue(1, null, null, "the file is empty (no header row)", stops: true);
                    yield break;
                }

                if (csv.RowError is { } headerError)
                {
                    tracker.Issue(csv.RowLine, null, null, $"malformed header row: {headerError}", stops: true);
                    yield break;
                }

                mapping = ResolveFromHeader(csv, out string? mappingError);
                if (mapping is null)
                {
                    tracker.Issue(csv.RowLine, null, null, mappingError!, stops: true);
                    yield break;
                }
            }
            else
            {
                mapping = ResolveByIndex();
            }

            long rowIndex = -1;
            while (csv.ReadRow())
            {
                cancellationToken.ThrowIfCancellationRequested();
                rowIndex++;
                long line = csv.RowLine;
                if (csv.RowError is { } rowError)
                {
                    tracker.Issue(line, null, rowIndex, rowError, stops: csv.TooLong || csv.Unterminated);
                    if (csv.TooLong)
                    {
                        yield break;
                    }

                    continue;
                }

                if (csv.FieldCount < mapping.RequiredFields)
                {
                    tracker.Issue(line, null, rowIndex, $"row has {csv.FieldCount} fields, the mapping needs {mapping.RequiredFields}");
                    continue;
                }

                var stampText = csv.Field(mapping.Timestamp);
                if (!Timestamps.TryParseGeneral(stampText, _options.TimestampFormat, _options.TimeZone, out var start))
                {
                    tracker.Issue(line, null, rowIndex, $"timestamp {Excerpt(stampText)} is not a valid {FormatDescription()}");
                    continue;
                }

                DateTimeOffset end = start;
                if (mapping.End is { } endIndex)
                {
                    var endText = csv.Field(endIndex);
                    if (!Timestamps.TryParseGeneral(endText, _options.TimestampFormat, _options.TimeZone, out end))
                    {
                        tracker.Issue(line, null, rowIndex, $"end timestamp {Excerpt(endText)} is not a valid {FormatDescription()}");
                        continue;
                    }

                    if (end < start)
                    {
                        tracker.Issue(line, null, rowIndex, $"end {end:O} precedes start {start:O}");
                        continue;
                    }
                }
                else if (_options.Interval > TimeSpan.Zero)
                {
                    end = start + _options.Interval;
                }

                foreach (var metric in mapping.Metrics)
                {
                    var cell = csv.Field(metric.Index).Trim();
                    if (cell.IsEmpty)
                    {
                        tracker.Skipped();
                        continue;
                    }

                    if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                    {
                        tracker.Issue(line, null, rowIndex, $"column {metric.ColumnLabel}: {Excerpt(cell)} is not a number");
                        continue;
                    }

                    tracker.Imported();
                    yield return new HealthRecord(metric.Metric, start, end, value, metric.Unit, _options.Source);
                }

                tracker.Tick();
            }

            reachedEnd = true;
        }
        finally
        {
            tracker.Finish(reachedEnd);
        }
    }

    private string FormatDescription() => _options.TimestampFormat switch
    {
        null => "date/time",
        Timestamps.UnixSeconds => "Unix time in seconds",
        Timestamps.UnixMilliseconds => "Unix time in milliseconds",
        var f => $"'{f}' date/time",
    };

    private Mapping ResolveByIndex()
    {
        var metrics = _options.Metrics
            .Select(m => new ResolvedMetric(m.Column.Index, m.Metric!, m.Unit, m.Column.ToString()))
            .ToArray();
        int? end = _options.EndTimestampColumn?.Index;
        int required = Math.Max(Math.Max(_options.TimestampColumn.Index, end ?? -1), metrics.Max(m => m.Index)) + 1;
        return new Mapping(_options.TimestampColumn.Index, end, metrics, required);
    }

    private Mapping? ResolveFromHeader(CsvTokenizer header, out string? error)
    {
        var names = new string[header.FieldCount];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = header.Field(i).Trim().ToString();
        }

        var missing = new List<string>();
        int Find(CsvColumn column)
        {
            if (column.Name is null)
            {
                if (column.Index < names.Length)
                {
                    return column.Index;
                }

                missing.Add(column.ToString());
                return -1;
            }

            int index = Array.FindIndex(names, n => string.Equals(n, column.Name, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                missing.Add(column.ToString());
            }

            return index;
        }

        int timestamp = Find(_options.TimestampColumn);
        int? end = _options.EndTimestampColumn is { } endColumn ? Find(endColumn) : null;
        var metrics = new ResolvedMetric[_options.Metrics.Count];
        for (int i = 0; i < metrics.Length; i++)
        {
            var m = _options.Metrics[i];
            int index = Find(m.Column);
            string label = index >= 0 && names[index].Length > 0 ? $"'{names[index]}'" : m.Column.ToString();
            string metric = m.Metric ?? (index >= 0 ? MetricNameFromHeader(names[index]) : "");
            metrics[i] = new ResolvedMetric(index, metric, m.Unit, label);
        }

        if (missing.Count > 0)
        {
            error = $"the header has no column {string.Join(", ", missing)} (columns: {string.Join(", ", names.Select(n => $"'{n}'"))})";
            return null;
        }

        if (metrics.FirstOrDefault(m => m.Metric.Length == 0) is { } unnamed)
        {
            error = $"cannot derive a metric name from header {unnamed.ColumnLabel}; give the column an explicit metric";
            return null;
        }

        error = null;
        int required = Math.Max(Math.Max(timestamp, end ?? -1), metrics.Max(m => m.Index)) + 1;
        return new Mapping(timestamp, end, metrics, required);
    }

    /// <summary>"Resting HR (bpm)" → "resting_hr_bpm".</summary>
    internal static string MetricNameFromHeader(string header)
    {
        var sb = new StringBuilder(header.Length);
        bool pendingSeparator = false;
        foreach (char c in header)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                if (pendingSeparator && sb.Length > 0)
                {
                    sb.Append('_');
                }

                pendingSeparator = false;
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                pendingSeparator = true;
            }
        }

        return sb.ToString();
    }

    internal static string Excerpt(ReadOnlySpan<char> text)
    {
        const int Max = 40;
        return text.Length <= Max ? $"'{text}'" : $"'{text[..Max]}…'";
    }
}
