using PrivateHealth.EncryptedQuery.Query;

namespace PrivateHealth.EncryptedQuery.Tests.Query;

public sealed class QueryErrorTests
{
    private const string Q = "SELECT COUNT(*) FROM c WHERE "; // 29 characters

    public static TheoryData<string, string, int, int, int> BadQueries() => new()
    {
        // text, message fragment, position, line, column
        { "", "empty query: expected SELECT, found end of query", 0, 1, 1 },
        { "   \n  ", "empty query: expected SELECT", 6, 2, 3 },
        { "SELEC COUNT(*) FROM c", "expected SELECT at the start of the query, found 'SELEC'", 0, 1, 1 },
        { "SELECT FROM c", "the SELECT list is empty: expected an aggregate such as COUNT(*) before FROM", 7, 1, 8 },
        { "SELECT COUNT(* FROM c", "expected ')' to close COUNT(, found 'FROM'", 15, 1, 16 },
        { "SELECT COUNT(x) FROM c", "COUNT takes * (COUNT(*)), found 'x'", 13, 1, 14 },
        { "SELECT COUNT * FROM c", "expected '(' after COUNT, found '*'", 13, 1, 14 },
        { "SELECT MEDIAN(x) FROM c", "unknown function 'MEDIAN': supported are COUNT, SUM, AVG, VAR, STDDEV, HISTOGRAM, COVAR, CORR, LINREG", 7, 1, 8 },
        { "SELECT LINREG(glucose, bmi) FROM c", "LINREG needs 'y ~ x1 + x2': expected '~' after 'glucose', found ','", 21, 1, 22 },
        { "SELECT LINREG(glucose ~ ) FROM c", "LINREG needs 'y ~ x1 + x2': expected a regressor name after '~', found ')'", 24, 1, 25 },
        { "SELECT LINREG(y ~ a, b) FROM c", "LINREG needs 'y ~ x1 + x2': separate regressors with '+', not ','", 19, 1, 20 },
        { "SELECT LINREG(y ~ a + a) FROM c", "duplicate regressor 'a' in LINREG", 22, 1, 23 },
        { "SELECT LINREG(y ~ a + Y) FROM c", "LINREG target 'y' cannot also be a regressor", 22, 1, 23 },
        { "SELECT AVG(a, b) FROM c", "AVG takes exactly one measure, e.g. AVG(a), found ','", 12, 1, 13 },
        { "SELECT CORR(a) FROM c", "CORR takes two measures, e.g. CORR(bmi, glucose): expected ',', found ')'", 13, 1, 14 },
        { "SELECT HISTOGRAM() FROM c", "expected a dimension name in HISTOGRAM(, found ')'", 17, 1, 18 },
        { "SELECT bmi FROM c", "expected an aggregate such as COUNT(*) or AVG(measure) after SELECT, found 'bmi' (plain columns cannot be selected)", 7, 1, 8 },
        { "SELECT COUNT(*), FROM c", "expected an aggregate such as COUNT(*) or AVG(measure) after ',', found 'FROM'", 17, 1, 18 },
        { "SELECT COUNT(*) AS n FROM c", "expected ',' or FROM after COUNT(...), found 'AS' (aliases are not supported)", 16, 1, 17 },
        { "SELECT COUNT(*) FROM WHERE a = 1", "expected a cohort name after FROM, found 'WHERE' (a reserved word)", 21, 1, 22 },
        { "SELECT COUNT(*) FROM c x", "unexpected 'x' after the end of the query", 23, 1, 24 },
        { "SELECT COUNT(*) FROM c; DROP", "unexpected 'DROP' after the end of the query", 24, 1, 25 },
        { Q + "a = 'x' ORDER BY a", "unexpected 'ORDER' after the end of the query (ORDER BY is not supported)", 37, 1, 38 },
        { "SELECT COUNT(*) FROM c GROUP sex", "expected BY after GROUP, found 'sex'", 29, 1, 30 },
        { "SELECT COUNT(*) FROM c GROUP BY sex, SEX", "duplicate GROUP BY dimension 'SEX'", 37, 1, 38 },
        { "SELECT COUNT(*) FROM c GROUP BY", "expected a dimension name after GROUP BY, found end of query", 31, 1, 32 },
        { Q + "a = AND b = 1", "expected a string or number after '=', found 'AND'", 33, 1, 34 },
        { Q + "a >= ", "expected a string or number after '>=', found end of query", 34, 1, 35 },
        { "SELECT COUNT(*)\nFROM c\nWHERE region = north", "expected a string or number after '=', found 'north' (strings need single quotes: 'north')", 38, 3, 16 },
        { Q + "region = 'north", "unterminated string: missing closing quote (')", 38, 1, 39 },
        { Q + "region = 'no\nrth'", "unterminated string", 38, 1, 39 },
        { Q + "a = \"north\"", "unexpected character '\"': strings use single quotes", 33, 1, 34 },
        { Q + "a IN ()", "the IN list is empty: expected a string or number, found ')'", 35, 1, 36 },
        { Q + "a IN ('x' 'y')", "expected ',' or ')' in the IN list, found 'y'", 39, 1, 40 },
        { Q + "a IN 'x'", "expected '(' after IN, found 'x'", 34, 1, 35 },
        { Q + "a BETWEEN 1 2", "expected AND after BETWEEN 1, found '2'", 41, 1, 42 },
        { Q + "(a = 1", "expected ')' to close the '(' at line 1, column 30, found end of query", 35, 1, 36 },
        { Q + "a = 1)", "unexpected ')' after the end of the query", 34, 1, 35 },
        { Q + "a LIKE 'x%'", "expected a comparison operator (=, !=, <>, <, <=, >, >=), IN, NOT IN or BETWEEN after 'a', found 'LIKE'", 31, 1, 32 },
        { Q + "a NOT LIKE 'x'", "expected IN or BETWEEN after 'a NOT', found 'LIKE'", 35, 1, 36 },
        { Q + "a = 'x' AND", "expected a condition such as region = 'north' after AND, found end of query", 40, 1, 41 },
        { Q + "OR a = 1", "expected a condition such as region = 'north' after WHERE, found 'OR'", 29, 1, 30 },
        { Q + "AVG(x) > 1", "functions such as AVG(...) cannot be used in WHERE", 29, 1, 30 },
        { Q + "a = 1e999", "number '1e999' is out of range", 33, 1, 34 },
        { Q + "a = 1.x", "expected a digit after '.' in number '1.'", 33, 1, 34 },
        { Q + "a = 12e", "expected a digit in the exponent of number '12e'", 33, 1, 34 },
        { Q + "a = 12abc", "invalid number '12abc'", 33, 1, 34 },
        { Q + "a = - 5", "unexpected character '-': a minus sign must be directly followed by a number", 33, 1, 34 },
        { Q + "a = .5", "a number needs a digit before '.', e.g. 0.5", 33, 1, 34 },
        { Q + "a ! 5", "unexpected character '!' (use != or <> for 'not equal')", 31, 1, 32 },
        { Q + "a = 'é' AND b = ü", "unexpected character 'ü'", 45, 1, 46 },
        { "SELECT COUNT(*)\u0007 FROM c", "control character U+0007 is not allowed", 15, 1, 16 },
        { Q + "a = 'x\u202Ey'", "invisible formatting character U+202E is not allowed in a string", 35, 1, 36 },
        { "SELECT COUNT(*)\r\nFROM c\r\n\tWHERE x", "after 'x', found end of query", 33, 3, 9 },
        { Q + new string('(', 70) + "a = 1" + new string(')', 70), "condition is nested too deeply (more than 64 levels", 93, 1, 94 },
        { Q + string.Concat(Enumerable.Repeat("NOT ", 70)) + "a = 1", "condition is nested too deeply", 29 + (64 * 4), 1, 30 + (64 * 4) },
        { "SELECT COUNT(*) FROM " + new string('x', 129), "name is longer than 128 characters", 21, 1, 22 },
        { "SELECT COUNT(*) FROM c" + new string(' ', QueryParser.MaxLength), "query is 10022 characters long; the maximum is 10000", 10_000, 1, 10_001 },
    };

    [Theory]
    [MemberData(nameof(BadQueries))]
    public void Bad_queries_report_what_was_expected_and_where(string text, string fragment, int position, int line, int column)
    {
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse(text));

        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
        Assert.StartsWith(e.Reason, e.Message, StringComparison.Ordinal);
        Assert.Equal(position, e.Position);
        Assert.Equal(line, e.Line);
        Assert.Equal(column, e.Column);
        Assert.Contains($" at line {line}, column {column}\n", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    [Fact]
    public void There_are_at_least_25_bad_queries() => Assert.True(BadQueries().Count >= 25);

    [Fact]
    public void The_message_shows_the_offending_line_with_carets_under_the_span()
    {
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse("SELECT MEDIAN(x)\nFROM c"));

        Assert.Equal(
            "unknown function 'MEDIAN': supported are COUNT, SUM, AVG, VAR, STDDEV, HISTOGRAM, COVAR, CORR, LINREG at line 1, column 8\n" +
            "SELECT MEDIAN(x)\n" +
            "       ^^^^^^",
            e.Message);
        Assert.Equal(6, e.Length);
        Assert.Equal(new SourceSpan(7, 6), e.Span);
    }

    [Fact]
    public void Errors_on_later_lines_show_that_line_and_the_end_of_input_gets_one_caret()
    {
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse("SELECT COUNT(*)\nFROM c\nWHERE a ="));

        Assert.Equal(
            "expected a string or number after '=', found end of query at line 3, column 10\n" +
            "WHERE a =\n" +
            "         ^",
            e.Message);
        Assert.Equal(0, e.Length);
    }

    [Fact]
    public void Control_characters_and_tabs_are_shown_harmlessly_in_the_excerpt()
    {
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse("SELECT\tCOUNT(*)\u001b[2J FROM c"));

        Assert.Equal(
            "control character U+001B is not allowed at line 1, column 16\n" +
            "SELECT COUNT(*)?[2J FROM c\n" +
            "               ^",
            e.Message);
    }

    [Fact]
    public void Long_lines_are_shown_as_a_window_around_the_error()
    {
        var text = "SELECT COUNT(*) FROM c WHERE a IN (" + string.Join(", ", Enumerable.Range(0, 200)) + ", x)";
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse(text));
        var lines = e.Message.Split('\n');

        Assert.Equal(3, lines.Length);
        Assert.StartsWith("...", lines[1], StringComparison.Ordinal);
        Assert.True(lines[1].Length <= 106, lines[1]);
        var caret = lines[2].IndexOf('^', StringComparison.Ordinal);
        Assert.Equal('x', lines[1][caret]);
        Assert.Equal("^", lines[2].Trim());
    }

    [Fact]
    public void Describe_formats_semantic_errors_for_the_planner()
    {
        const string text = "SELECT AVG(bmi) FROM c";

        Assert.Equal(
            "unknown measure 'bmi' at line 1, column 12\n" +
            "SELECT AVG(bmi) FROM c\n" +
            "           ^^^",
            QueryErrors.Describe(text, new SourceSpan(11, 3), "unknown measure 'bmi'"));
        Assert.Equal(
            "x at line 1, column 23\n" + text + "\n" + new string(' ', 22) + "^",
            QueryErrors.Describe(text, new SourceSpan(99, 4), "x"));
    }

    [Fact]
    public void Describe_clips_a_span_that_crosses_a_line_break_at_the_end_of_its_line() =>
        Assert.Equal(
            "m at line 1, column 3\nabcd\n  ^^",
            QueryErrors.Describe("abcd\r\nefgh", new SourceSpan(2, 6), "m"));
}
