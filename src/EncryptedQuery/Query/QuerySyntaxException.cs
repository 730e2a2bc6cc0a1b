namespace PrivateHealth.EncryptedQuery.Query;

/// <summary>
/// A query that does not follow the grammar. <see cref="Exception.Message"/> is
/// <c>"{reason} at line L, column C"</c> followed by the offending line and carets under the span (see <see cref="QueryErrors.Describe"/>).
/// </summary>
public sealed class QuerySyntaxException : FormatException
{
    /// <summary>Creates the exception for <paramref name="span"/> of <paramref name="text"/>.</summary>
    /// <param name="text">The query text.</param>
    /// <param name="span">The offending part of the text.</param>
    /// <param name="reason">What was expected or found, without the location.</param>
    public QuerySyntaxException(string text, SourceSpan span, string reason)
        : base(QueryErrors.Describe(text, span, reason))
    {
        var (line, column, _, _) = QueryErrors.Locate(text, span.Start);
        Position = Math.Clamp(span.Start, 0, text.Length);
        Length = Math.Max(0, span.Length);
        Line = line;
        Column = column;
        Reason = reason;
    }

    /// <summary>0-based character offset of the error in the query text.</summary>
    public int Position { get; }

    /// <summary>Number of characters of the offending text (0 at the end of the input).</summary>
    public int Length { get; }

    /// <summary>1-based line of <see cref="Position"/>.</summary>
    public int Line { get; }

    /// <summary>1-based column of <see cref="Position"/> (UTF-16 code units from the start of the line).</summary>
    public int Column { get; }

    /// <summary>The message without location and excerpt, e.g. <c>expected ')' to close COUNT(, found end of query</c>.</summary>
    public string Reason { get; }

    /// <summary>The offending span.</summary>
    public SourceSpan Span => new(Position, Length);
}
