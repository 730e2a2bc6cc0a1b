using System.Globalization;
using System.Text;

namespace PrivateHealth.EncryptedQuery.Query;

/// <summary>Formats error messages that point into the query text; shared by the parser and the planner's semantic checks.</summary>
public static class QueryErrors
{
    /// <summary>Lines longer than this are shown as a window around the span.</summary>
    private const int MaxDisplayWidth = 100;

    /// <summary>Characters shown before the span when the line is windowed.</summary>
    private const int WindowLead = 40;

    /// <summary>
    /// Returns <c>"{message} at line L, column C"</c>, a newline, the line of <paramref name="text"/> containing the start of
    /// <paramref name="span"/> and a line of carets (<c>^</c>) under the span (one caret for an empty span, clipped at the end of the line).
    /// Control and invisible formatting characters of the line are shown as <c>?</c> (tabs as spaces) so that the carets line up.
    /// </summary>
    /// <param name="text">The query text.</param>
    /// <param name="span">The offending part of the text; clamped to the text.</param>
    /// <param name="message">What was expected or found, e.g. <c>unknown measure 'bmi'</c>.</param>
    public static string Describe(string text, SourceSpan span, string message)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(message);
        var (line, column, lineStart, lineEnd) = Locate(text, span.Start);
        var start = Math.Clamp(span.Start, 0, text.Length);
        var displayStart = lineStart;
        var displayEnd = lineEnd;
        if (lineEnd - lineStart > MaxDisplayWidth)
        {
            displayStart = Math.Max(lineStart, start - WindowLead);
            displayEnd = Math.Min(lineEnd, displayStart + MaxDisplayWidth);
            if (displayEnd - displayStart < MaxDisplayWidth)
            {
                displayStart = Math.Max(lineStart, displayEnd - MaxDisplayWidth);
            }
        }

        var sb = new StringBuilder(message.Length + 2 * (displayEnd - displayStart) + 48);
        sb.Append(message).Append(CultureInfo.InvariantCulture, $" at line {line}, column {column}").Append('\n');
        var prefix = displayStart > lineStart ? "..." : string.Empty;
        sb.Append(prefix);
        for (var i = displayStart; i < displayEnd; i++)
        {
            sb.Append(Printable(text[i]));
        }

        if (displayEnd < lineEnd)
        {
            sb.Append("...");
        }

        sb.Append('\n').Append(' ', prefix.Length + (start - displayStart));
        sb.Append('^', Math.Max(1, Math.Min(Math.Max(span.Length, 0), displayEnd - start)));
        return sb.ToString();
    }

    /// <summary>1-based line and column of <paramref name="position"/>, with the bounds of its line (line breaks: LF, CRLF, CR).</summary>
    internal static (int Line, int Column, int LineStart, int LineEnd) Locate(string text, int position)
    {
        position = Math.Clamp(position, 0, text.Length);
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < position; i++)
        {
            var c = text[i];
            if (c == '\n' || (c == '\r' && (i + 1 >= text.Length || text[i + 1] != '\n')))
            {
                line++;
                lineStart = i + 1;
            }
        }

        var lineEnd = position;
        while (lineEnd < text.Length && text[lineEnd] != '\n' && text[lineEnd] != '\r')
        {
            lineEnd++;
        }

        return (line, position - lineStart + 1, lineStart, lineEnd);
    }

    /// <summary>True for characters that may not appear anywhere in a query (control characters other than tab/CR/LF, and invisible format characters such as bidirectional overrides).</summary>
    internal static bool IsForbidden(char c) =>
        (char.IsControl(c) && c is not ('\t' or '\n' or '\r'))
        || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format
        || c is '\u2028' or '\u2029';

    private static char Printable(char c) =>
        c == '\t' ? ' ' : IsForbidden(c) || char.IsControl(c) ? '?' : c;
}
