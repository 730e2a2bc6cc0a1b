using System.Globalization;

namespace PrivateHealth.EncryptedQuery.Query;

/// <summary>Token kinds of the query dialect.</summary>
internal enum TokenKind
{
    Identifier,
    Keyword,
    String,
    Number,
    LeftParen,
    RightParen,
    Comma,
    Star,
    Tilde,
    Plus,
    Semicolon,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    End,

    /// <summary>A lexical error; the parser throws <see cref="Token.Error"/> when it reaches the token, so errors surface in text order.</summary>
    Error,
}

/// <summary>Reserved words (case-insensitive). Aggregate names are not reserved: they are identifiers, special only before '('.</summary>
internal enum Keyword
{
    None,
    Select,
    From,
    Where,
    Group,
    By,
    And,
    Or,
    Not,
    In,
    Between,
}

/// <summary>One token.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Span">Where it occurs.</param>
/// <param name="Raw">The source text of the token.</param>
/// <param name="Value">Identifier name, unescaped string value or number text.</param>
/// <param name="Number">Value of a number token.</param>
/// <param name="Keyword">The keyword of a <see cref="TokenKind.Keyword"/> token.</param>
/// <param name="Error">The error of a <see cref="TokenKind.Error"/> token.</param>
internal sealed record Token(
    TokenKind Kind,
    SourceSpan Span,
    string Raw,
    string Value,
    double Number = 0,
    Keyword Keyword = Keyword.None,
    QuerySyntaxException? Error = null)
{
    public bool Is(Keyword keyword) => Kind == TokenKind.Keyword && Keyword == keyword;
}

/// <summary>Splits query text into tokens; stops at the first lexical error (an <see cref="TokenKind.Error"/> token).</summary>
internal static class QueryLexer
{
    /// <summary>Longest accepted identifier.</summary>
    public const int MaxIdentifierLength = 128;

    private static readonly Dictionary<string, Keyword> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["SELECT"] = Keyword.Select,
        ["FROM"] = Keyword.From,
        ["WHERE"] = Keyword.Where,
        ["GROUP"] = Keyword.Group,
        ["BY"] = Keyword.By,
        ["AND"] = Keyword.And,
        ["OR"] = Keyword.Or,
        ["NOT"] = Keyword.Not,
        ["IN"] = Keyword.In,
        ["BETWEEN"] = Keyword.Between,
    };

    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            while (i < text.Length && text[i] is ' ' or '\t' or '\n' or '\r')
            {
                i++;
            }

            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, new SourceSpan(text.Length, 0), string.Empty, string.Empty));
                return tokens;
            }

            var token = Next(text, i);
            tokens.Add(token);
            if (token.Kind == TokenKind.Error)
            {
                return tokens;
            }

            i = token.Span.End;
        }
    }

    private static Token Next(string text, int start)
    {
        var c = text[start];
        if (QueryErrors.IsForbidden(c))
        {
            var what = char.IsControl(c) ? "control character" : "invisible formatting character";
            return Fail(text, start, 1, $"{what} U+{(int)c:X4} is not allowed");
        }

        if (IsIdentifierStart(c))
        {
            return ReadWord(text, start);
        }

        if (IsDigit(c) || (c is '+' or '-' && start + 1 < text.Length && IsDigit(text[start + 1])))
        {
            return ReadNumber(text, start);
        }

        return c switch
        {
            '\'' => ReadString(text, start),
            '(' => Simple(TokenKind.LeftParen, text, start, 1),
            ')' => Simple(TokenKind.RightParen, text, start, 1),
            ',' => Simple(TokenKind.Comma, text, start, 1),
            '*' => Simple(TokenKind.Star, text, start, 1),
            '~' => Simple(TokenKind.Tilde, text, start, 1),
            '+' => Simple(TokenKind.Plus, text, start, 1),
            ';' => Simple(TokenKind.Semicolon, text, start, 1),
            '=' => Simple(TokenKind.Equal, text, start, At(text, start + 1) == '=' ? 2 : 1),
            '!' when At(text, start + 1) == '=' => Simple(TokenKind.NotEqual, text, start, 2),
            '!' => Fail(text, start, 1, "unexpected character '!' (use != or <> for 'not equal')"),
            '<' when At(text, start + 1) == '>' => Simple(TokenKind.NotEqual, text, start, 2),
            '<' when At(text, start + 1) == '=' => Simple(TokenKind.LessOrEqual, text, start, 2),
            '<' => Simple(TokenKind.Less, text, start, 1),
            '>' when At(text, start + 1) == '=' => Simple(TokenKind.GreaterOrEqual, text, start, 2),
            '>' => Simple(TokenKind.Greater, text, start, 1),
            '"' => Fail(text, start, 1, "unexpected character '\"': strings use single quotes, e.g. 'north'"),
            '-' => Fail(text, start, 1, "unexpected character '-': a minus sign must be directly followed by a number"),
            '.' when IsDigit(At(text, start + 1)) => Fail(text, start, 1, "a number needs a digit before '.', e.g. 0.5"),
            _ => Fail(text, start, char.IsHighSurrogate(c) && char.IsLowSurrogate(At(text, start + 1)) ? 2 : 1,
                $"unexpected character '{Slice(text, start, char.IsHighSurrogate(c) && char.IsLowSurrogate(At(text, start + 1)) ? 2 : 1)}'"),
        };
    }

    private static Token ReadWord(string text, int start)
    {
        var end = start + 1;
        while (end < text.Length && IsIdentifierPart(text[end]))
        {
            end++;
        }

        var word = text[start..end];
        if (Keywords.TryGetValue(word, out var keyword))
        {
            return new Token(TokenKind.Keyword, new SourceSpan(start, end - start), word, word, Keyword: keyword);
        }

        if (word.Length > MaxIdentifierLength)
        {
            return Fail(text, start, word.Length, $"name is longer than {MaxIdentifierLength} characters");
        }

        return new Token(TokenKind.Identifier, new SourceSpan(start, end - start), word, word);
    }

    private static Token ReadNumber(string text, int start)
    {
        var i = start;
        if (text[i] is '+' or '-')
        {
            i++;
        }

        while (IsDigit(At(text, i)))
        {
            i++;
        }

        if (At(text, i) == '.')
        {
            i++;
            if (!IsDigit(At(text, i)))
            {
                return Fail(text, start, i - start, $"expected a digit after '.' in number '{text[start..i]}'");
            }

            while (IsDigit(At(text, i)))
            {
                i++;
            }
        }

        if (At(text, i) is 'e' or 'E')
        {
            var mark = i;
            i++;
            if (At(text, i) is '+' or '-')
            {
                i++;
            }

            if (!IsDigit(At(text, i)))
            {
                // "12e" or "3E+" — a malformed exponent; "2else" style run-ons are reported below as an invalid number.
                if (!IsIdentifierPart(At(text, i)))
                {
                    return Fail(text, start, i - start, $"expected a digit in the exponent of number '{text[start..i]}'");
                }

                i = mark;
            }
            else
            {
                while (IsDigit(At(text, i)))
                {
                    i++;
                }
            }
        }

        if (IsIdentifierPart(At(text, i)) || At(text, i) == '.')
        {
            var end = i;
            while (end < text.Length && (IsIdentifierPart(text[end]) || text[end] == '.'))
            {
                end++;
            }

            return Fail(text, start, end - start, $"invalid number '{Truncate(text[start..end])}'");
        }

        var raw = text[start..i];
        var value = double.Parse(raw, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture);
        if (!double.IsFinite(value))
        {
            return Fail(text, start, i - start, $"number '{Truncate(raw)}' is out of range");
        }

        return new Token(TokenKind.Number, new SourceSpan(start, i - start), raw, raw, value);
    }

    private static Token ReadString(string text, int start)
    {
        var sb = new System.Text.StringBuilder();
        var i = start + 1;
        while (true)
        {
            if (i >= text.Length || text[i] is '\n' or '\r')
            {
                return Fail(text, start, 1, "unterminated string: missing closing quote (') before the end of the line");
            }

            var c = text[i];
            if (QueryErrors.IsForbidden(c))
            {
                var what = char.IsControl(c) ? "control character" : "invisible formatting character";
                return Fail(text, i, 1, $"{what} U+{(int)c:X4} is not allowed in a string");
            }

            if (c == '\'')
            {
                if (At(text, i + 1) == '\'')
                {
                    sb.Append('\'');
                    i += 2;
                    continue;
                }

                i++;
                return new Token(TokenKind.String, new SourceSpan(start, i - start), text[start..i], sb.ToString());
            }

            sb.Append(c);
            i++;
        }
    }

    private static Token Simple(TokenKind kind, string text, int start, int length)
    {
        var raw = text.Substring(start, length);
        return new Token(kind, new SourceSpan(start, length), raw, raw);
    }

    private static Token Fail(string text, int start, int length, string reason)
    {
        var span = new SourceSpan(start, length);
        return new Token(TokenKind.Error, span, Slice(text, start, length), string.Empty, Error: new QuerySyntaxException(text, span, reason));
    }

    private static string Slice(string text, int start, int length) => text.Substring(start, Math.Min(length, text.Length - start));

    internal static string Truncate(string s) => s.Length <= 40 ? s : string.Concat(s.AsSpan(0, 37), "...");

    private static char At(string text, int i) => i < text.Length ? text[i] : '\0';

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    internal static bool IsIdentifierStart(char c) => c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or '_';

    internal static bool IsIdentifierPart(char c) => IsIdentifierStart(c) || IsDigit(c);
}
