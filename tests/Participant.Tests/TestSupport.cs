using System.Text;
using PrivateHealth.Participant.Data;

namespace PrivateHealth.Participant.Tests;

/// <summary>A temporary directory deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("ph-participant-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Time that moves only when told to.</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>Progress sink that records reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
public sealed class RecordingProgress : IProgress<ImportProgress>
{
    public List<ImportProgress> Reports { get; } = [];

    public void Report(ImportProgress value) => Reports.Add(value);
}

/// <summary>A stream returning at most a few bytes per read, to exercise buffer refills at every boundary.</summary>
public sealed class TrickleStream(byte[] data, int maxChunk) : Stream
{
    private int _position;
    private int _next = 1;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = Math.Min(Math.Min(count, _next), data.Length - _position);
        _next = (_next % maxChunk) + 1;
        Array.Copy(data, _position, buffer, offset, n);
        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

public static class TestFiles
{
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    public static FileStream Open(string name) => File.OpenRead(PathOf(name));

    /// <summary>1-based line of the first line of a test file containing <paramref name="marker"/>.</summary>
    public static long LineOf(string name, string marker)
    {
        var lines = File.ReadAllLines(PathOf(name));
        int index = Array.FindIndex(lines, l => l.Contains(marker, StringComparison.Ordinal));
        Assert.True(index >= 0, $"'{marker}' not in {name}");
        return index + 1;
    }

    public static MemoryStream Utf8(string text) => new(Encoding.UTF8.GetBytes(text));

    public static (List<HealthRecord> Records, ImportReport Report) Import(IHealthRecordImporter importer, Stream stream, IProgress<ImportProgress>? progress = null)
    {
        var report = new ImportReport();
        var records = importer.Read(stream, report, progress, TestContext.Current.CancellationToken).ToList();
        return (records, report);
    }

    public static (List<HealthRecord> Records, ImportReport Report) Import(IHealthRecordImporter importer, string testFile, IProgress<ImportProgress>? progress = null)
    {
        using var stream = Open(testFile);
        return Import(importer, stream, progress);
    }

    public static DateTimeOffset Utc(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) =>
        new(year, month, day, hour, minute, second, TimeSpan.Zero);
}
