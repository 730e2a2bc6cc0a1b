using System.Globalization;

namespace PrivateHealth.EncryptedQuery.Query;

/// <summary>
/// Recursive-descent parser for the analytics dialect:
/// <code>
/// query     := SELECT item (',' item)* FROM name [WHERE or] [GROUP BY name (',' name)*] [';']
/// item      := COUNT '(' '*' ')' | (SUM|AVG|VAR|STDDEV|HISTOGRAM) '(' name ')' | (COVAR|CORR) '(' name ',' name ')'
///            | LINREG '(' name '~' name ('+' name)* ')'
/// or        := and (OR and)*
/// and       := not (AND not)*
/// not       := NOT not | primary
/// primary   := '(' or ')' | name op literal | name [NOT] IN '(' literal (',' literal)* ')' | name [NOT] BETWEEN literal AND literal
/// op        := '=' | '!=' | '&lt;&gt;' | '&lt;' | '&lt;=' | '&gt;' | '&gt;='
/// literal   := 'string' (with '' for a quote) | number ([+-]digits[.digits][e[+-]digits])
/// </code>
/// Keywords are case-insensitive; names are <c>[A-Za-z_][A-Za-z0-9_]*</c> and may not be keywords
/// (aggregate names are special only before '('). Errors are <see cref="QuerySyntaxException"/>s with the position.
/// </summary>
public static class QueryParser
{
    /// <summary>Longest accepted query text, in characters.</summary>
    public const int MaxLength = 10_000;

    /// <summary>Deepest accepted nesting of parentheses and NOTs in the WHERE clause.</summary>
    public const int MaxNestingDepth = 64;

    /// <summary>The aggregate names in the order they are listed in error messages.</summary>
    internal static readonly IReadOnlyList<(string Name, AggregateKind Kind)> Aggregates =
    [
        ("COUNT", AggregateKind.Count),
        ("SUM", AggregateKind.Sum),
        ("AVG", AggregateKind.Avg),
        ("VAR", AggregateKind.Var),
        ("STDDEV", AggregateKind.Stddev),
        ("HISTOGRAM", AggregateKind.Histogram),
        ("COVAR", AggregateKind.Covar),
        ("CORR", AggregateKind.Corr),
        ("LINREG", AggregateKind.LinReg),
    ];

    /// <summary>The upper-case name of <paramref name="kind"/> as written in queries.</summary>
    public static string FunctionName(AggregateKind kind) => kind switch
    {
        AggregateKind.Count => "COUNT",
        AggregateKind.Sum => "SUM",
        AggregateKind.Avg => "AVG",
        AggregateKind.Var => "VAR",
        AggregateKind.Stddev => "STDDEV",
        AggregateKind.Histogram => "HISTOGRAM",
        AggregateKind.Covar => "COVAR",
        AggregateKind.Corr => "CORR",
        AggregateKind.LinReg => "LINREG",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown aggregate"),
    };

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="QuerySyntaxException">The text is empty, too long, contains control characters or does not follow the grammar.</exception>
    public static QueryAst Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxLength)
        {
            throw new QuerySyntaxException(text, new SourceSpan(MaxLength, text.Length - MaxLength),
                $"query is {text.Length.ToString(CultureInfo.InvariantCulture)} characters long; the maximum is {MaxLength.ToString(CultureInfo.InvariantCulture)}");
        }

        return new Parser(text, QueryLexer.Tokenize(text)).ParseQuery();
    }

    private sealed class Parser(string text, List<Token> tokens)
    {
        private int _index;

        private Token Current => tokens[_index];

        private Token Peek(int ahead = 1) => tokens[Math.Min(_index + ahead, tokens.Count - 1)];

        public QueryAst ParseQuery()
        {
            var first = Current;
            if (first.Kind == TokenKind.End)
            {
                throw Error(first, "empty query: expected SELECT");
            }

            var select = Expect(Keyword.Select, "expected SELECT at the start of the query");
            if (Current.Is(Keyword.From))
            {
                throw Error(Current, "the SELECT list is empty: expected an aggregate such as COUNT(*) before FROM");
            }

            var items = new List<SelectItem> { ParseSelectItem("after SELECT") };
            while (true)
            {
                if (Current.Kind == TokenKind.Comma)
                {
                    Advance();
                    items.Add(ParseSelectItem("after ','"));
                }
                else if (Current.Is(Keyword.From))
                {
                    break;
                }
                else
                {
                    throw Error(Current, $"expected ',' or FROM after {FunctionName(items[^1].Kind)}(...)");
                }
            }

            Advance(); // FROM
            var cohort = ExpectIdentifier("expected a cohort name after FROM");
            var last = cohort.Span;

            Condition? where = null;
            if (Current.Is(Keyword.Where))
            {
                Advance();
                var (condition, extent) = ParseOr("after WHERE", 0);
                where = condition;
                last = extent;
            }

            var groupBy = new List<Identifier>();
            if (Current.Is(Keyword.Group))
            {
                var group = Advance();
                if (!Current.Is(Keyword.By))
                {
                    throw Error(Current, "expected BY after GROUP");
                }

                last = SourceSpan.Cover(group.Span, Advance().Span);
                var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                while (true)
                {
                    var dimension = ExpectIdentifier(groupBy.Count == 0 ? "expected a dimension name after GROUP BY" : "expected a dimension name after ','");
                    if (!seen.Add(dimension.Name))
                    {
                        throw new QuerySyntaxException(text, dimension.Span, $"duplicate GROUP BY dimension '{dimension.Name}'");
                    }

                    groupBy.Add(dimension);
                    last = dimension.Span;
                    if (Current.Kind != TokenKind.Comma)
                    {
                        break;
                    }

                    Advance();
                }
            }

            if (Current.Kind == TokenKind.Semicolon)
            {
                Advance();
            }

            if (Current.Kind != TokenKind.End)
            {
                ThrowIfLexError(Current);
                throw new QuerySyntaxException(text, Current.Span, $"unexpected {Quote(Current)} after the end of the query{Hint(Current)}");
            }

            return new QueryAst(items, cohort, where, groupBy, text, SourceSpan.Cover(select.Span, last));
        }

        private SelectItem ParseSelectItem(string context)
        {
            var name = Current;
            if (name.Kind != TokenKind.Identifier)
            {
                throw Error(name, $"expected an aggregate such as COUNT(*) or AVG(measure) {context}");
            }

            var kind = Lookup(name.Value);
            if (Peek().Kind != TokenKind.LeftParen)
            {
                if (kind is { } k)
                {
                    Advance();
                    throw Error(Current, $"expected '(' after {FunctionName(k)}");
                }

                throw Error(name, $"expected an aggregate such as COUNT(*) or AVG(measure) {context}", " (plain columns cannot be selected)");
            }

            if (kind is not { } aggregate)
            {
                throw new QuerySyntaxException(text, name.Span,
                    $"unknown function '{name.Value}': supported are {string.Join(", ", Aggregates.Select(a => a.Name))}");
            }

            var fn = FunctionName(aggregate);
            Advance(); // name
            Advance(); // (
            var arguments = new List<Identifier>();
            Identifier? target = null;
            switch (aggregate)
            {
                case AggregateKind.Count:
                    if (Current.Kind != TokenKind.Star)
                    {
                        throw Error(Current, "COUNT takes * (COUNT(*))");
                    }

                    Advance();
                    break;

                case AggregateKind.Sum or AggregateKind.Avg or AggregateKind.Var or AggregateKind.Stddev or AggregateKind.Histogram:
                    var noun = aggregate == AggregateKind.Histogram ? "dimension" : "measure";
                    arguments.Add(ExpectIdentifier($"expected a {noun} name in {fn}("));
                    if (Current.Kind == TokenKind.Comma)
                    {
                        throw Error(Current, $"{fn} takes exactly one {noun}, e.g. {fn}({arguments[0].Name})");
                    }

                    break;

                case AggregateKind.Covar or AggregateKind.Corr:
                    arguments.Add(ExpectIdentifier($"expected a measure name in {fn}("));
                    if (Current.Kind != TokenKind.Comma)
                    {
                        throw Error(Current, $"{fn} takes two measures, e.g. {fn}(bmi, glucose): expected ','");
                    }

                    Advance();
                    arguments.Add(ExpectIdentifier($"expected a second measure name in {fn}("));
                    if (Current.Kind == TokenKind.Comma)
                    {
                        throw Error(Current, $"{fn} takes exactly two measures, e.g. {fn}(bmi, glucose)");
                    }

                    break;

                case AggregateKind.LinReg:
                    target = ExpectIdentifier("LINREG needs 'y ~ x1 + x2': expected the name of y");
                    if (Current.Kind != TokenKind.Tilde)
                    {
                        throw Error(Current, $"LINREG needs 'y ~ x1 + x2': expected '~' after '{target.Name}'");
                    }

                    Advance();
                    var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                    while (true)
                    {
                        var regressor = ExpectIdentifier(arguments.Count == 0
                            ? "LINREG needs 'y ~ x1 + x2': expected a regressor name after '~'"
                            : "LINREG needs 'y ~ x1 + x2': expected a regressor name after '+'");
                        if (string.Equals(regressor.Name, target.Name, StringComparison.OrdinalIgnoreCase))
                        {
                            throw new QuerySyntaxException(text, regressor.Span, $"LINREG target '{target.Name}' cannot also be a regressor");
                        }

                        if (!seen.Add(regressor.Name))
                        {
                            throw new QuerySyntaxException(text, regressor.Span, $"duplicate regressor '{regressor.Name}' in LINREG");
                        }

                        arguments.Add(regressor);
                        if (Current.Kind != TokenKind.Plus)
                        {
                            break;
                        }

                        Advance();
                    }

                    if (Current.Kind == TokenKind.Comma)
                    {
                        throw Error(Current, "LINREG needs 'y ~ x1 + x2': separate regressors with '+', not ','");
                    }

                    break;
            }

            if (Current.Kind != TokenKind.RightParen)
            {
                throw Error(Current, $"expected ')' to close {fn}(");
            }

            var close = Advance();
            return new SelectItem(aggregate, arguments, target, SourceSpan.Cover(name.Span, close.Span));
        }

        /// <summary>Parses an OR chain; returns the condition and its extent (parentheses included).</summary>
        private (Condition Condition, SourceSpan Extent) ParseOr(string context, int depth)
        {
            var (left, extent) = ParseAnd(context, depth);
            while (Current.Is(Keyword.Or))
            {
                Advance();
                var (right, rightExtent) = ParseAnd("after OR", depth);
                extent = SourceSpan.Cover(extent, rightExtent);
                left = new OrCondition(left, right, extent);
            }

            return (left, extent);
        }

        private (Condition Condition, SourceSpan Extent) ParseAnd(string context, int depth)
        {
            var (left, extent) = ParseNot(context, depth);
            while (Current.Is(Keyword.And))
            {
                Advance();
                var (right, rightExtent) = ParseNot("after AND", depth);
                extent = SourceSpan.Cover(extent, rightExtent);
                left = new AndCondition(left, right, extent);
            }

            return (left, extent);
        }

        private (Condition Condition, SourceSpan Extent) ParseNot(string context, int depth)
        {
            var nots = new List<Token>();
            while (Current.Is(Keyword.Not))
            {
                if (depth + nots.Count >= MaxNestingDepth)
                {
                    throw Error(Current, $"condition is nested too deeply (more than {MaxNestingDepth} levels of NOT and parentheses)");
                }

                nots.Add(Advance());
                context = "after NOT";
            }

            var (condition, extent) = ParsePrimary(context, depth + nots.Count);
            for (var i = nots.Count - 1; i >= 0; i--)
            {
                extent = SourceSpan.Cover(nots[i].Span, extent);
                condition = new NotCondition(condition, extent);
            }

            return (condition, extent);
        }

        private (Condition Condition, SourceSpan Extent) ParsePrimary(string context, int depth)
        {
            var token = Current;
            if (token.Kind == TokenKind.LeftParen)
            {
                if (depth >= MaxNestingDepth)
                {
                    throw Error(token, $"condition is nested too deeply (more than {MaxNestingDepth} levels of NOT and parentheses)");
                }

                Advance();
                var (inner, _) = ParseOr("after '('", depth + 1);
                if (Current.Kind != TokenKind.RightParen)
                {
                    var (line, column, _, _) = QueryErrors.Locate(text, token.Span.Start);
                    throw Error(Current, $"expected ')' to close the '(' at line {line}, column {column}");
                }

                var close = Advance();
                return (inner, SourceSpan.Cover(token.Span, close.Span));
            }

            if (token.Kind != TokenKind.Identifier)
            {
                throw Error(token, $"expected a condition such as region = 'north' {context}");
            }

            if (Peek().Kind == TokenKind.LeftParen)
            {
                throw new QuerySyntaxException(text, SourceSpan.Cover(token.Span, Peek().Span),
                    $"functions such as {token.Value}(...) cannot be used in WHERE: expected a condition such as region = 'north'");
            }

            var dimension = new Identifier(token.Value, token.Span);
            Advance();
            var op = Current;
            if (ComparisonOf(op.Kind) is { } comparison)
            {
                Advance();
                var value = ExpectLiteral($"expected a string or number after '{op.Raw}'");
                var span = SourceSpan.Cover(dimension.Span, value.Span);
                return (new ComparisonCondition(dimension, comparison, value, span), span);
            }

            var negated = false;
            if (op.Is(Keyword.Not))
            {
                Advance();
                negated = true;
                if (!Current.Is(Keyword.In) && !Current.Is(Keyword.Between))
                {
                    throw Error(Current, $"expected IN or BETWEEN after '{dimension.Name} NOT'");
                }
            }

            if (Current.Is(Keyword.In))
            {
                var inToken = Advance();
                if (Current.Kind != TokenKind.LeftParen)
                {
                    throw Error(Current, $"expected '(' after {inToken.Raw.ToUpperInvariant()}");
                }

                Advance();
                if (Current.Kind == TokenKind.RightParen)
                {
                    throw Error(Current, "the IN list is empty: expected a string or number");
                }

                var values = new List<Literal>();
                while (true)
                {
                    values.Add(ExpectLiteral(values.Count == 0 ? "expected a string or number in the IN list" : "expected a string or number after ',' in the IN list"));
                    if (Current.Kind == TokenKind.Comma)
                    {
                        Advance();
                        continue;
                    }

                    if (Current.Kind != TokenKind.RightParen)
                    {
                        throw Error(Current, "expected ',' or ')' in the IN list");
                    }

                    break;
                }

                var close = Advance();
                var span = SourceSpan.Cover(dimension.Span, close.Span);
                return (new InCondition(dimension, values, negated, span), span);
            }

            if (Current.Is(Keyword.Between))
            {
                Advance();
                var low = ExpectLiteral("expected a string or number after BETWEEN");
                if (!Current.Is(Keyword.And))
                {
                    throw Error(Current, $"expected AND after BETWEEN {QueryLexer.Truncate(text.Substring(low.Span.Start, low.Span.Length))}");
                }

                Advance();
                var high = ExpectLiteral("expected a string or number after AND in BETWEEN");
                var span = SourceSpan.Cover(dimension.Span, high.Span);
                Condition between = new BetweenCondition(dimension, low, high, span);
                return negated ? (new NotCondition(between, span), span) : (between, span);
            }

            throw Error(op, $"expected a comparison operator (=, !=, <>, <, <=, >, >=), IN, NOT IN or BETWEEN after '{dimension.Name}'");
        }

        private Literal ExpectLiteral(string expected)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.String:
                    Advance();
                    return new Literal(token.Value, null, token.Span);
                case TokenKind.Number:
                    Advance();
                    return new Literal(token.Value, token.Number, token.Span);
                case TokenKind.Identifier:
                    throw Error(token, expected, $" (strings need single quotes: '{token.Value}')");
                default:
                    throw Error(token, expected);
            }
        }

        private Identifier ExpectIdentifier(string expected)
        {
            var token = Current;
            if (token.Kind != TokenKind.Identifier)
            {
                throw Error(token, expected, token.Kind == TokenKind.Keyword ? " (a reserved word)" : null);
            }

            Advance();
            return new Identifier(token.Value, token.Span);
        }

        private Token Expect(Keyword keyword, string expected)
        {
            if (!Current.Is(keyword))
            {
                throw Error(Current, expected);
            }

            return Advance();
        }

        private Token Advance()
        {
            var token = Current;
            ThrowIfLexError(token);
            if (_index < tokens.Count - 1)
            {
                _index++;
            }

            return token;
        }

        /// <summary>An error "{expected}, found X" at <paramref name="found"/> — or the lexical error if the token is one.</summary>
        private QuerySyntaxException Error(Token found, string expected, string? hint = null)
        {
            ThrowIfLexError(found);
            return new QuerySyntaxException(text, found.Span, $"{expected}, found {Quote(found)}{hint ?? Hint(found)}");
        }

        private static void ThrowIfLexError(Token token)
        {
            if (token.Kind == TokenKind.Error)
            {
                throw token.Error!;
            }
        }

        private static string Quote(Token token) => token.Kind switch
        {
            TokenKind.End => "end of query",
            TokenKind.String => QueryLexer.Truncate(token.Raw),
            _ => $"'{QueryLexer.Truncate(token.Raw)}'",
        };

        private static string Hint(Token token)
        {
            if (token.Kind != TokenKind.Identifier)
            {
                return string.Empty;
            }

            return token.Value.ToUpperInvariant() switch
            {
                "ORDER" => " (ORDER BY is not supported)",
                "LIMIT" => " (LIMIT is not supported)",
                "HAVING" => " (HAVING is not supported)",
                "JOIN" => " (JOIN is not supported: a query reads one cohort)",
                "AS" => " (aliases are not supported)",
                _ => string.Empty,
            };
        }

        private static AggregateKind? Lookup(string name)
        {
            foreach (var (aggregateName, kind) in Aggregates)
            {
                if (string.Equals(aggregateName, name, StringComparison.OrdinalIgnoreCase))
                {
                    return kind;
                }
            }

            return null;
        }

        private static ComparisonOperator? ComparisonOf(TokenKind kind) => kind switch
        {
            TokenKind.Equal => ComparisonOperator.Equal,
            TokenKind.NotEqual => ComparisonOperator.NotEqual,
            TokenKind.Less => ComparisonOperator.Less,
            TokenKind.LessOrEqual => ComparisonOperator.LessOrEqual,
            TokenKind.Greater => ComparisonOperator.Greater,
            TokenKind.GreaterOrEqual => ComparisonOperator.GreaterOrEqual,
            _ => null,
        };
    }
}
