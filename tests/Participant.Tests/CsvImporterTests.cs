using System.Text;
using PrivateHealth.Participant.Data;

namespace PrivateHealth.Participant.Tests;

public sealed class CsvImporterTests(ITestOutputHelper output)
{
    private const string Sample = "daily_summary.csv";

    private static CsvImportOptions SampleOptions(char delimiter = ',') => new()
    {
        Delimiter = delimiter,
        TimestampColumn = CsvColumn.Named("date"),
        Metrics =
        [
            new CsvMetricColumn(CsvColumn.Named("resting_hr"), HealthUnits.CountPerMinute, HealthMetrics.RestingHeartRate),
            new CsvMetricColumn(CsvColumn.Named("steps"), HealthUnits.Count, HealthMetrics.Steps),
            new CsvMetricColumn(CsvColumn.Named("Weight, KG"), HealthUnits.Kilograms, HealthMetrics.BodyMass),
        ],
    };

    [Fact]
    public void SampleFileImportsGoodRowsAndReportsBadOnesWithLineNumbers()
    {
        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(SampleOptions()), Sample);
        foreach (var issue in report.Issues)
        {
            output.WriteLine(issue.ToString());
        }

        Assert.True(report.Completed);
        Assert.Equal(13, records.Count);
        Assert.Equal(1, report.ItemsSkipped); // the empty steps cell
        Assert.Equal(4, report.IssueCount);
        Assert.Equal(TestFiles.LineOf(Sample, "abc"), Assert.Single(report.Issues, i => i.Reason.Contains("column 'steps': 'abc' is not a number", StringComparison.Ordinal)).LineNumber);
        Assert.Equal(TestFiles.LineOf(Sample, "not-a-date"), Assert.Single(report.Issues, i => i.Reason.Contains("timestamp 'not-a-date'", StringComparison.Ordinal)).LineNumber);
        Assert.Equal(TestFiles.LineOf(Sample, ",57,7000"), Assert.Single(report.Issues, i => i.Reason.Contains("row has 3 fields, the mapping needs 4", StringComparison.Ordinal)).LineNumber);
        Assert.Equal(TestFiles.LineOf(Sample, "stray quote"), Assert.Single(report.Issues, i => i.Reason.Contains("quote inside an unquoted field", StringComparison.Ordinal)).LineNumber);
    }

    [Fact]
    public void QuotedFieldsOffsetsAndMissingOffsetsAreHandled()
    {
        var (records, _) = TestFiles.Import(new CsvHealthRecordImporter(SampleOptions()), Sample);

        // 2024-01-02T08:00:00+01:00 is 07:00 UTC; "2024-01-03 07:00:00" has no offset and is read in UTC
        Assert.Equal(3, records.Count(r => r.Start == TestFiles.Utc(2024, 1, 2, 7)));
        Assert.Equal(2, records.Count(r => r.Start == TestFiles.Utc(2024, 1, 3, 7)));
        // the row after the multi-line quoted note is still aligned
        Assert.Contains(records, r => r.Start == TestFiles.Utc(2024, 1, 4, 7) && r.Metric == HealthMetrics.BodyMass && r.Value == 70.0);
        // a bad cell drops only that cell
        Assert.DoesNotContain(records, r => r.Start == TestFiles.Utc(2024, 1, 4, 7) && r.Metric == HealthMetrics.Steps);
        Assert.All(records, r => Assert.Equal("csv", r.Source));
        Assert.Equal(new double[] { 58, 8042, 70.2 }, records.Take(3).Select(r => r.Value));
    }

    [Fact]
    public void DoubledQuotesDelimitersAndLineBreaksInsideQuotesFollowRfc4180()
    {
        const string csv = "time;label;value\r\n\"2024-01-01T00:00:00Z\";\"a;b \"\"c\"\"\r\nd\";\"1.5\"\r\n2024-01-01T00:01:00Z;plain;2\r\n";
        var options = new CsvImportOptions
        {
            Delimiter = ';',
            TimestampColumn = CsvColumn.At(0),
            Metrics = [new CsvMetricColumn(CsvColumn.Named("value"), "u")],
        };

        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(options), TestFiles.Utf8(csv));

        Assert.Empty(report.Issues);
        Assert.Equal(new[] { 1.5, 2 }, records.Select(r => r.Value));
        Assert.Equal("value", records[0].Metric); // derived from the header
    }

    [Fact]
    public void TokenizerKeepsQuotedContentAndCountsPhysicalLines()
    {
        var csv = new CsvTokenizer(new StringReader("a,\"x,\"\"y\"\"\nz\",c\n\n1,2,3"), ',', 1000);

        Assert.True(csv.ReadRow());
        Assert.Equal(1, csv.RowLine);
        Assert.Equal(3, csv.FieldCount);
        Assert.Equal("x,\"y\"\nz", csv.Field(1).ToString());
        Assert.True(csv.ReadRow());
        Assert.Equal(4, csv.RowLine); // the blank line 3 is skipped
        Assert.Equal("3", csv.Field(2).ToString());
        Assert.False(csv.ReadRow());
    }

    [Fact]
    public void AnUnterminatedQuoteAtTheEndStopsTheImportAndKeepsEarlierRows()
    {
        const string csv = "t,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:01:00Z,\"2\n2024-01-01T00:02:00Z,3\n";
        var options = new CsvImportOptions { TimestampColumn = CsvColumn.Named("t"), Metrics = [new CsvMetricColumn(CsvColumn.Named("v"), "u", "m")] };

        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(options), TestFiles.Utf8(csv));

        Assert.Equal(1, Assert.Single(records).Value);
        var issue = Assert.Single(report.Issues);
        Assert.True(issue.StopsImport);
        Assert.Equal(3, issue.LineNumber);
        Assert.Contains("never closed", issue.Reason, StringComparison.Ordinal);
        Assert.False(report.Completed);
    }

    [Fact]
    public void AnOverlongRowStopsTheImportWithBoundedMemory()
    {
        var text = new StringBuilder("t,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:01:00Z,\"");
        text.Append('x', 100_000);
        var options = new CsvImportOptions
        {
            TimestampColumn = CsvColumn.Named("t"),
            Metrics = [new CsvMetricColumn(CsvColumn.Named("v"), "u", "m")],
            MaxRowCharacters = 4096,
        };

        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(options), TestFiles.Utf8(text.ToString()));

        Assert.Single(records);
        Assert.True(report.StoppedBy?.Reason.Contains("longer than 4096", StringComparison.Ordinal));
    }

    [Fact]
    public void AMissingMappedColumnStopsTheImportNamingTheColumns()
    {
        var options = new CsvImportOptions { TimestampColumn = CsvColumn.Named("when"), Metrics = [new CsvMetricColumn(CsvColumn.Named("steps"), "count")] };

        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(options), Sample);

        Assert.Empty(records);
        Assert.NotNull(report.StoppedBy);
        Assert.Contains("no column 'when'", report.StoppedBy.Reason, StringComparison.Ordinal);
        Assert.Contains("'resting_hr'", report.StoppedBy.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderlessFilesUseIndicesUnixTimesIntervalsAndEndColumns()
    {
        const string csv = "1704067200,1704067260,5\n1704067260000,,6\n";
        var seconds = new CsvImportOptions
        {
            HasHeaderRow = false,
            TimestampColumn = CsvColumn.At(0),
            EndTimestampColumn = CsvColumn.At(1),
            TimestampFormat = "unix-s",
            Metrics = [new CsvMetricColumn(CsvColumn.At(2), "count", HealthMetrics.Steps)],
        };

        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(seconds), TestFiles.Utf8(csv));

        var first = Assert.Single(records);
        Assert.Equal(TestFiles.Utc(2024, 1, 1), first.Start);
        Assert.Equal(TestFiles.Utc(2024, 1, 1, 0, 1), first.End);
        Assert.Equal(2, report.Issues[0].LineNumber); // "1704067260000" seconds is out of range, and the end is empty
        Assert.Equal(1, report.Issues[0].ElementIndex);

        var millis = new CsvImportOptions
        {
            HasHeaderRow = false,
            TimestampColumn = CsvColumn.At(0),
            TimestampFormat = "unix-ms",
            Interval = TimeSpan.FromMinutes(1),
            Metrics = [new CsvMetricColumn(CsvColumn.At(2), "count", HealthMetrics.Steps)],
        };
        var (fromMillis, _) = TestFiles.Import(new CsvHealthRecordImporter(millis), TestFiles.Utf8("1704067260000,x,6\n"));
        Assert.Equal(TestFiles.Utc(2024, 1, 1, 0, 1), Assert.Single(fromMillis).Start);
        Assert.Equal(TimeSpan.FromMinutes(1), fromMillis[0].Duration);
    }

    [Fact]
    public void TimestampsWithoutOffsetAreReadInTheConfiguredZone()
    {
        var zone = TimeZoneInfo.CreateCustomTimeZone("UTC+02", TimeSpan.FromHours(2), "UTC+02", "UTC+02");
        var options = new CsvImportOptions
        {
            TimestampColumn = CsvColumn.Named("t"),
            TimestampFormat = "dd.MM.yyyy HH:mm",
            TimeZone = zone,
            Metrics = [new CsvMetricColumn(CsvColumn.Named("kg"), "kg", HealthMetrics.BodyMass)],
        };

        var (records, _) = TestFiles.Import(new CsvHealthRecordImporter(options), TestFiles.Utf8("t,kg\n31.12.2023 23:30,71.25\n"));

        Assert.Equal(TestFiles.Utc(2023, 12, 31, 21, 30), Assert.Single(records).Start);
        Assert.Equal(71.25, records[0].Value);
    }

    [Fact]
    public void NumbersAreCultureInvariantAndNonFiniteValuesAreRejected()
    {
        var options = new CsvImportOptions { TimestampColumn = CsvColumn.At(0), Metrics = [new CsvMetricColumn(CsvColumn.At(1), "u", "m")] };
        const string csv = "t,v\n2024-01-01T00:00:00Z,\"1,5\"\n2024-01-01T00:00:00Z, 1.5e2 \n2024-01-01T00:00:00Z,NaN\n2024-01-01T00:00:00Z,Infinity\n";

        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(options), TestFiles.Utf8(csv));

        Assert.Equal(150, Assert.Single(records).Value);
        Assert.Equal(3, report.IssueCount);
    }

    [Fact]
    public void ByteOrderMarksAndLoneCarriageReturnsAreAccepted()
    {
        var options = new CsvImportOptions { TimestampColumn = CsvColumn.Named("t"), Metrics = [new CsvMetricColumn(CsvColumn.Named("v"), "u", "m")] };
        byte[] bytes = [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("t,v\r2024-01-01T00:00:00Z,1\r2024-01-01T00:01:00Z,2")];

        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(options), new MemoryStream(bytes));

        Assert.Equal(new double[] { 1, 2 }, records.Select(r => r.Value));
        Assert.Empty(report.Issues);
        Assert.True(report.Completed);
    }

    [Fact]
    public void TheSameFileReadThroughTinyReadsGivesTheSameResult()
    {
        byte[] bytes = File.ReadAllBytes(TestFiles.PathOf(Sample));
        var (expected, expectedReport) = TestFiles.Import(new CsvHealthRecordImporter(SampleOptions()), Sample);

        var (records, report) = TestFiles.Import(new CsvHealthRecordImporter(SampleOptions()), new TrickleStream(bytes, 3));

        Assert.Equal(expected, records);
        Assert.Equal(expectedReport.Issues, report.Issues);
    }

    [Fact]
    public void InvalidOptionsAreRejectedUpFront()
    {
        Assert.Throws<ArgumentException>(() => new CsvHealthRecordImporter(new CsvImportOptions { Delimiter = '"', TimestampColumn = CsvColumn.At(0), Metrics = [new CsvMetricColumn(CsvColumn.At(1), "u", "m")] }));
        Assert.Throws<ArgumentException>(() => new CsvHealthRecordImporter(new CsvImportOptions { TimestampColumn = CsvColumn.At(0), Metrics = [] }));
        Assert.Throws<ArgumentException>(() => new CsvHealthRecordImporter(new CsvImportOptions { HasHeaderRow = false, TimestampColumn = CsvColumn.Named("t"), Metrics = [new CsvMetricColumn(CsvColumn.At(1), "u", "m")] }));
        Assert.Throws<ArgumentException>(() => new CsvHealthRecordImporter(new CsvImportOptions { HasHeaderRow = false, TimestampColumn = CsvColumn.At(0), Metrics = [new CsvMetricColumn(CsvColumn.At(1), "u")] }));
    }

    [Theory]
    [InlineData("Resting HR (bpm)", "resting_hr_bpm")]
    [InlineData("  Steps ", "steps")]
    [InlineData("SpO2 %", "spo2")]
    public void MetricNamesAreDerivedFromHeaders(string header, string metric)
    {
        Assert.Equal(metric, CsvHealthRecordImporter.MetricNameFromHeader(header));
    }
}
