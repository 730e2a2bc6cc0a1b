using PrivateHealth.EncryptedQuery.Query;

namespace PrivateHealth.EncryptedQuery.Tests.Query;

public sealed class QueryParserTests
{
    private const string Example =
        "SELECT COUNT(*), AVG(resting_hr), VAR(resting_hr), HISTOGRAM(steps), CORR(bmi, glucose), LINREG(glucose ~ bmi + age) " +
        "FROM cohort_2026 WHERE region IN ('north','east') AND age_band >= '40-49' GROUP BY sex";

    private static Condition Where(string condition) =>
        QueryParser.Parse("SELECT COUNT(*) FROM c WHERE " + condition).Where!;

    private static string WhereShape(string condition) => AstShape.Of(Where(condition));

    [Fact]
    public void The_example_query_parses_to_the_expected_tree()
    {
        var ast = QueryParser.Parse(Example);

        Assert.Equal(Example, ast.Text);
        Assert.Equal(new SourceSpan(0, Example.Length), ast.Span);
        Assert.Equal(
            [AggregateKind.Count, AggregateKind.Avg, AggregateKind.Var, AggregateKind.Histogram, AggregateKind.Corr, AggregateKind.LinReg],
            ast.Items.Select(i => i.Kind));
        Assert.Empty(ast.Items[0].Arguments);
        Assert.Equal(new SourceSpan(7, 8), ast.Items[0].Span);
        Assert.Equal("resting_hr", Assert.Single(ast.Items[1].Arguments).Name);
        Assert.Equal(new SourceSpan(21, 10), ast.Items[1].Arguments[0].Span);
        Assert.Equal("steps", Assert.Single(ast.Items[3].Arguments).Name);
        Assert.Equal(["bmi", "glucose"], ast.Items[4].Arguments.Select(a => a.Name));
        var linreg = ast.Items[5];
        Assert.Equal("glucose", linreg.Target!.Name);
        Assert.Equal(["bmi", "age"], linreg.Arguments.Select(a => a.Name));
        Assert.Equal("LINREG(glucose ~ bmi + age)", Example.Substring(linreg.Span.Start, linreg.Span.Length));
        Assert.All(ast.Items.Take(5), i => Assert.Null(i.Target));

        Assert.Equal("cohort_2026", ast.Cohort.Name);
        Assert.Equal("cohort_2026", Example.Substring(ast.Cohort.Span.Start, ast.Cohort.Span.Length));

        var and = Assert.IsType<AndCondition>(ast.Where);
        var @in = Assert.IsType<InCondition>(and.Left);
        Assert.Equal("region", @in.Dimension.Name);
        Assert.False(@in.Negated);
        Assert.Equal(["north", "east"], @in.Values.Select(v => v.Text));
        Assert.All(@in.Values, v => Assert.Null(v.Number));
        Assert.Equal("'north'", Example.Substring(@in.Values[0].Span.Start, @in.Values[0].Span.Length));
        var cmp = Assert.IsType<ComparisonCondition>(and.Right);
        Assert.Equal("age_band", cmp.Dimension.Name);
        Assert.Equal(ComparisonOperator.GreaterOrEqual, cmp.Operator);
        Assert.Equal(new Literal("40-49", null, cmp.Value.Span), cmp.Value);
        Assert.Equal("region IN ('north','east') AND age_band >= '40-49'", Example.Substring(and.Span.Start, and.Span.Length));

        Assert.Equal("sex", Assert.Single(ast.GroupBy).Name);
        Assert.Equal(
            "SELECT COUNT(*), AVG(resting_hr), VAR(resting_hr), HISTOGRAM(steps), CORR(bmi, glucose), LINREG(glucose ~ bmi + age) " +
            "FROM cohort_2026 WHERE region IN ('north', 'east') AND age_band >= '40-49' GROUP BY sex",
            ast.ToString());
    }

    [Theory]
    [InlineData("COUNT(*)", AggregateKind.Count, "", null)]
    [InlineData("SUM(steps)", AggregateKind.Sum, "steps", null)]
    [InlineData("AVG(resting_hr)", AggregateKind.Avg, "resting_hr", null)]
    [InlineData("VAR(bmi)", AggregateKind.Var, "bmi", null)]
    [InlineData("STDDEV(bmi)", AggregateKind.Stddev, "bmi", null)]
    [InlineData("HISTOGRAM(age_band)", AggregateKind.Histogram, "age_band", null)]
    [InlineData("COVAR(bmi, glucose)", AggregateKind.Covar, "bmi,glucose", null)]
    [InlineData("CORR(bmi,glucose)", AggregateKind.Corr, "bmi,glucose", null)]
    [InlineData("LINREG(glucose ~ bmi)", AggregateKind.LinReg, "bmi", "glucose")]
    [InlineData("LINREG(glucose~bmi+age+steps)", AggregateKind.LinReg, "bmi,age,steps", "glucose")]
    public void Each_aggregate_parses(string item, AggregateKind kind, string arguments, string? target)
    {
        var text = $"SELECT {item} FROM c";
        var parsed = Assert.Single(QueryParser.Parse(text).Items);

        Assert.Equal(kind, parsed.Kind);
        Assert.Equal(arguments, string.Join(",", parsed.Arguments.Select(a => a.Name)));
        Assert.Equal(target, parsed.Target?.Name);
        Assert.Equal(new SourceSpan(7, item.Length), parsed.Span);
        foreach (var a in parsed.Arguments)
        {
            Assert.Equal(a.Name, text.Substring(a.Span.Start, a.Span.Length));
        }
    }

    [Theory]
    [InlineData("a = 'x'", "(Equal a str[x])")]
    [InlineData("a != 'x'", "(NotEqual a str[x])")]
    [InlineData("a <> 'x'", "(NotEqual a str[x])")]
    [InlineData("a < 3", "(Less a num[3=3])")]
    [InlineData("a <= 3", "(LessOrEqual a num[3=3])")]
    [InlineData("a > 3", "(Greater a num[3=3])")]
    [InlineData("a >= 3", "(GreaterOrEqual a num[3=3])")]
    [InlineData("a IN ('x')", "(in a str[x])")]
    [InlineData("a IN ('x', 2, 'y')", "(in a str[x] num[2=2] str[y])")]
    [InlineData("a NOT IN ('x','y')", "(notin a str[x] str[y])")]
    [InlineData("a BETWEEN 1 AND 5", "(between a num[1=1] num[5=5])")]
    [InlineData("a BETWEEN '30-39' AND '50-59'", "(between a str[30-39] str[50-59])")]
    [InlineData("a NOT BETWEEN 1 AND 5", "(not (between a num[1=1] num[5=5]))")]
    [InlineData("NOT a = 1", "(not (Equal a num[1=1]))")]
    [InlineData("NOT NOT a = 1", "(not (not (Equal a num[1=1])))")]
    [InlineData("NOT a IN (1)", "(not (in a num[1=1]))")]
    [InlineData("a BETWEEN 1 AND 5 AND b = 2", "(and (between a num[1=1] num[5=5]) (Equal b num[2=2]))")]
    public void Each_condition_form_parses(string condition, string shape) =>
        Assert.Equal(shape, WhereShape(condition));

    [Theory]
    [InlineData("a = 1 OR b = 2 AND c = 3", "(or (Equal a num[1=1]) (and (Equal b num[2=2]) (Equal c num[3=3])))")]
    [InlineData("a = 1 AND b = 2 OR c = 3", "(or (and (Equal a num[1=1]) (Equal b num[2=2])) (Equal c num[3=3]))")]
    [InlineData("(a = 1 OR b = 2) AND c = 3", "(and (or (Equal a num[1=1]) (Equal b num[2=2])) (Equal c num[3=3]))")]
    [InlineData("NOT a = 1 AND b = 2", "(and (not (Equal a num[1=1])) (Equal b num[2=2]))")]
    [InlineData("NOT (a = 1 AND b = 2)", "(not (and (Equal a num[1=1]) (Equal b num[2=2])))")]
    [InlineData("NOT a = 1 OR b = 2", "(or (not (Equal a num[1=1])) (Equal b num[2=2]))")]
    [InlineData("a = 1 OR b = 2 OR c = 3", "(or (or (Equal a num[1=1]) (Equal b num[2=2])) (Equal c num[3=3]))")]
    [InlineData("a = 1 AND b = 2 AND c = 3", "(and (and (Equal a num[1=1]) (Equal b num[2=2])) (Equal c num[3=3]))")]
    [InlineData("a = 1 OR (b = 2 OR c = 3)", "(or (Equal a num[1=1]) (or (Equal b num[2=2]) (Equal c num[3=3])))")]
    [InlineData("((a = 1))", "(Equal a num[1=1])")]
    public void Precedence_is_not_over_and_over_or(string condition, string shape) =>
        Assert.Equal(shape, WhereShape(condition));

    [Fact]
    public void A_or_b_and_c_equals_a_or_parenthesized_b_and_c() =>
        Assert.Equal(WhereShape("a = 1 OR (b = 2 AND c = 3)"), WhereShape("a = 1 OR b = 2 AND c = 3"));

    [Fact]
    public void Condition_spans_cover_their_text_and_parentheses()
    {
        const string prefix = "SELECT COUNT(*) FROM c WHERE ";
        var text = prefix + "NOT (a = 1 OR b = 'x') AND c BETWEEN 1 AND 2";
        var and = Assert.IsType<AndCondition>(QueryParser.Parse(text).Where);
        string Of(SourceSpan s) => text.Substring(s.Start, s.Length);

        Assert.Equal("NOT (a = 1 OR b = 'x') AND c BETWEEN 1 AND 2", Of(and.Span));
        var not = Assert.IsType<NotCondition>(and.Left);
        Assert.Equal("NOT (a = 1 OR b = 'x')", Of(not.Span));
        Assert.Equal("a = 1 OR b = 'x'", Of(not.Inner.Span));
        Assert.Equal("c BETWEEN 1 AND 2", Of(and.Right.Span));
    }

    [Theory]
    [InlineData("'it''s'", "it's")]
    [InlineData("''''", "'")]
    [InlineData("''", "")]
    [InlineData("'a''''b'", "a''b")]
    [InlineData("'north east'", "north east")]
    [InlineData("'SELECT'", "SELECT")]
    [InlineData("'tab\there'", "tab\there")]
    [InlineData("'Zürich ✓'", "Zürich ✓")]
    public void Quoted_strings_unescape_doubled_quotes(string literal, string value)
    {
        var text = "SELECT COUNT(*) FROM c WHERE a = " + literal;
        var cmp = Assert.IsType<ComparisonCondition>(QueryParser.Parse(text).Where);

        Assert.Equal(value, cmp.Value.Text);
        Assert.Null(cmp.Value.Number);
        Assert.Equal(new SourceSpan(text.Length - literal.Length, literal.Length), cmp.Value.Span);
    }

    [Theory]
    [InlineData("42", 42.0)]
    [InlineData("-1.5", -1.5)]
    [InlineData("+7", 7.0)]
    [InlineData("0", 0.0)]
    [InlineData("3.25", 3.25)]
    [InlineData("1e3", 1000.0)]
    [InlineData("2.5E-2", 0.025)]
    [InlineData("-4e+1", -40.0)]
    [InlineData("007", 7.0)]
    public void Numbers_keep_their_text_and_value(string literal, double value)
    {
        var cmp = Assert.IsType<ComparisonCondition>(Where("a >= " + literal));

        Assert.Equal(literal, cmp.Value.Text);
        Assert.Equal(value, cmp.Value.Number);
        Assert.True(cmp.Value.IsNumber);
    }

    [Fact]
    public void Keywords_and_function_names_are_case_insensitive_and_names_keep_their_case()
    {
        var lower = QueryParser.Parse(
            "select count(*), Avg(Resting_HR), linreg(Y ~ X) from Cohort where NOT Region in ('n') and A between 1 And 2 or b not in (1) group by Sex, age");
        var upper = QueryParser.Parse(
            "SELECT COUNT(*), AVG(Resting_HR), LINREG(Y ~ X) FROM Cohort WHERE NOT Region IN ('n') AND A BETWEEN 1 AND 2 OR b NOT IN (1) GROUP BY Sex, age");

        Assert.Equal(AstShape.Of(upper), AstShape.Of(lower));
        Assert.Equal("Resting_HR", lower.Items[1].Arguments[0].Name);
        Assert.Equal("Cohort", lower.Cohort.Name);
        Assert.Equal(["Sex", "age"], lower.GroupBy.Select(g => g.Name));
        Assert.Equal(upper.ToString(), lower.ToString());
    }

    [Theory]
    [InlineData("SELECT HISTOGRAM(count) FROM c", "count")]
    [InlineData("SELECT SUM(avg) FROM c", "avg")]
    [InlineData("SELECT COUNT(*) FROM linreg", "linreg")]
    public void Aggregate_names_are_ordinary_names_when_not_followed_by_a_parenthesis(string text, string name)
    {
        var ast = QueryParser.Parse(text);
        Assert.Contains(name, ast.Items.SelectMany(i => i.Arguments).Select(a => a.Name).Append(ast.Cohort.Name));
        Assert.Equal(AstShape.Of(ast), AstShape.Of(QueryParser.Parse(ast.ToString())));
    }

    [Theory]
    [InlineData("SELECT COUNT(*) FROM c;")]
    [InlineData("  SELECT COUNT(*) FROM c  ;  \n")]
    [InlineData("SELECT\n  COUNT(*)\r\nFROM\tc\r\n")]
    public void Whitespace_and_a_trailing_semicolon_are_accepted(string text)
    {
        var ast = QueryParser.Parse(text);
        Assert.Equal("SELECT COUNT(*) FROM c", ast.ToString());
        Assert.Equal("SELECT", text.Substring(ast.Span.Start, 6));
        Assert.Equal('c', text[ast.Span.End - 1]);
    }

    [Fact]
    public void Group_by_lists_several_dimensions_and_where_is_optional()
    {
        var ast = QueryParser.Parse("SELECT COUNT(*) FROM c GROUP BY sex, region, age_band");
        Assert.Null(ast.Where);
        Assert.Equal(["sex", "region", "age_band"], ast.GroupBy.Select(g => g.Name));

        Assert.Empty(QueryParser.Parse("SELECT COUNT(*) FROM c").GroupBy);
    }

    [Fact]
    public void Queries_of_exactly_the_maximum_length_are_accepted()
    {
        var text = "SELECT COUNT(*) FROM c";
        text += new string(' ', QueryParser.MaxLength - text.Length);
        Assert.Equal(QueryParser.MaxLength, text.Length);
        Assert.Equal("c", QueryParser.Parse(text).Cohort.Name);
    }

    [Fact]
    public void Null_text_is_an_argument_error() =>
        Assert.Throws<ArgumentNullException>(() => QueryParser.Parse(null!));

    [Fact]
    public void Canonical_text_parenthesizes_only_where_needed()
    {
        Assert.Equal(
            "SELECT COUNT(*) FROM c WHERE a = 1 OR b = 2 AND c = 3",
            QueryParser.Parse("select count(*) from c where (a = 1) or ((b = 2) and c = 3)").ToString());
        Assert.Equal(
            "SELECT COUNT(*) FROM c WHERE (a = 1 OR b = 2) AND NOT (c = 3 AND d <> 'it''s') AND e NOT IN (1, -2.5e1)",
            QueryParser.Parse("SELECT COUNT(*) FROM c WHERE (a = 1 OR b = 2) AND NOT (c = 3 AND d != 'it''s') AND e NOT IN (1,-2.5e1);").ToString());
        Assert.Equal(
            "SELECT COUNT(*) FROM c WHERE a = 1 OR (b = 2 OR c = 3)",
            QueryParser.Parse("SELECT COUNT(*) FROM c WHERE a = 1 OR (b = 2 OR c = 3)").ToString());
    }
}
