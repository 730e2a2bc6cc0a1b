using System.Text;
using PrivateHealth.Participant.Data;

namespace PrivateHealth.Participant.Tests;

public sealed class FitbitImporterTests(ITestOutputHelper output)
{
    [Fact]
    public void HeartRateFileYieldsValidSamplesAndReportsBadElementsByIndexAndLine()
    {
        const string file = "heart_rate-2024-01-01.json";
        var (records, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.HeartRate), file);
        foreach (var issue in report.Issues)
        {
            output.WriteLine(issue.ToString());
        }

        Assert.True(report.Completed);
        Assert.Equal(new double[] { 72, 74, 71 }, records.Select(r => r.Value));
        Assert.All(records, r => Assert.Equal((HealthMetrics.HeartRate, HealthUnits.CountPerMinute, "fitbit"), (r.Metric, r.Unit, r.Source)));
        Assert.Equal(TestFiles.Utc(2024, 1, 1, 8, 0, 5), records[1].Start);
        Assert.Equal(records[1].Start, records[1].End);

        Assert.Equal(4, report.IssueCount);
        Assert.Equal([2L, 3L, 4L, 5L], report.Issues.Select(i => i.ElementIndex!.Value));
        Assert.Contains("'13/45/24 08:00:10'", report.Issues[0].Reason, StringComparison.Ordinal);
        Assert.Equal(TestFiles.LineOf(file, "13/45/24") - 1, report.Issues[0].LineNumber); // the element's opening brace
        Assert.Contains("value.bpm 'fast' is not a number", report.Issues[1].Reason, StringComparison.Ordinal);
        Assert.Equal("missing value.bpm", report.Issues[2].Reason);
        Assert.Contains("is a number, not an object", report.Issues[3].Reason, StringComparison.Ordinal);
        Assert.Equal(TestFiles.LineOf(file, "42,"), report.Issues[3].LineNumber);
    }

    [Fact]
    public void StepsFileReadsStringAndNumberValuesAsOneMinuteIntervals()
    {
        var (records, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.Steps), "steps-2024-01-01.json");

        Assert.Equal(new double[] { 15, 0, 31 }, records.Select(r => r.Value));
        Assert.All(records, r => Assert.Equal(TimeSpan.FromMinutes(1), r.Duration));
        Assert.All(records, r => Assert.Equal(HealthMetrics.Steps, r.Metric));
        Assert.Equal(2, report.IssueCount);
        Assert.Contains("'lots' is not a number", report.Issues[0].Reason, StringComparison.Ordinal);
        Assert.Contains("'01/32/24 08:03:00'", report.Issues[1].Reason, StringComparison.Ordinal);
        Assert.Equal(TestFiles.LineOf("steps-2024-01-01.json", "01/32/24") - 1, report.Issues[1].LineNumber);
    }

    [Fact]
    public void TruncatedFileKeepsCompleteElementsAndStops()
    {
        var (records, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.Steps), "steps-truncated.json");

        Assert.Equal(new double[] { 15, 12 }, records.Select(r => r.Value));
        Assert.False(report.Completed);
        var stop = Assert.Single(report.Issues);
        Assert.True(stop.StopsImport);
        Assert.Equal(2, stop.ElementIndex);
        output.WriteLine(stop.ToString());
    }

    [Fact]
    public void ElementsSplitAcrossEveryReadBoundaryParseTheSame()
    {
        byte[] bytes = File.ReadAllBytes(TestFiles.PathOf("heart_rate-2024-01-01.json"));
        var (expected, expectedReport) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.HeartRate), new MemoryStream(bytes));

        foreach (int chunk in new[] { 1, 2, 5, 13 })
        {
            var (records, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.HeartRate), new TrickleStream(bytes, chunk));
            Assert.Equal(expected, records);
            Assert.Equal(expectedReport.Issues, report.Issues);
        }
    }

    [Fact]
    public void ManyElementsStreamWithLineNumbersAcrossBufferRefills()
    {
        var json = new StringBuilder("[\n");
        const int Count = 20_000;
        for (int i = 0; i < Count; i++)
        {
            var t = new DateTime(2024, 1, 1).AddSeconds(5 * i);
            string value = i == 12_345 ? "\"oops\"" : (60 + (i % 40)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            json.Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\n  \"dateTime\" : \"{t:MM/dd/yy HH:mm:ss}\",\n  \"value\" : {{\n    \"bpm\" : {value},\n    \"confidence\" : 2\n  }}\n}}{(i < Count - 1 ? "," : "")}");
        }

        json.Append(']');
        var progress = new RecordingProgress();
        var (records, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.HeartRate), TestFiles.Utf8(json.ToString()), progress);

        Assert.Equal(Count - 1, records.Count);
        var issue = Assert.Single(report.Issues);
        Assert.Equal(12_345, issue.ElementIndex);
        Assert.Equal(2 + (12_345 * 6), issue.LineNumber); // "[" line, then 6 lines per element ("},{" shares one)
        Assert.True(progress.Reports.Count > 5);
        Assert.Equal(TestFiles.Utc(2024, 1, 1).AddSeconds(5 * (Count - 1)), records[^1].Start);
    }

    [Fact]
    public void AnElementLargerThanTheBufferIsStillRead()
    {
        string big = new('x', 300_000);
        string json = $"[{{\"dateTime\":\"01/01/24 08:00:00\",\"note\":\"{big}\",\"value\":\"7\"}},{{\"dateTime\":\"01/01/24 08:01:00\",\"value\":\"8\"}}]";

        var (records, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.Steps), TestFiles.Utf8(json));

        Assert.Equal(new double[] { 7, 8 }, records.Select(r => r.Value));
        Assert.True(report.Completed);
    }

    [Fact]
    public void AnElementBeyondTheLimitStopsTheImport()
    {
        string big = new('x', 300_000);
        string json = $"[{{\"dateTime\":\"01/01/24 08:00:00\",\"value\":\"7\"}},{{\"dateTime\":\"01/01/24 08:00:00\",\"note\":\"{big}\",\"value\":\"7\"}}]";

        var (records, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.Steps, new FitbitImportOptions { MaxElementBytes = 128 * 1024 }), TestFiles.Utf8(json));

        Assert.Single(records);
        Assert.Contains("larger than", report.StoppedBy?.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"dateTime\":\"01/01/24 08:00:00\"}", "expected a JSON array")]
    [InlineData("", "no JSON array")]
    [InlineData("[{\"dateTime\":\"01/01/24 08:00:00\",\"value\":\"1\"} {\"x\":1}]", "malformed JSON")]
    public void NonArrayOrBrokenJsonStopsWithAReason(string json, string reason)
    {
        var (_, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.Steps), TestFiles.Utf8(json));

        Assert.Contains(reason, report.StoppedBy?.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ByteOrderMarkTimeZoneAndConfidenceFilterAreApplied()
    {
        var zone = TimeZoneInfo.CreateCustomTimeZone("UTC-05", TimeSpan.FromHours(-5), "UTC-05", "UTC-05");
        byte[] bytes = [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("""
            [{"dateTime":"01/01/24 23:00:00","value":{"bpm":61,"confidence":1}},
             {"dateTime":"01/01/24 23:00:05","value":{"confidence":3,"bpm":62}}]
            """)];
        var options = new FitbitImportOptions { TimeZone = zone, MinimumHeartRateConfidence = 2, Source = "charge6" };

        var (records, report) = TestFiles.Import(new FitbitJsonImporter(FitbitDataKind.HeartRate, options), new MemoryStream(bytes));

        var only = Assert.Single(records);
        Assert.Equal(TestFiles.Utc(2024, 1, 2, 4, 0, 5), only.Start);
        Assert.Equal("charge6", only.Source);
        Assert.Equal(1, report.ItemsSkipped);
    }

    [Theory]
    [InlineData("heart_rate-2024-01-01.json", FitbitDataKind.HeartRate)]
    [InlineData("/exports/Physical Activity/steps-2023-12-31.json", FitbitDataKind.Steps)]
    [InlineData("calories-2024-01-01.json", null)]
    [InlineData("steps-2024-01-01.csv", null)]
    public void KindIsInferredFromFitbitFileNames(string path, FitbitDataKind? kind)
    {
        Assert.Equal(kind, FitbitJsonImporter.KindFromFileName(path));
    }
}
