using System.Text;

namespace PrivateHealth.EncryptedQuery.Query;

/// <summary>Canonical text of parsed queries (see <see cref="QueryAst.ToString"/>).</summary>
public static class QueryFormatter
{
    private const int OrPrecedence = 1;
    private const int AndPrecedence = 2;
    private const int NotPrecedence = 3;
    private const int AtomPrecedence = 4;

    /// <summary>The canonical text of <paramref name="query"/>, e.g. <c>SELECT COUNT(*), AVG(hr) FROM c WHERE region IN ('north', 'east') GROUP BY sex</c>.</summary>
    public static string Format(QueryAst query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var sb = new StringBuilder("SELECT ");
        for (var i = 0; i < query.Items.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            AppendItem(sb, query.Items[i]);
        }

        sb.Append(" FROM ").Append(query.Cohort.Name);
        if (query.Where is { } where)
        {
            sb.Append(" WHERE ");
            AppendCondition(sb, where);
        }

        if (query.GroupBy.Count > 0)
        {
            sb.Append(" GROUP BY ").AppendJoin(", ", query.GroupBy.Select(g => g.Name));
        }

        return sb.ToString();
    }

    /// <summary>The canonical text of one aggregate, e.g. <c>LINREG(glucose ~ bmi + age)</c>.</summary>
    public static string Format(SelectItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var sb = new StringBuilder();
        AppendItem(sb, item);
        return sb.ToString();
    }

    /// <summary>The canonical text of a condition, parenthesized only where precedence (NOT &gt; AND &gt; OR, left-associative) requires.</summary>
    public static string Format(Condition condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var sb = new StringBuilder();
        AppendCondition(sb, condition);
        return sb.ToString();
    }

    /// <summary>The canonical text of a literal: a number as written, a string in single quotes with <c>'</c> doubled.</summary>
    public static string Format(Literal literal)
    {
        ArgumentNullException.ThrowIfNull(literal);
        return literal.Number.HasValue ? literal.Text : "'" + literal.Text.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    private static void AppendItem(StringBuilder sb, SelectItem item)
    {
        sb.Append(QueryParser.FunctionName(item.Kind)).Append('(');
        if (item.Kind == AggregateKind.Count)
        {
            sb.Append('*');
        }
        else if (item.Kind == AggregateKind.LinReg)
        {
            sb.Append(item.Target?.Name).Append(" ~ ").AppendJoin(" + ", item.Arguments.Select(a => a.Name));
        }
        else
        {
            sb.AppendJoin(", ", item.Arguments.Select(a => a.Name));
        }

        sb.Append(')');
    }

    private static void AppendCondition(StringBuilder sb, Condition condition)
    {
        switch (condition)
        {
            case OrCondition or:
                AppendOperand(sb, or.Left, OrPrecedence, rightOperand: false);
                sb.Append(" OR ");
                AppendOperand(sb, or.Right, OrPrecedence, rightOperand: true);
                break;
            case AndCondition and:
                AppendOperand(sb, and.Left, AndPrecedence, rightOperand: false);
                sb.Append(" AND ");
                AppendOperand(sb, and.Right, AndPrecedence, rightOperand: true);
                break;
            case NotCondition not:
                sb.Append("NOT ");
                AppendOperand(sb, not.Inner, NotPrecedence, rightOperand: false);
                break;
            case ComparisonCondition comparison:
                sb.Append(comparison.Dimension.Name).Append(' ').Append(Symbol(comparison.Operator)).Append(' ').Append(Format(comparison.Value));
                break;
            case InCondition @in:
                sb.Append(@in.Dimension.Name).Append(@in.Negated ? " NOT IN (" : " IN (").AppendJoin(", ", @in.Values.Select(Format)).Append(')');
                break;
            case BetweenCondition between:
                sb.Append(between.Dimension.Name).Append(" BETWEEN ").Append(Format(between.Low)).Append(" AND ").Append(Format(between.High));
                break;
            default:
                throw new ArgumentException($"unknown condition type {condition.GetType().Name}", nameof(condition));
        }
    }

    /// <summary>
    /// Appends an operand of an operator of <paramref name="precedence"/>, in parentheses when it binds more loosely
    /// (or, as a right operand, equally loosely: the operators are left-associative).
    /// </summary>
    private static void AppendOperand(StringBuilder sb, Condition operand, int precedence, bool rightOperand)
    {
        var inner = PrecedenceOf(operand);
        var parenthesize = inner < precedence || (rightOperand && inner == precedence);
        if (parenthesize)
        {
            sb.Append('(');
        }

        AppendCondition(sb, operand);
        if (parenthesize)
        {
            sb.Append(')');
        }
    }

    private static int PrecedenceOf(Condition condition) => condition switch
    {
        OrCondition => OrPrecedence,
        AndCondition => AndPrecedence,
        NotCondition => NotPrecedence,
        _ => AtomPrecedence,
    };

    private static string Symbol(ComparisonOperator op) => op switch
    {
        ComparisonOperator.Equal => "=",
        ComparisonOperator.NotEqual => "<>",
        ComparisonOperator.Less => "<",
        ComparisonOperator.LessOrEqual => "<=",
        ComparisonOperator.Greater => ">",
        ComparisonOperator.GreaterOrEqual => ">=",
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown operator"),
    };
}
