using System.Text;
using PrivateHealth.Participant.Data;

namespace PrivateHealth.Participant.Tests;

public sealed class AppleHealthImporterTests
{
    private const string Sample = "apple_health_export.xml";

    [Fact]
    public void SampleExportYieldsTheFiveMetricsAndSkipsOtherTypes()
    {
        var (records, report) = TestFiles.Import(new AppleHealthImporter(), Sample);

        Assert.True(report.Completed);
        Assert.Equal(12, records.Count);
        Assert.Equal(12, report.RecordsImported);
        Assert.Equal(5, report.ItemsSkipped); // HRV, distance, energy; in-bed and awake sleep
        Assert.Equal(new[] { 72, 75, 118.5 }, records.Where(r => r.Metric == HealthMetrics.HeartRate).Select(r => r.Value));
        Assert.Equal(new double[] { 230, 512 }, records.Where(r => r.Metric == HealthMetrics.Steps).Select(r => r.Value));
        Assert.Equal(58, Assert.Single(records, r => r.Metric == HealthMetrics.RestingHeartRate).Value);

        var hr = records[0];
        Assert.Equal(TestFiles.Utc(2024, 1, 1, 7), hr.Start); // 08:00 +0100
        Assert.Equal(TimeSpan.Zero, hr.Start.Offset);
        Assert.Equal(hr.Start, hr.End);
        Assert.Equal(HealthUnits.CountPerMinute, hr.Unit);
        Assert.Equal("Alice’s Apple Watch", hr.Source);

        var steps = records.First(r => r.Metric == HealthMetrics.Steps);
        Assert.Equal(TimeSpan.FromMinutes(10), steps.Duration);
        Assert.Equal("Alice’s iPhone", steps.Source);
    }

    [Fact]
    public void BodyMassInPoundsIsNormalisedToKilograms()
    {
        var (records, _) = TestFiles.Import(new AppleHealthImporter(), Sample);

        var mass = records.Where(r => r.Metric == HealthMetrics.BodyMass).ToList();
        Assert.Equal(2, mass.Count);
        Assert.All(mass, m => Assert.Equal(HealthUnits.Kilograms, m.Unit));
        Assert.Equal(70.2, mass[0].Value, 10);
        Assert.Equal(154.5 * 0.45359237, mass[1].Value, 10);
        Assert.Equal("Withings", mass[1].Source);
    }

    [Fact]
    public void AsleepIntervalsBecomeSleepMinutesAndInBedOrAwakeAreSkipped()
    {
        var (records, _) = TestFiles.Import(new AppleHealthImporter(), Sample);

        var sleep = records.Where(r => r.Metric == HealthMetrics.SleepMinutes).ToList();
        Assert.Equal(new double[] { 110, 30, 45, 450 }, sleep.Select(r => r.Value));
        Assert.All(sleep, s => Assert.Equal(HealthUnits.Minutes, s.Unit));
        Assert.All(sleep, s => Assert.Equal(s.Duration.TotalMinutes, s.Value));
        Assert.Equal(TestFiles.Utc(2024, 1, 1, 22, 20), sleep[0].Start);
    }

    [Fact]
    public void RecordsNestedInCorrelationsAreNotImportedTwice()
    {
        var (records, _) = TestFiles.Import(new AppleHealthImporter(), Sample);

        Assert.DoesNotContain(records, r => r.Source == "Withings" && r.Metric == HealthMetrics.HeartRate);
    }

    [Fact]
    public void MalformedRecordsAreReportedWithTheirLineAndSkipped()
    {
        var (_, report) = TestFiles.Import(new AppleHealthImporter(), Sample);

        Assert.Equal(8, report.IssueCount);
        Assert.All(report.Issues, i => Assert.False(i.StopsImport));
        AssertIssue(report, "startDate '2024-13-45 08:40:00 +0100'", "2024-13-45");
        AssertIssue(report, "'seventy' is not a number", "seventy");
        AssertIssue(report, "no endDate attribute", "value=\"81\"");
        AssertIssue(report, "unit 'count/s'", "count/s");
        AssertIssue(report, "StepCount record has no value attribute", "08:20:00 +0100\" endDate=\"2024-01-01 08:30:00");
        AssertIssue(report, "body mass unit 'st'", "unit=\"st\"");
        AssertIssue(report, "Record has no type attribute", "<Record sourceName=\"Health\"");
        AssertIssue(report, "unknown sleep value 'HKCategoryValueSleepAnalysisNapping'", "Napping");
    }

    private static void AssertIssue(ImportReport report, string reasonPart, string lineMarker)
    {
        var issue = Assert.Single(report.Issues, i => i.Reason.Contains(reasonPart, StringComparison.Ordinal));
        Assert.Equal(TestFiles.LineOf(Sample, lineMarker), issue.LineNumber);
        Assert.NotNull(issue.LinePosition);
        Assert.NotNull(issue.ElementIndex);
    }

    [Fact]
    public void TruncatedExportKeepsTheRecordsBeforeTheCutAndStopsWithAnIssue()
    {
        var (records, report) = TestFiles.Import(new AppleHealthImporter(), "apple_health_truncated.xml");

        Assert.Equal(new double[] { 64, 66, 88 }, records.Select(r => r.Value));
        Assert.Equal(TestFiles.Utc(2024, 2, 1, 11), records[0].Start); // 06:00 -0500
        Assert.False(report.Completed);
        var stop = Assert.Single(report.Issues);
        Assert.True(stop.StopsImport);
        Assert.Same(stop, report.StoppedBy);
        Assert.StartsWith("malformed XML", stop.Reason, StringComparison.Ordinal);
        Assert.Equal(TestFiles.LineOf("apple_health_truncated.xml", "06:09:31"), stop.LineNumber);
    }

    [Fact]
    public void ExternalEntitiesAreNeverResolved()
    {
        string secretFile = Path.Combine(Path.GetTempPath(), $"ph-xxe-{Guid.NewGuid():N}.txt");
        File.WriteAllText(secretFile, "TOP-SECRET");
        try
        {
            string xml = $"""
                <?xml version="1.0" encoding="UTF-8"?>
                <!DOCTYPE HealthData [
                <!ENTITY xxe SYSTEM "file://{secretFile}">
                ]>
                <HealthData locale="en_US">
                 <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" unit="count/min" startDate="2024-01-01 08:00:00 +0000" endDate="2024-01-01 08:00:00 +0000" value="60"/>
                 <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="&xxe;" unit="count/min" startDate="2024-01-01 08:01:00 +0000" endDate="2024-01-01 08:01:00 +0000" value="61"/>
                </HealthData>
                """;
            var (records, report) = TestFiles.Import(new AppleHealthImporter(), TestFiles.Utf8(xml));

            var only = Assert.Single(records);
            Assert.Equal("Watch", only.Source);
            Assert.NotNull(report.StoppedBy);
            Assert.Contains("xxe", report.StoppedBy.Reason, StringComparison.Ordinal);
            Assert.Equal(7, report.StoppedBy.LineNumber);
            Assert.DoesNotContain(report.Issues, i => i.Reason.Contains("TOP-SECRET", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(secretFile);
        }
    }

    [Fact]
    public void EntityExpansionBombsAreNotExpanded()
    {
        var dtd = new StringBuilder("<!ENTITY lol0 \"lol\">\n");
        for (int i = 1; i < 10; i++)
        {
            dtd.Append(System.Globalization.CultureInfo.InvariantCulture, $"<!ENTITY lol{i} \"&lol{i - 1};&lol{i - 1};&lol{i - 1};&lol{i - 1};&lol{i - 1};&lol{i - 1};&lol{i - 1};&lol{i - 1};&lol{i - 1};&lol{i - 1};\">\n");
        }

        string xml = $"""
            <?xml version="1.0"?>
            <!DOCTYPE HealthData [
            {dtd}]>
            <HealthData><Record type="HKQuantityTypeIdentifierStepCount" sourceName="&lol9;" unit="count" startDate="2024-01-01 08:00:00 +0000" endDate="2024-01-01 08:01:00 +0000" value="5"/></HealthData>
            """;
        var (records, report) = TestFiles.Import(new AppleHealthImporter(), TestFiles.Utf8(xml));

        Assert.Empty(records);
        Assert.NotNull(report.StoppedBy);
        Assert.Contains("lol9", report.StoppedBy.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void XmlThatIsNotAnAppleExportStopsWithAReason()
    {
        var (records, report) = TestFiles.Import(new AppleHealthImporter(), TestFiles.Utf8("<?xml version=\"1.0\"?>\n<gpx><Record type=\"HKQuantityTypeIdentifierHeartRate\"/></gpx>"));

        Assert.Empty(records);
        Assert.Contains("not an Apple Health export", report.StoppedBy?.Reason, StringComparison.Ordinal);
        Assert.Equal(2, report.StoppedBy?.LineNumber);
    }

    [Fact]
    public void ProgressReachesTheFileLengthAndIsMonotonic()
    {
        var progress = new RecordingProgress();
        long length = new FileInfo(TestFiles.PathOf(Sample)).Length;

        var (records, report) = TestFiles.Import(new AppleHealthImporter(), Sample, progress);

        Assert.NotEmpty(progress.Reports);
        var last = progress.Reports[^1];
        Assert.Equal(length, last.BytesRead);
        Assert.Equal(length, last.TotalBytes);
        Assert.Equal(1.0, last.Fraction);
        Assert.Equal(records.Count, last.RecordsImported);
        Assert.Equal(report.IssueCount, last.IssueCount);
        Assert.Equal(length, report.BytesRead);
        for (int i = 1; i < progress.Reports.Count; i++)
        {
            Assert.True(progress.Reports[i].BytesRead >= progress.Reports[i - 1].BytesRead);
        }
    }

    [Fact]
    public void UnseekableInputHasNoTotalButStillImports()
    {
        byte[] bytes = File.ReadAllBytes(TestFiles.PathOf(Sample));
        var progress = new RecordingProgress();

        var (records, report) = TestFiles.Import(new AppleHealthImporter(), new TrickleStream(bytes, 97), progress);

        Assert.Equal(12, records.Count);
        Assert.Null(report.TotalBytes);
        Assert.Null(progress.Reports[^1].Fraction);
        Assert.Equal(bytes.Length, progress.Reports[^1].BytesRead);
    }

    [Fact]
    public void EnumerationIsLazyAndCancellable()
    {
        using var cts = new CancellationTokenSource();
        using var stream = TestFiles.Open(Sample);
        var report = new ImportReport();
        var sequence = new AppleHealthImporter().Read(stream, report, null, cts.Token);
        Assert.Equal(0, stream.Position); // nothing read before enumeration

        using var e = sequence.GetEnumerator();
        Assert.True(e.MoveNext());
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => e.MoveNext());
    }

    [Theory]
    [InlineData("2024-01-01 08:00:00 +0100", "2024-01-01T07:00:00Z")]
    [InlineData("2024-06-30 23:30:00 -0930", "2024-07-01T09:00:00Z")]
    [InlineData("2024-02-29 00:00:00 +0000", "2024-02-29T00:00:00Z")]
    [InlineData("2024-01-01T08:00:00+01:00", "2024-01-01T07:00:00Z")]
    public void AppleTimestampsAreConvertedToUtc(string text, string expected)
    {
        Assert.True(Timestamps.TryParseAppleHealth(text, out var value));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), value);
        Assert.Equal(TimeSpan.Zero, value.Offset);
    }

    [Theory]
    [InlineData("2023-02-29 00:00:00 +0000")]
    [InlineData("2024-01-01 24:00:00 +0000")]
    [InlineData("2024-01-01 08:00:00")]
    [InlineData("2024-01-01 08:00:00 +2500")]
    [InlineData("")]
    public void InvalidAppleTimestampsAreRejected(string text)
    {
        Assert.False(Timestamps.TryParseAppleHealth(text, out _));
    }
}
