namespace PrivateHealth.EncryptedQuery.Query;

/// <summary>A range of characters in the query text: 0-based <paramref name="Start"/> offset and <paramref name="Length"/> in UTF-16 code units.</summary>
/// <param name="Start">0-based offset of the first character.</param>
/// <param name="Length">Number of characters covered (0 for a position such as the end of the input).</param>
public readonly record struct SourceSpan(int Start, int Length)
{
    /// <summary>Offset just past the last character of the span.</summary>
    public int End => Start + Length;

    /// <summary>The smallest span covering both <paramref name="first"/> and <paramref name="last"/>.</summary>
    public static SourceSpan Cover(SourceSpan first, SourceSpan last)
    {
        var start = Math.Min(first.Start, last.Start);
        return new SourceSpan(start, Math.Max(first.End, last.End) - start);
    }
}

/// <summary>A name (measure, dimension or cohort) as written in the query; compare names case-insensitively.</summary>
/// <param name="Name">The name exactly as written, case kept.</param>
/// <param name="Span">Where the name occurs.</param>
public sealed record Identifier(string Name, SourceSpan Span);

/// <summary>The aggregate functions of the dialect.</summary>
public enum AggregateKind
{
    /// <summary><c>COUNT(*)</c>.</summary>
    Count,
    /// <summary><c>SUM(measure)</c>.</summary>
    Sum,
    /// <summary><c>AVG(measure)</c>.</summary>
    Avg,
    /// <summary><c>VAR(measure)</c> (variance).</summary>
    Var,
    /// <summary><c>STDDEV(measure)</c>.</summary>
    Stddev,
    /// <summary><c>HISTOGRAM(dimension)</c>.</summary>
    Histogram,
    /// <summary><c>COVAR(a, b)</c> (covariance).</summary>
    Covar,
    /// <summary><c>CORR(a, b)</c> (Pearson correlation).</summary>
    Corr,
    /// <summary><c>LINREG(y ~ x1 + x2 + ...)</c> (ordinary least squares).</summary>
    LinReg,
}

/// <summary>One aggregate of the SELECT list.</summary>
/// <param name="Kind">The aggregate function.</param>
/// <param name="Arguments">
/// COUNT(*): empty; SUM/AVG/VAR/STDDEV(m) and HISTOGRAM(d): one name; COVAR/CORR(a, b): two names;
/// LINREG(y ~ x1 + x2 + ...): the regressors x1, x2, ... (at least one, no duplicates, never the target).
/// </param>
/// <param name="Target">The regressand y of LINREG; null for every other aggregate.</param>
/// <param name="Span">From the function name to its closing parenthesis.</param>
public sealed record SelectItem(AggregateKind Kind, IReadOnlyList<Identifier> Arguments, Identifier? Target, SourceSpan Span);

/// <summary>Comparison operators of the WHERE clause.</summary>
public enum ComparisonOperator
{
    /// <summary><c>=</c>.</summary>
    Equal,
    /// <summary><c>!=</c> or <c>&lt;&gt;</c>.</summary>
    NotEqual,
    /// <summary><c>&lt;</c>.</summary>
    Less,
    /// <summary><c>&lt;=</c>.</summary>
    LessOrEqual,
    /// <summary><c>&gt;</c>.</summary>
    Greater,
    /// <summary><c>&gt;=</c>.</summary>
    GreaterOrEqual,
}

/// <summary>A constant: a string (<paramref name="Number"/> null) or a number.</summary>
/// <param name="Text">For a string, its value with quotes removed and <c>''</c> unescaped; for a number, the text as written (e.g. <c>-1.5e3</c>).</param>
/// <param name="Number">The value of a numeric literal (always finite); null for a string.</param>
/// <param name="Span">Where the literal occurs, quotes and sign included.</param>
public sealed record Literal(string Text, double? Number, SourceSpan Span)
{
    /// <summary>True for a numeric literal.</summary>
    public bool IsNumber => Number.HasValue;
}

/// <summary>A boolean condition of the WHERE clause.</summary>
/// <param name="Span">The text of the condition (parentheses around it are not included).</param>
public abstract record Condition(SourceSpan Span);

/// <summary><c>Left AND Right</c>.</summary>
public sealed record AndCondition(Condition Left, Condition Right, SourceSpan Span) : Condition(Span);

/// <summary><c>Left OR Right</c>.</summary>
public sealed record OrCondition(Condition Left, Condition Right, SourceSpan Span) : Condition(Span);

/// <summary><c>NOT Inner</c> (also produced by <c>x NOT BETWEEN a AND b</c>).</summary>
public sealed record NotCondition(Condition Inner, SourceSpan Span) : Condition(Span);

/// <summary><c>dimension op literal</c>.</summary>
public sealed record ComparisonCondition(Identifier Dimension, ComparisonOperator Operator, Literal Value, SourceSpan Span) : Condition(Span);

/// <summary><c>dimension IN (v1, v2, ...)</c>, or <c>NOT IN</c> when <paramref name="Negated"/>.</summary>
public sealed record InCondition(Identifier Dimension, IReadOnlyList<Literal> Values, bool Negated, SourceSpan Span) : Condition(Span);

/// <summary><c>dimension BETWEEN Low AND High</c>, inclusive at both ends.</summary>
public sealed record BetweenCondition(Identifier Dimension, Literal Low, Literal High, SourceSpan Span) : Condition(Span);

/// <summary>A parsed query.</summary>
/// <param name="Items">The aggregates of the SELECT list, in order (never empty).</param>
/// <param name="Cohort">The cohort named after FROM.</param>
/// <param name="Where">The WHERE condition, or null.</param>
/// <param name="GroupBy">The GROUP BY dimensions, in order (names distinct case-insensitively); empty without GROUP BY.</param>
/// <param name="Text">The original query text.</param>
/// <param name="Span">From SELECT to the last token of the statement (a trailing semicolon is not included).</param>
public sealed record QueryAst(
    IReadOnlyList<SelectItem> Items,
    Identifier Cohort,
    Condition? Where,
    IReadOnlyList<Identifier> GroupBy,
    string Text,
    SourceSpan Span)
{
    /// <summary>
    /// The canonical text of the query: keywords and function names upper-case, single spaces, names as written,
    /// parentheses only where precedence requires them, strings re-quoted, numbers as written.
    /// Parsing it yields an AST equal to this one except for spans and <see cref="Text"/>.
    /// </summary>
    public override string ToString() => QueryFormatter.Format(this);
}
