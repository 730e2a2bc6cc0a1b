using System.Buffers;

namespace PrivateHealth.Participant.Data;

/// <summary>
/// RFC 4180 row reader over a <see cref="TextReader"/>: one row at a time (a quoted field may span lines), fields
/// as spans into a reused buffer, the line where each row starts, and a reason when a row breaks the grammar.
/// </summary>
internal sealed class CsvTokenizer
{
    private readonly TextReader _reader;
    private readonly char _delimiter;
    private readonly int _maxRowChars;
    private readonly SearchValues<char> _unquotedStops;
    private static readonly SearchValues<char> QuotedStops = SearchValues.Create("\"\r\n");
    private readonly char[] _buffer = new char[16 * 1024];
    private readonly List<int> _fieldEnds = [];
    private char[] _row = new char[256];
    private int _rowLength;
    private int _pos;
    private int _length;
    private bool _eof;
    private bool _anyQuoted;

    public CsvTokenizer(TextReader reader, char delimiter, int maxRowChars)
    {
        _reader = reader;
        _delimiter = delimiter;
        _maxRowChars = maxRowChars;
        _unquotedStops = SearchValues.Create([delimiter, '"', '\r', '\n']);
    }

    /// <summary>Line (1-based) of the next character to read.</summary>
    public long Line { get; private set; } = 1;

    /// <summary>Line where the current row starts.</summary>
    public long RowLine { get; private set; }

    /// <summary>Why the current row is malformed, or null.</summary>
    public string? RowError { get; private set; }

    /// <summary>The row ended the input inside a quoted field.</summary>
    public bool Unterminated { get; private set; }

    /// <summary>The row exceeded the maximum length; it was not read to its end.</summary>
    public bool TooLong { get; private set; }

    public int FieldCount => _fieldEnds.Count;

    public ReadOnlySpan<char> Field(int index)
    {
        int start = index == 0 ? 0 : _fieldEnds[index - 1];
        return _row.AsSpan(start, _fieldEnds[index] - start);
    }

    /// <summary>Reads the next non-blank row; false at the end of the input.</summary>
    public bool ReadRow()
    {
        while (true)
        {
            _rowLength = 0;
            _fieldEnds.Clear();
            _anyQuoted = false;
            RowError = null;
            Unterminated = false;
            if (!EnsureData())
            {
                return false;
            }

            RowLine = Line;
            bool rowEnded = false;
            while (!rowEnded)
            {
                bool quoted = false;
                if (EnsureData() && _buffer[_pos] == '"')
                {
                    _pos++;
                    quoted = true;
                    _anyQuoted = true;
                    ReadQuoted();
                }

                rowEnded = Unterminated || TooLong || ReadUnquoted(quoted);
                _fieldEnds.Add(_rowLength);
                if (TooLong)
                {
                    RowError = $"row is longer than {_maxRowChars} characters (unbalanced quote?)";
                    return true;
                }
            }

            if (_fieldEnds.Count == 1 && _rowLength == 0 && !_anyQuoted)
            {
                continue; // blank line
            }

            return true;
        }
    }

    private bool EnsureData()
    {
        if (_pos < _length)
        {
            return true;
        }

        if (_eof)
        {
            return false;
        }

        _length = _reader.Read(_buffer, 0, _buffer.Length);
        _pos = 0;
        if (_length == 0)
        {
            _eof = true;
            return false;
        }

        return true;
    }

    /// <summary>Reads a quoted field's content after its opening quote, through the closing quote.</summary>
    private void ReadQuoted()
    {
        long startLine = Line;
        while (true)
        {
            if (!EnsureData())
            {
                Unterminated = true;
                RowError = $"quoted field opened on line {startLine} is never closed (truncated file?)";
                return;
            }

            var span = _buffer.AsSpan(_pos, _length - _pos);
            int stop = span.IndexOfAny(QuotedStops);
            if (stop < 0)
            {
                Append(span);
                _pos = _length;
                if (TooLong)
                {
                    return;
                }

                continue;
            }

            Append(span[..stop]);
            char c = span[stop];
            _pos += stop + 1;
            if (c == '"')
            {
                if (EnsureData() && _buffer[_pos] == '"')
                {
                    _pos++;
                    Append("\"");
                    continue;
                }

                return;
            }

            Append([c]);
            if (c == '\r' && EnsureData() && _buffer[_pos] == '\n')
            {
                _pos++;
                Append("\n");
            }

            Line++;
            if (TooLong)
            {
                return;
            }
        }
    }

    /// <summary>Reads up to the end of the field; true when the row ended (line break or end of input).</summary>
    private bool ReadUnquoted(bool afterClosingQuote)
    {
        while (true)
        {
            if (!EnsureData())
            {
                return true;
            }

            var span = _buffer.AsSpan(_pos, _length - _pos);
            int stop = span.IndexOfAny(_unquotedStops);
            var text = stop < 0 ? span : span[..stop];
            if (!text.IsEmpty)
            {
                if (afterClosingQuote)
                {
                    RowError ??= "characters after a closing quote";
                }

                Append(text);
                if (TooLong)
                {
                    return true;
                }
            }

            if (stop < 0)
            {
                _pos = _length;
                continue;
            }

            char c = span[stop];
            _pos += stop + 1;
            if (c == _delimiter)
            {
                return false;
            }

            switch (c)
            {
                case '"':
                    RowError ??= "quote inside an unquoted field";
                    Append("\"");
                    continue;
                case '\r':
                    if (EnsureData() && _buffer[_pos] == '\n')
                    {
                        _pos++;
                    }

                    Line++;
                    return true;
                default: // '\n'
                    Line++;
                    return true;
            }
        }
    }

    private void Append(ReadOnlySpan<char> text)
    {
        if (_rowLength + text.Length > _maxRowChars)
        {
            TooLong = true;
            return;
        }

        if (_rowLength + text.Length > _row.Length)
        {
            Array.Resize(ref _row, Math.Min(Math.Max(_row.Length * 2, _rowLength + text.Length), _maxRowChars));
        }

        text.CopyTo(_row.AsSpan(_rowLength));
        _rowLength += text.Length;
    }
}
