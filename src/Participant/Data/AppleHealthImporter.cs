using System.Globalization;
using System.Xml;

namespace PrivateHealth.Participant.Data;

/// <summary>
/// Streams Apple Health's <c>export.xml</c> (Health app → Export All Health Data) with an <see cref="XmlReader"/>,
/// keeping heart rate, step count, resting heart rate, body mass (normalised to kg) and asleep intervals of sleep
/// analysis (as minutes asleep); every other record type is skipped. Only top-level <c>&lt;Record&gt;</c>
/// elements are read (records nested in a <c>&lt;Correlation&gt;</c> repeat top-level ones).
/// </summary>
/// <remarks>
/// The export starts with a DOCTYPE and an internal DTD subset. The DTD is ignored (<see cref="DtdProcessing.Ignore"/>,
/// no resolver): no entity is ever expanded and nothing outside the stream is fetched, so a hostile file with
/// entity bombs or external entities fails with a reported XML error (undeclared entity) instead of being processed.
/// </remarks>
public sealed class AppleHealthImporter : IHealthRecordImporter
{
    internal const string HeartRateType = "HKQuantityTypeIdentifierHeartRate";
    internal const string StepCountType = "HKQuantityTypeIdentifierStepCount";
    internal const string RestingHeartRateType = "HKQuantityTypeIdentifierRestingHeartRate";
    internal const string BodyMassType = "HKQuantityTypeIdentifierBodyMass";
    internal const string SleepAnalysisType = "HKCategoryTypeIdentifierSleepAnalysis";
    private const string SleepValuePrefix = "HKCategoryValueSleepAnalysis";
    private const double KilogramsPerPound = 0.45359237;
    private const int MaxCachedSources = 1024;

    /// <summary>Source used when a record has no sourceName.</summary>
    public const string DefaultSource = "apple_health";

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

    /// <summary>Reader settings for untrusted exports: DTD ignored, no resolver, no document size limit.</summary>
    internal static XmlReaderSettings CreateSettings(XmlNameTable names) => new()
    {
        DtdProcessing = DtdProcessing.Ignore,
        XmlResolver = null,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
        IgnoreWhitespace = true,
        CloseInput = false,
        MaxCharactersInDocument = 0,
        MaxCharactersFromEntities = 1024,
        NameTable = names,
    };

    private static IEnumerable<HealthRecord> Iterate(Stream source, ImportReport report, IProgress<ImportProgress>? progress, CancellationToken cancellationToken)
    {
        var tracker = new ImportTracker(source, report, progress);
        bool reachedEnd = false;
        try
        {
            var names = new NameTable();
            using var reader = XmlReader.Create(tracker.Input, CreateSettings(names));
            var parser = new RecordParser(reader, names, tracker);
            var lineInfo = (IXmlLineInfo)reader;
            long recordIndex = -1;
            while (true)
            {
                bool more;
                try
                {
                    more = reader.Read();
                }
                catch (XmlException e)
                {
                    tracker.Issue(e.LineNumber, e.LinePosition, null, $"malformed XML: {e.Message}", stops: true);
                    break;
                }

                if (!more)
                {
                    reachedEnd = true;
                    break;
                }

                if (reader.NodeType != XmlNodeType.Element)
                {
                    continue;
                }

                if (reader.Depth == 0 && !ReferenceEquals(reader.LocalName, parser.RootName))
                {
                    tracker.Issue(lineInfo.LineNumber, lineInfo.LinePosition, null,
                        $"the root element is <{reader.LocalName}>, not <HealthData>: not an Apple Health export.xml", stops: true);
                    break;
                }

                if (reader.Depth != 1 || !ReferenceEquals(reader.LocalName, parser.RecordName))
                {
                    continue;
                }

                recordIndex++;
                cancellationToken.ThrowIfCancellationRequested();
                var record = parser.Parse(lineInfo.LineNumber, lineInfo.LinePosition, recordIndex);
                tracker.Tick();
                if (record is not null)
                {
                    tracker.Imported();
                    yield return record;
                }
            }
        }
        finally
        {
            tracker.Finish(reachedEnd);
        }
    }

    private enum Kind
    {
        HeartRate,
        Steps,
        RestingHeartRate,
        BodyMass,
        Sleep,
    }

    /// <summary>
    /// Reads a &lt;Record&gt;'s attributes into reused character buffers with <see cref="XmlReader.ReadValueChunk"/>,
    /// so that skipped and imported elements allocate no strings (only the record itself, and text for issues).
    /// </summary>
    private sealed class RecordParser
    {
        private readonly XmlReader _reader;
        private readonly ImportTracker _tracker;
        private readonly string _type;
        private readonly string _unit;
        private readonly string _startDate;
        private readonly string _endDate;
        private readonly string _value;
        private readonly string _sourceName;
        private readonly char[] _typeBuffer = new char[64];
        private readonly char[] _startBuffer = new char[64];
        private readonly char[] _endBuffer = new char[64];
        private readonly char[] _valueBuffer = new char[64];
        private readonly char[] _unitBuffer = new char[32];
        private readonly char[] _sourceBuffer = new char[256];
        private readonly Dictionary<string, string> _sources = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _sourceLookup;

        public RecordParser(XmlReader reader, XmlNameTable names, ImportTracker tracker)
        {
            _reader = reader;
            _tracker = tracker;
            RootName = names.Add("HealthData");
            RecordName = names.Add("Record");
            _type = names.Add("type");
            _unit = names.Add("unit");
            _startDate = names.Add("startDate");
            _endDate = names.Add("endDate");
            _value = names.Add("value");
            _sourceName = names.Add("sourceName");
            _sourceLookup = _sources.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        public string RootName { get; }

        public string RecordName { get; }

        private const int Missing = -1;
        private const int TooLong = -2;

        /// <summary>Length of the attribute's value copied into <paramref name="buffer"/>, <see cref="Missing"/> or <see cref="TooLong"/>.</summary>
        private int ReadAttribute(string name, char[] buffer)
        {
            if (!_reader.MoveToAttribute(name))
            {
                return Missing;
            }

            int total = 0;
            while (total < buffer.Length)
            {
                int n = _reader.ReadValueChunk(buffer, total, buffer.Length - total);
                if (n == 0)
                {
                    return total;
                }

                total += n;
            }

            return _reader.ReadValueChunk(new char[1], 0, 1) == 0 ? total : TooLong;
        }

        private string Text(string name) => _reader.GetAttribute(name) ?? "";

        public HealthRecord? Parse(int line, int position, long index)
        {
            try
            {
                return ParseAttributes(line, position, index);
            }
            finally
            {
                _reader.MoveToElement();
            }
        }

        private HealthRecord? ParseAttributes(int line, int position, long index)
        {
            int typeLength = ReadAttribute(_type, _typeBuffer);
            if (typeLength == Missing)
            {
                _tracker.Issue(line, position, index, "Record has no type attribute");
                return null;
            }

            Kind kind;
            switch (typeLength < 0 ? default : _typeBuffer.AsSpan(0, typeLength))
            {
                case HeartRateType:
                    kind = Kind.HeartRate;
                    break;
                case StepCountType:
                    kind = Kind.Steps;
                    break;
                case RestingHeartRateType:
                    kind = Kind.RestingHeartRate;
                    break;
                case BodyMassType:
                    kind = Kind.BodyMass;
                    break;
                case SleepAnalysisType:
                    kind = Kind.Sleep;
                    break;
                default:
                    _tracker.Skipped();
                    return null;
            }

            string type = kind switch
            {
                Kind.HeartRate => HeartRateType,
                Kind.Steps => StepCountType,
                Kind.RestingHeartRate => RestingHeartRateType,
                Kind.BodyMass => BodyMassType,
                _ => SleepAnalysisType,
            };
            int startLength = ReadAttribute(_startDate, _startBuffer);
            int endLength = ReadAttribute(_endDate, _endBuffer);
            int valueLength = ReadAttribute(_value, _valueBuffer);
            string? missing = startLength == Missing ? "startDate" : endLength == Missing ? "endDate" : valueLength == Missing ? "value" : null;
            if (missing is not null)
            {
                _tracker.Issue(line, position, index, $"{type} record has no {missing} attribute");
                return null;
            }

            if (startLength < 0 || !Timestamps.TryParseAppleHealth(_startBuffer.AsSpan(0, startLength), out var start))
            {
                _tracker.Issue(line, position, index, $"startDate {CsvHealthRecordImporter.Excerpt(Text(_startDate))} is not 'yyyy-MM-dd HH:mm:ss ±hhmm'");
                return null;
            }

            if (endLength < 0 || !Timestamps.TryParseAppleHealth(_endBuffer.AsSpan(0, endLength), out var end))
            {
                _tracker.Issue(line, position, index, $"endDate {CsvHealthRecordImporter.Excerpt(Text(_endDate))} is not 'yyyy-MM-dd HH:mm:ss ±hhmm'");
                return null;
            }

            if (end < start)
            {
                _tracker.Issue(line, position, index, $"endDate {Text(_endDate)} precedes startDate {Text(_startDate)}");
                return null;
            }

            var valueText = valueLength < 0 ? default : _valueBuffer.AsSpan(0, valueLength);
            if (kind == Kind.Sleep)
            {
                // category sample: the value names a stage, the quantity is the interval's length
                if (valueLength < 0 || !valueText.StartsWith(SleepValuePrefix, StringComparison.Ordinal))
                {
                    _tracker.Issue(line, position, index, $"sleep value {CsvHealthRecordImporter.Excerpt(Text(_value))} is not an HKCategoryValueSleepAnalysis value");
                    return null;
                }

                switch (valueText[SleepValuePrefix.Length..])
                {
                    case "Asleep" or "AsleepUnspecified" or "AsleepCore" or "AsleepDeep" or "AsleepREM":
                        return new HealthRecord(HealthMetrics.SleepMinutes, start, end, (end - start).TotalMinutes, HealthUnits.Minutes, Source());
                    case "InBed" or "Awake":
                        _tracker.Skipped();
                        return null;
                    default:
                        _tracker.Issue(line, position, index, $"unknown sleep value '{Text(_value)}'");
                        return null;
                }
            }

            if (valueLength < 0 || !double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            {
                _tracker.Issue(line, position, index, $"{type} value {CsvHealthRecordImporter.Excerpt(Text(_value))} is not a number");
                return null;
            }

            int unitLength = ReadAttribute(_unit, _unitBuffer);
            var unit = unitLength < 0 ? default : _unitBuffer.AsSpan(0, unitLength);
            (string metric, string expectedUnit) = kind switch
            {
                Kind.HeartRate => (HealthMetrics.HeartRate, HealthUnits.CountPerMinute),
                Kind.Steps => (HealthMetrics.Steps, HealthUnits.Count),
                Kind.RestingHeartRate => (HealthMetrics.RestingHeartRate, HealthUnits.CountPerMinute),
                _ => (HealthMetrics.BodyMass, HealthUnits.Kilograms),
            };
            if (kind == Kind.BodyMass)
            {
                double factor;
                switch (unitLength < 0 ? default : unit)
                {
                    case "kg":
                        factor = 1;
                        break;
                    case "lb":
                        factor = KilogramsPerPound;
                        break;
                    case "g":
                        factor = 0.001;
                        break;
                    default:
                        _tracker.Issue(line, position, index, $"body mass unit '{Text(_unit)}' is not kg, lb or g");
                        return null;
                }

                value *= factor;
            }
            else if (unitLength < 0 || !unit.SequenceEqual(expectedUnit))
            {
                _tracker.Issue(line, position, index, $"{type} unit '{Text(_unit)}' is not '{expectedUnit}'");
                return null;
            }

            if (value < 0)
            {
                _tracker.Issue(line, position, index, $"{type} value {Text(_value)} is negative");
                return null;
            }

            return new HealthRecord(metric, start, end, value, expectedUnit, Source());
        }

        /// <summary>The record's sourceName, one shared string instance per distinct name.</summary>
        private string Source()
        {
            int length = ReadAttribute(_sourceName, _sourceBuffer);
            if (length == Missing)
            {
                return DefaultSource;
            }

            if (length == TooLong)
            {
                return Text(_sourceName);
            }

            var name = _sourceBuffer.AsSpan(0, length);
            if (_sourceLookup.TryGetValue(name, out var shared))
            {
                return shared;
            }

            string created = name.ToString();
            if (_sources.Count < MaxCachedSources)
            {
                _sources[created] = created;
            }

            return created;
        }
    }
}
