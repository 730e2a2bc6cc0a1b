using System.Globalization;
using System.Text;
using PrivateHealth.EncryptedQuery.Query;

namespace PrivateHealth.EncryptedQuery.Tests.Query;

/// <summary>
/// Properties over generated queries: a random model tree is rendered with random case, spacing and redundant parentheses;
/// the parse must equal the model, and the canonical text must re-parse to the same tree (and be a fixed point).
/// </summary>
public sealed class QueryPropertyTests
{
    private static readonly string[] Names = ["bmi", "Glucose", "resting_hr", "age", "steps", "region", "sex", "x1", "_y", "count", "Avg"];
    private static readonly string[] Strings = ["north", "it's", "", "''", "40-49", "a b", "SELECT", "Zürich", "x'y'z"];
    private static readonly string[] Numbers = ["0", "42", "-1.5", "+7", "1e3", "2.5E-2", "-4e+1", "007", "123456789.125"];
    private static readonly string[] Operators = ["=", "!=", "<>", "<", "<=", ">", ">=", "=="];

    [Fact]
    public void Generated_queries_parse_to_their_model_and_round_trip_through_the_canonical_text()
    {
        for (var seed = 0; seed < 1_000; seed++)
        {
            var random = new Random(seed);
            var (text, model) = Generator.Query(random);

            QueryAst ast;
            try
            {
                ast = QueryParser.Parse(text);
            }
            catch (QuerySyntaxException e)
            {
                Assert.Fail($"seed {seed}: {text}\n{e.Message}");
                throw;
            }

            Assert.True(model == AstShape.Of(ast), $"seed {seed}: {text}\nexpected {model}\nactual   {AstShape.Of(ast)}");
            var canonical = ast.ToString();
            var reparsed = QueryParser.Parse(canonical);
            Assert.True(model == AstShape.Of(reparsed), $"seed {seed}: {canonical}");
            Assert.Equal(canonical, reparsed.ToString());
            Assert.Equal(text, ast.Text);
        }
    }

    [Fact]
    public void Two_thousand_random_mutations_of_valid_queries_only_ever_raise_syntax_errors()
    {
        var random = new Random(20260);
        var accepted = 0;
        for (var i = 0; i < 2_000; i++)
        {
            var (valid, _) = Generator.Query(random);
            var text = Mutate(random, valid, 1 + random.Next(4));
            try
            {
                var ast = QueryParser.Parse(text);
                accepted++;
                var canonical = ast.ToString();
                Assert.Equal(AstShape.Of(ast), AstShape.Of(QueryParser.Parse(canonical)));
            }
            catch (QuerySyntaxException e)
            {
                Assert.InRange(e.Position, 0, text.Length);
                Assert.InRange(e.Length, 0, text.Length - e.Position);
                Assert.True(e.Line >= 1 && e.Column >= 1, text);
                Assert.Contains($" at line {e.Line}, column {e.Column}\n", e.Message, StringComparison.Ordinal);
                Assert.Equal(3, e.Message.Split('\n').Length);
                Assert.False(string.IsNullOrWhiteSpace(e.Reason));
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {i} threw {e.GetType().Name} instead of QuerySyntaxException for:\n{text}\n{e}");
            }
        }

        // Sanity: the mutations are neither all harmless nor all fatal.
        Assert.InRange(accepted, 1, 1_999);
    }

    private static readonly string[] Fragments =
    [
        "(", ")", "'", "''", ",", "*", "~", "+", "-", ";", "=", "<", ">", "!", "<>", ".", "e", "E9", "1e999", "\"", " ", "\n", "\t",
        "\0", "\u0007", "\u202E", "\uD83D", "é", "9", "_", "SELECT", "FROM", "WHERE", "GROUP BY", "AND", "OR", "NOT", "IN", "BETWEEN",
        "COUNT(", "LINREG(", "MEDIAN(", "x", "((((", "))))",
    ];

    private static string Mutate(Random random, string text, int rounds)
    {
        var sb = new StringBuilder(text);
        for (var r = 0; r < rounds; r++)
        {
            var at = sb.Length == 0 ? 0 : random.Next(sb.Length + 1);
            switch (random.Next(7))
            {
                case 0: // delete a range
                    if (sb.Length > 0)
                    {
                        var start = Math.Min(at, sb.Length - 1);
                        sb.Remove(start, Math.Min(1 + random.Next(6), sb.Length - start));
                    }

                    break;
                case 1: // insert a fragment
                    sb.Insert(at, Fragments[random.Next(Fragments.Length)]);
                    break;
                case 2: // replace a character with a random one
                    if (sb.Length > 0)
                    {
                        sb[Math.Min(at, sb.Length - 1)] = (char)random.Next(0, 0x80 + (random.Next(4) == 0 ? 0xFF80 : 0));
                    }

                    break;
                case 3: // truncate
                    sb.Length = at;
                    break;
                case 4: // duplicate a segment
                    {
                        var start = random.Next(sb.Length + 1);
                        var length = random.Next(Math.Min(12, sb.Length - start) + 1);
                        sb.Insert(at, sb.ToString(start, length));
                        break;
                    }

                case 5: // swap two characters
                    if (sb.Length > 1)
                    {
                        var i = random.Next(sb.Length);
                        var j = random.Next(sb.Length);
                        (sb[i], sb[j]) = (sb[j], sb[i]);
                    }

                    break;
                default: // replace a word-ish region with a fragment
                    if (sb.Length > 0)
                    {
                        var start = Math.Min(at, sb.Length - 1);
                        sb.Remove(start, Math.Min(random.Next(1, 8), sb.Length - start));
                        sb.Insert(start, Fragments[random.Next(Fragments.Length)]);
                    }

                    break;
            }
        }

        return sb.ToString();
    }

    /// <summary>Renders random queries together with their expected <see cref="AstShape"/>.</summary>
    private static class Generator
    {
        private const int OrLevel = 1;
        private const int AndLevel = 2;
        private const int NotLevel = 3;

        public static (string Text, string Shape) Query(Random r)
        {
            var text = new StringBuilder();
            var shape = new StringBuilder("(query (items");
            text.Append(Space(r, leading: true)).Append(Keyword(r, "SELECT")).Append(Space(r));
            var itemCount = 1 + r.Next(4);
            for (var i = 0; i < itemCount; i++)
            {
                if (i > 0)
                {
                    text.Append(Space(r, optional: true)).Append(',').Append(Space(r, optional: true));
                }

                var (itemText, itemShape) = Item(r);
                text.Append(itemText);
                shape.Append(' ').Append(itemShape);
            }

            var cohort = Pick(r, Names);
            text.Append(Space(r)).Append(Keyword(r, "FROM")).Append(Space(r)).Append(cohort);
            shape.Append(") (from ").Append(cohort).Append(')');
            if (r.Next(4) != 0)
            {
                var (conditionText, conditionShape, _) = Condition(r, 0);
                text.Append(Space(r)).Append(Keyword(r, "WHERE")).Append(Space(r)).Append(conditionText);
                shape.Append(" (where ").Append(conditionShape).Append(')');
            }

            shape.Append(" (group");
            if (r.Next(2) == 0)
            {
                var dims = Names.OrderBy(_ => r.Next()).DistinctBy(n => n.ToUpperInvariant()).Take(1 + r.Next(3)).ToList();
                text.Append(Space(r)).Append(Keyword(r, "GROUP")).Append(Space(r)).Append(Keyword(r, "BY")).Append(Space(r))
                    .AppendJoin(Space(r, optional: true) + "," + Space(r, optional: true), dims);
                shape.Append(string.Concat(dims.Select(d => " " + d)));
            }

            shape.Append("))");
            if (r.Next(3) == 0)
            {
                text.Append(Space(r, optional: true)).Append(';');
            }

            return (text.Append(Space(r, optional: true)).ToString(), shape.ToString());
        }

        private static (string Text, string Shape) Item(Random r)
        {
            var kind = (AggregateKind)r.Next(9);
            var fn = Keyword(r, QueryParser.FunctionName(kind));
            string Open() => fn + Space(r, optional: true) + "(" + Space(r, optional: true);
            string Close() => Space(r, optional: true) + ")";
            switch (kind)
            {
                case AggregateKind.Count:
                    return (Open() + "*" + Close(), "(Count)");
                case AggregateKind.Covar or AggregateKind.Corr:
                    {
                        var a = Pick(r, Names);
                        var b = Pick(r, Names);
                        return (Open() + a + Space(r, optional: true) + "," + Space(r, optional: true) + b + Close(), $"({kind} {a} {b})");
                    }

                case AggregateKind.LinReg:
                    {
                        var names = Names.OrderBy(_ => r.Next()).DistinctBy(n => n.ToUpperInvariant()).Take(2 + r.Next(3)).ToList();
                        var regressors = names.Skip(1).ToList();
                        var text = Open() + names[0] + Space(r, optional: true) + "~" + Space(r, optional: true)
                            + string.Join(Space(r, optional: true) + "+" + Space(r, optional: true), regressors) + Close();
                        return (text, $"(LinReg target={names[0]}{string.Concat(regressors.Select(x => " " + x))})");
                    }

                default:
                    {
                        var m = Pick(r, Names);
                        return (Open() + m + Close(), $"({kind} {m})");
                    }
            }
        }

        /// <summary>A condition: its text, its shape and its precedence level as written (4 for atoms and parenthesized text).</summary>
        private static (string Text, string Shape, int Level) Condition(Random r, int depth)
        {
            var choice = depth >= 4 ? 3 + r.Next(4) : r.Next(8);
            switch (choice)
            {
                case 0:
                case 1:
                    {
                        var isOr = choice == 0;
                        var level = isOr ? OrLevel : AndLevel;
                        var left = Condition(r, depth + 1);
                        var right = Condition(r, depth + 1);
                        var text = Operand(r, left, level, right: false) + Space(r) + Keyword(r, isOr ? "OR" : "AND") + Space(r) + Operand(r, right, level, right: true);
                        return Maybe(r, (text, $"({(isOr ? "or" : "and")} {left.Shape} {right.Shape})", level));
                    }

                case 2:
                    {
                        var inner = Condition(r, depth + 1);
                        var text = Keyword(r, "NOT") + Space(r) + Operand(r, inner, NotLevel, right: false);
                        return Maybe(r, (text, $"(not {inner.Shape})", NotLevel));
                    }

                default:
                    return Maybe(r, Atom(r));
            }
        }

        private static (string Text, string Shape, int Level) Atom(Random r)
        {
            var dim = Pick(r, Names);
            switch (r.Next(5))
            {
                case 0:
                case 1:
                    {
                        var op = Pick(r, Operators);
                        var (lit, litShape) = Literal(r);
                        var name = op switch
                        {
                            "=" or "==" => "Equal",
                            "!=" or "<>" => "NotEqual",
                            "<" => "Less",
                            "<=" => "LessOrEqual",
                            ">" => "Greater",
                            _ => "GreaterOrEqual",
                        };
                        return (dim + Space(r, optional: true) + op + Space(r, optional: true) + lit, $"({name} {dim} {litShape})", 4);
                    }

                case 2:
                case 3:
                    {
                        var negated = r.Next(2) == 0;
                        var values = Enumerable.Range(0, 1 + r.Next(4)).Select(_ => Literal(r)).ToList();
                        var text = dim + Space(r) + (negated ? Keyword(r, "NOT") + Space(r) : "") + Keyword(r, "IN") + Space(r, optional: true) + "("
                            + string.Join(Space(r, optional: true) + "," + Space(r, optional: true), values.Select(v => v.Text)) + ")";
                        return (text, $"({(negated ? "notin" : "in")} {dim}{string.Concat(values.Select(v => " " + v.Shape))})", 4);
                    }

                default:
                    {
                        var negated = r.Next(3) == 0;
                        var low = Literal(r);
                        var high = Literal(r);
                        var text = dim + Space(r) + (negated ? Keyword(r, "NOT") + Space(r) : "") + Keyword(r, "BETWEEN") + Space(r) + low.Text
                            + Space(r) + Keyword(r, "AND") + Space(r) + high.Text;
                        var shape = $"(between {dim} {low.Shape} {high.Shape})";
                        return negated ? (text, $"(not {shape})", NotLevel) : (text, shape, 4);
                    }
            }
        }

        /// <summary>Renders an operand, parenthesized when precedence requires it and sometimes when it does not.</summary>
        private static string Operand(Random r, (string Text, string Shape, int Level) operand, int level, bool right)
        {
            var required = operand.Level < level || (right && operand.Level == level);
            return required || r.Next(5) == 0 ? Parenthesize(r, operand.Text) : operand.Text;
        }

        private static (string Text, string Shape, int Level) Maybe(Random r, (string Text, string Shape, int Level) c) =>
            r.Next(8) == 0 ? (Parenthesize(r, c.Text), c.Shape, 4) : c;

        private static string Parenthesize(Random r, string text) => "(" + Space(r, optional: true) + text + Space(r, optional: true) + ")";

        private static (string Text, string Shape) Literal(Random r)
        {
            if (r.Next(2) == 0)
            {
                var s = Pick(r, Strings);
                return ("'" + s.Replace("'", "''", StringComparison.Ordinal) + "'", $"str[{s}]");
            }

            var n = Pick(r, Numbers);
            var value = double.Parse(n, NumberStyles.Float, CultureInfo.InvariantCulture);
            return (n, $"num[{n}={value.ToString("R", CultureInfo.InvariantCulture)}]");
        }

        private static string Keyword(Random r, string keyword) => r.Next(3) switch
        {
            0 => keyword,
            1 => keyword.ToLowerInvariant(),
            _ => string.Concat(keyword.Select(c => r.Next(2) == 0 ? char.ToLowerInvariant(c) : c)),
        };

        private static string Space(Random r, bool optional = false, bool leading = false)
        {
            var n = optional || leading ? r.Next(3) : 1 + r.Next(2);
            return r.Next(6) == 0 ? string.Concat(Enumerable.Range(0, n).Select(_ => Pick(r, [" ", "\t", "\n", "\r\n"]))) : new string(' ', n);
        }

        private static string Pick(Random r, string[] options) => options[r.Next(options.Length)];
    }
}
