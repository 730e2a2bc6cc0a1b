using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace PrivateHealth.Participant.Data;

/// <summary>Which Fitbit export file is being read (the two formats differ only in the shape of "value").</summary>
public enum FitbitDataKind
{
    /// <summary><c>heart_rate-YYYY-MM-DD.json</c>: <c>{"dateTime":"01/01/24 08:00:00","value":{"bpm":72,"confidence":2}}</c>.</summary>
    HeartRate,

    /// <summary><c>steps-YYYY-MM-DD.json</c>: <c>{"dateTime":"01/01/24 08:00:00","value":"15"}</c> (steps in the minute).</summary>
    Steps,
}

/// <summary>Options of <see cref="FitbitJsonImporter"/>.</summary>
public sealed class FitbitImportOptions
{
    /// <summary>Zone of the export's wall-clock "MM/dd/yy HH:mm:ss" times (UTC by default; set it to the account's
    /// zone if the export was written in local time).</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>Interval covered by one steps element (one minute in Fitbit's intraday files).</summary>
    public TimeSpan StepInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Heart-rate elements with a lower "confidence" are skipped (0 keeps all).</summary>
    public int MinimumHeartRateConfidence { get; init; }

    /// <summary>Source stored on every record.</summary>
    public string Source { get; init; } = "fitbit";

    /// <summary>Largest single array element accepted; a larger one stops the import.</summary>
    public int MaxElementBytes { get; init; } = 1 << 20;
}

/// <summary>
/// Streams a Fitbit JSON export (a top-level array) element by element with a <see cref="Utf8JsonReader"/> over a
/// buffer refilled from the stream, so memory stays bounded by the largest element. A well-formed element with a bad
/// date, a missing or non-numeric value is reported with its index and line and skipped; broken JSON (a truncated
/// file) stops the import, keeping the elements before it.
/// </summary>
public sealed class FitbitJsonImporter : IHealthRecordImporter
{
    private readonly FitbitDataKind _kind;
    private readonly FitbitImportOptions _options;

    public FitbitJsonImporter(FitbitDataKind kind, FitbitImportOptions? options = null)
    {
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown Fitbit data kind.");
        }

        options ??= new FitbitImportOptions();
        ArgumentNullException.ThrowIfNull(options.TimeZone);
        ArgumentNullException.ThrowIfNull(options.Source);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.StepInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxElementBytes, 1024);
        _kind = kind;
        _options = options;
    }

    public FitbitDataKind Kind => _kind;

    /// <summary>The kind for a Fitbit export file name ("heart_rate-2024-01-01.json", "steps-2024-01-01.json"), or null.</summary>
    public static FitbitDataKind? KindFromFileName(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string name = Path.GetFileName(path);
        if (!name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return name.StartsWith("heart_rate-", StringComparison.OrdinalIgnoreCase) ? FitbitDataKind.HeartRate
            : name.StartsWith("steps-", StringComparison.OrdinalIgnoreCase) ? FitbitDataKind.Steps
            : null;
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

    private IEnumerable<HealthRecord> Iterate(Stream source, ImportReport report, IProgress<ImportProgress>? progress, CancellationToken cancellationToken)
    {
        var tracker = new ImportTracker(source, report, progress);
        using var parser = new ArrayParser(this, tracker);
        var batch = new List<HealthRecord>();
        try
        {
            bool more;
            do
            {
                cancellationToken.ThrowIfCancellationRequested();
                more = parser.ParseNextBlock(batch);
                foreach (var record in batch)
                {
                    yield return record;
                }

                batch.Clear();
                tracker.Tick();
            }
            while (more);
        }
        finally
        {
            tracker.Finish(parser.ReachedEnd);
        }
    }

    /// <summary>Incremental parser of the top-level array: one stream read per call, complete elements decoded.</summary>
    private sealed class ArrayParser(FitbitJsonImporter owner, ImportTracker tracker) : IDisposable
    {
        private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

        private enum Phase
        {
            BeforeArray,
            InArray,
            Done,
        }

        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        private int _length;
        private bool _final;
        private bool _started;
        private JsonReaderState _state = new(ReaderOptions);
        private Phase _phase;
        private long _index;
        private long _lineAtBufferStart = 1;
        private int _countedTo;
        private long _lineAtCounted = 1;

        public bool ReachedEnd { get; private set; }

        /// <summary>Reads once from the stream and decodes every complete element; false once the input is finished.</summary>
        public bool ParseNextBlock(List<HealthRecord> batch)
        {
            if (_phase == Phase.Done)
            {
                return false;
            }

            if (!_final)
            {
                if (_length == _buffer.Length && !Grow())
                {
                    return false;
                }

                int n = tracker.Input.Read(_buffer, _length, _buffer.Length - _length);
                if (n == 0)
                {
                    _final = true;
                }
                else
                {
                    _length += n;
                }
            }

            int consumed = 0;
            if (!_started)
            {
                if (_length < 3 && !_final)
                {
                    return true;
                }

                _started = true;
                if (_buffer.AsSpan(0, _length).StartsWith("\uFEFF"u8))
                {
                    consumed = 3;
                }
            }

            consumed += Parse(consumed, batch);
            long line = LineAt(consumed);
            _buffer.AsSpan(consumed, _length - consumed).CopyTo(_buffer);
            _length -= consumed;
            _lineAtBufferStart = _lineAtCounted = line;
            _countedTo = 0;
            return _phase != Phase.Done;
        }

        private bool Grow()
        {
            if (_buffer.Length >= owner._options.MaxElementBytes)
            {
                tracker.Issue(LineAt(0), null, _index, $"element is larger than {owner._options.MaxElementBytes} bytes", stops: true);
                _phase = Phase.Done;
                return false;
            }

            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, owner._options.MaxElementBytes));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
            return true;
        }

        /// <summary>Parses from <paramref name="offset"/>; returns the bytes consumed after it.</summary>
        private int Parse(int offset, List<HealthRecord> batch)
        {
            var data = _buffer.AsSpan(offset, _length - offset);
            var reader = new Utf8JsonReader(data, _final, _state);
            try
            {
                while (true)
                {
                    var before = reader.CurrentState;
                    int beforeConsumed = (int)reader.BytesConsumed;
                    if (!reader.Read())
                    {
                        if (_final)
                        {
                            tracker.Issue(LineAt(offset + beforeConsumed), null, _phase == Phase.InArray ? _index : null,
                                _phase == Phase.BeforeArray ? "the file holds no JSON array" : "the file ends inside the array (truncated?)", stops: true);
                            _phase = Phase.Done;
                        }

                        _state = reader.CurrentState;
                        return (int)reader.BytesConsumed;
                    }

                    if (_phase == Phase.BeforeArray)
                    {
                        if (reader.TokenType != JsonTokenType.StartArray)
                        {
                            tracker.Issue(LineAt(offset + (int)reader.TokenStartIndex), null, null, $"expected a JSON array, found {reader.TokenType}", stops: true);
                            _phase = Phase.Done;
                            return data.Length;
                        }

                        _phase = Phase.InArray;
                        continue;
                    }

                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        _phase = Phase.Done;
                        ReachedEnd = true;
                        return data.Length;
                    }

                    int start = (int)reader.TokenStartIndex;
                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip())
                    {
                        _state = before;
                        return beforeConsumed;
                    }

                    int end = (int)reader.BytesConsumed;
                    long line = LineAt(offset + start);
                    var record = owner.DecodeElement(data[start..end], _index, line, tracker);
                    if (record is not null)
                    {
                        tracker.Imported();
                        batch.Add(record);
                    }

                    _index++;
                }
            }
            catch (JsonException e)
            {
                string what = _phase == Phase.BeforeArray ? "the file holds no JSON array" : "malformed JSON";
                tracker.Issue(e.LineNumber + 1, (int?)(e.BytePositionInLine + 1), _phase == Phase.InArray ? _index : null, $"{what}: {e.Message}", stops: true);
                _phase = Phase.Done;
                return data.Length;
            }
        }

        /// <summary>1-based line of a buffer offset (offsets only move forward between buffer shifts).</summary>
        private long LineAt(int offset)
        {
            if (offset < _countedTo)
            {
                _countedTo = 0;
                _lineAtCounted = _lineAtBufferStart;
            }

            _lineAtCounted += _buffer.AsSpan(_countedTo, offset - _countedTo).Count((byte)'\n');
            _countedTo = offset;
            return _lineAtCounted;
        }

        public void Dispose()
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    private HealthRecord? DecodeElement(ReadOnlySpan<byte> element, long index, long line, ImportTracker tracker)
    {
        var r = new Utf8JsonReader(element, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        r.Read();
        if (r.TokenType != JsonTokenType.StartObject)
        {
            tracker.Issue(line, null, index, $"element is {Describe(r.TokenType)}, not an object");
            return null;
        }

        DateTimeOffset? time = null;
        double? value = null;
        int confidence = int.MaxValue;
        string? problem = null;
        while (problem is null && r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("dateTime"u8))
            {
                r.Read();
                time = ReadTime(ref r, out problem);
            }
            else if (r.ValueTextEquals("value"u8))
            {
                r.Read();
                value = _kind == FitbitDataKind.HeartRate ? ReadHeartRate(ref r, ref confidence, out problem) : ReadNumber(ref r, "value", out problem);
            }
            else
            {
                r.Read();
                r.Skip();
            }
        }

        problem ??= time is null ? "missing dateTime" : value is null ? (_kind == FitbitDataKind.HeartRate ? "missing value.bpm" : "missing value") : null;
        if (problem is null && value < 0)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"value {value} is negative");
        }

        if (problem is not null)
        {
            tracker.Issue(line, null, index, problem);
            return null;
        }

        if (_kind == FitbitDataKind.HeartRate)
        {
            if (confidence < _options.MinimumHeartRateConfidence)
            {
                tracker.Skipped();
                return null;
            }

            return new HealthRecord(HealthMetrics.HeartRate, time!.Value, time.Value, value!.Value, HealthUnits.CountPerMinute, _options.Source);
        }

        return new HealthRecord(HealthMetrics.Steps, time!.Value, time.Value + _options.StepInterval, value!.Value, HealthUnits.Count, _options.Source);
    }

    private DateTimeOffset? ReadTime(ref Utf8JsonReader r, out string? problem)
    {
        problem = null;
        if (r.TokenType != JsonTokenType.String)
        {
            problem = $"dateTime is {Describe(r.TokenType)}, not a string";
            r.Skip();
            return null;
        }

        if (r.ValueSpan.Length > 64)
        {
            problem = "dateTime is longer than 64 characters";
            return null;
        }

        Span<char> chars = stackalloc char[64];
        chars = chars[..r.CopyString(chars)];
        if (Timestamps.TryParseFitbit(chars, _options.TimeZone, out var time)
            || Timestamps.TryParseGeneral(chars, null, _options.TimeZone, out time))
        {
            return time;
        }

        problem = $"dateTime {CsvHealthRecordImporter.Excerpt(chars)} is not a valid MM/dd/yy HH:mm:ss time";
        return null;
    }

    private static double? ReadHeartRate(ref Utf8JsonReader r, ref int confidence, out string? problem)
    {
        problem = null;
        if (r.TokenType != JsonTokenType.StartObject)
        {
            problem = $"value is {Describe(r.TokenType)}, not an object with bpm";
            r.Skip();
            return null;
        }

        double? bpm = null;
        while (problem is null && r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("bpm"u8))
            {
                r.Read();
                bpm = ReadNumber(ref r, "value.bpm", out problem);
            }
            else if (r.ValueTextEquals("confidence"u8))
            {
                r.Read();
                double? c = ReadNumber(ref r, "value.confidence", out problem);
                if (c is { } cv)
                {
                    confidence = (int)Math.Clamp(cv, int.MinValue, int.MaxValue);
                }
            }
            else
            {
                r.Read();
                r.Skip();
            }
        }

        return problem is null ? bpm : null;
    }

    /// <summary>A JSON number or a numeric string (Fitbit writes steps as "15").</summary>
    private static double? ReadNumber(ref Utf8JsonReader r, string what, out string? problem)
    {
        problem = null;
        double value;
        switch (r.TokenType)
        {
            case JsonTokenType.Number when r.TryGetDouble(out value) && double.IsFinite(value):
                return value;
            case JsonTokenType.String when !r.ValueIsEscaped && r.ValueSpan.Length <= 64
                && double.TryParse(r.ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value):
                return value;
            case JsonTokenType.String when r.ValueIsEscaped && r.ValueSpan.Length <= 64:
                Span<char> chars = stackalloc char[64];
                chars = chars[..r.CopyString(chars)];
                if (double.TryParse(chars, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value))
                {
                    return value;
                }

                problem = $"{what} {CsvHealthRecordImporter.Excerpt(chars)} is not a number";
                return null;
            case JsonTokenType.String:
            case JsonTokenType.Number:
                string text = r.ValueSpan.Length <= 64 ? Encoding.UTF8.GetString(r.ValueSpan) : Encoding.UTF8.GetString(r.ValueSpan[..64]) + "…";
                problem = $"{what} '{text}' is not a number";
                return null;
            default:
                problem = $"{what} is {Describe(r.TokenType)}, not a number";
                r.Skip();
                return null;
        }
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };
}
