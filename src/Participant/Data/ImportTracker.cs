using System.Diagnostics;

namespace PrivateHealth.Participant.Data;

/// <summary>Read-only pass-through stream that counts the bytes read from the wrapped stream.</summary>
internal sealed class CountingReadStream(Stream inner) : Stream
{
    public long BytesRead { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        BytesRead += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        BytesRead += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Counts, issues and throttled progress for one import run.</summary>
internal sealed class ImportTracker
{
    private readonly ImportReport _report;
    private readonly IProgress<ImportProgress>? _progress;
    private readonly long _reportStep;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastReportedBytes;

    public ImportTracker(Stream source, ImportReport report, IProgress<ImportProgress>? progress)
    {
        _report = report;
        _progress = progress;
        long? total = null;
        try
        {
            if (source.CanSeek)
            {
                total = Math.Max(0, source.Length - source.Position);
            }
        }
        catch (NotSupportedException)
        {
        }

        Total = total;
        _report.TotalBytes = total;
        _reportStep = Math.Max(64 * 1024, (total ?? 0) / 1000);
        Input = new CountingReadStream(source);
    }

    public CountingReadStream Input { get; }

    public long? Total { get; }

    public ImportReport Report => _report;

    public void Imported() => _report.RecordsImported++;

    public void Skipped() => _report.ItemsSkipped++;

    public void Issue(long? line, int? position, long? index, string reason, bool stops = false) =>
        _report.Add(new ImportIssue(line, position, index, reason, stops));

    /// <summary>Reports progress if enough bytes were read since the last report.</summary>
    public void Tick()
    {
        long read = Input.BytesRead;
        _report.BytesRead = read;
        if (_progress is not null && read - _lastReportedBytes >= _reportStep)
        {
            _lastReportedBytes = read;
            _progress.Report(new ImportProgress(read, Total, _report.RecordsImported, _report.IssueCount));
        }
    }

    /// <summary>Final counts and a last progress report; the input was read to its end unless an issue stopped it.</summary>
    public void Finish(bool reachedEnd)
    {
        _report.BytesRead = Input.BytesRead;
        _report.Completed = reachedEnd && _report.StoppedBy is null;
        _report.Elapsed += _clock.Elapsed;
        _progress?.Report(new ImportProgress(Input.BytesRead, Total, _report.RecordsImported, _report.IssueCount));
    }
}
