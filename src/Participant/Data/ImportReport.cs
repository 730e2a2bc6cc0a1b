using System.Globalization;

namespace PrivateHealth.Participant.Data;

/// <summary>
/// A row, element or record that could not be imported. The import keeps going after an issue unless
/// <see cref="StopsImport"/> is set (truncated or syntactically broken file: nothing after it can be read).
/// </summary>
/// <param name="LineNumber">1-based line where the offending row/element starts, when known.</param>
/// <param name="LinePosition">1-based character position in that line, when known (XML).</param>
/// <param name="ElementIndex">0-based index of the element in a JSON array, or of the data row in a CSV file.</param>
/// <param name="Reason">What is wrong, in words fit for a log or a CLI.</param>
/// <param name="StopsImport">True when the rest of the input was not read.</param>
public sealed record ImportIssue(long? LineNumber, int? LinePosition, long? ElementIndex, string Reason, bool StopsImport = false)
{
    public override string ToString()
    {
        var where = new List<string>(3);
        if (LineNumber is { } line)
        {
            where.Add(LinePosition is { } pos ? $"line {line}, position {pos}" : $"line {line}");
        }

        if (ElementIndex is { } index)
        {
            where.Add(string.Create(CultureInfo.InvariantCulture, $"element {index}"));
        }

        string prefix = where.Count > 0 ? string.Join(", ", where) + ": " : "";
        return prefix + Reason + (StopsImport ? " (import stopped)" : "");
    }
}

/// <summary>Progress of a streaming import, for a progress bar.</summary>
/// <param name="BytesRead">Bytes consumed from the input stream so far (read-ahead buffering included).</param>
/// <param name="TotalBytes">Input size when known (seekable stream or given by the caller).</param>
/// <param name="RecordsImported">Records produced so far.</param>
/// <param name="IssueCount">Issues found so far.</param>
public readonly record struct ImportProgress(long BytesRead, long? TotalBytes, long RecordsImported, long IssueCount)
{
    /// <summary>Fraction done in [0, 1], or null when the total is unknown.</summary>
    public double? Fraction => TotalBytes is > 0 and var total ? Math.Clamp((double)BytesRead / total, 0, 1) : null;
}

/// <summary>
/// Outcome of one import: counts, the issues found (the first <see cref="MaxIssuesKept"/> are kept, all are
/// counted) and whether the input was read to its end. Filled while the importer's sequence is enumerated.
/// </summary>
public sealed class ImportReport
{
    private readonly List<ImportIssue> _issues = [];

    /// <param name="maxIssuesKept">How many issues to keep in <see cref="Issues"/>; later ones are only counted,
    /// so a garbage multi-GB file cannot exhaust memory.</param>
    public ImportReport(int maxIssuesKept = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxIssuesKept);
        MaxIssuesKept = maxIssuesKept;
    }

    public int MaxIssuesKept { get; }

    /// <summary>The first <see cref="MaxIssuesKept"/> issues, in input order.</summary>
    public IReadOnlyList<ImportIssue> Issues => _issues;

    /// <summary>All issues found, including those not kept.</summary>
    public long IssueCount { get; private set; }

    /// <summary>Records produced.</summary>
    public long RecordsImported { get; internal set; }

    /// <summary>Well-formed input items deliberately not imported (other Apple Health types, in-bed/awake sleep
    /// samples, empty CSV cells).</summary>
    public long ItemsSkipped { get; internal set; }

    /// <summary>Bytes consumed from the input.</summary>
    public long BytesRead { get; internal set; }

    /// <summary>Input size when known.</summary>
    public long? TotalBytes { get; internal set; }

    /// <summary>True when the input was read to its end (no issue with <see cref="ImportIssue.StopsImport"/>).</summary>
    public bool Completed { get; internal set; }

    /// <summary>The issue that stopped the import, if any.</summary>
    public ImportIssue? StoppedBy { get; private set; }

    /// <summary>Wall-clock time spent enumerating.</summary>
    public TimeSpan Elapsed { get; internal set; }

    internal void Add(ImportIssue issue)
    {
        IssueCount++;
        if (_issues.Count < MaxIssuesKept)
        {
            _issues.Add(issue);
        }

        if (issue.StopsImport)
        {
            StoppedBy ??= issue;
        }
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{RecordsImported} records, {ItemsSkipped} skipped, {IssueCount} issues, {BytesRead} bytes{(Completed ? "" : ", incomplete")}");
}

/// <summary>A streaming importer of one export format.</summary>
public interface IHealthRecordImporter
{
    /// <summary>
    /// Reads records lazily from <paramref name="source"/> (never loading it whole). Malformed rows or elements are
    /// added to <paramref name="report"/> and skipped; a truncated or syntactically broken file ends the sequence
    /// with a stopping issue, keeping every record read before it. The stream is not disposed.
    /// </summary>
    /// <param name="source">Input; its length (when seekable) gives the progress total.</param>
    /// <param name="report">Receives counts and issues while the sequence is enumerated.</param>
    /// <param name="progress">Optional progress sink, called synchronously on the enumerating thread, throttled
    /// (at most every 1/1000 of the input and 64 KiB) with a final report at the end.</param>
    /// <param name="cancellationToken">Checked between rows/elements.</param>
    IEnumerable<HealthRecord> Read(Stream source, ImportReport report, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default);
}
