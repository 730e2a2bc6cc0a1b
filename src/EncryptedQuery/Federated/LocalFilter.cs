using System.Globalization;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Federated;

/// <summary>
/// A query's WHERE clause evaluated by an agent on its own summary (federated mode), with SQL's three-valued logic:
/// a comparison with a missing field, or between a number and a text that is not a number, is <em>unknown</em>;
/// NOT unknown is unknown; AND/OR follow Kleene's tables; the person is included only when the condition is true.
/// Names are the summary's fields (case-insensitive); a name that is a schema dimension and not a field resolves to the
/// dimension's source field. Numbers compare numerically; texts compare ordinally (case-sensitive), and a text field
/// compared with a number literal is parsed as an invariant-culture number.
/// </summary>
public sealed class LocalFilter
{
    private readonly Condition? _condition;
    private readonly Dictionary<string, string> _aliases;

    private LocalFilter(Condition? condition, Dictionary<string, string> aliases)
    {
        _condition = condition;
        _aliases = aliases;
    }

    /// <summary>The filter of a query (everyone matches a query without WHERE).</summary>
    public static LocalFilter For(QueryAst query, CohortSchema? schema = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        var aliases = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var d in schema?.Dimensions ?? [])
        {
            if (!string.Equals(d.Name, d.Field, StringComparison.OrdinalIgnoreCase))
            {
                aliases[d.Name] = d.Field;
            }
        }

        return new LocalFilter(query.Where, aliases);
    }

    /// <summary>Whether the person with this summary is included (the condition is true, not false or unknown).</summary>
    public bool Matches(IReadOnlyDictionary<string, object> summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        if (_condition is null)
        {
            return true;
        }

        var fields = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in summary)
        {
            if (value is not null)
            {
                fields.TryAdd(key, value);
            }
        }

        return Evaluate(_condition, fields) == Truth.True;
    }

    /// <summary>The names the WHERE clause uses, in order of appearance (distinct, case-insensitive).</summary>
    public static IReadOnlyList<Identifier> Names(Condition? condition)
    {
        var names = new List<Identifier>();
        Collect(condition, names);
        return [.. names.DistinctBy(n => n.Name, StringComparer.OrdinalIgnoreCase)];
    }

    private static void Collect(Condition? condition, List<Identifier> names)
    {
        switch (condition)
        {
            case AndCondition a: Collect(a.Left, names); Collect(a.Right, names); break;
            case OrCondition o: Collect(o.Left, names); Collect(o.Right, names); break;
            case NotCondition n: Collect(n.Inner, names); break;
            case ComparisonCondition c: names.Add(c.Dimension); break;
            case InCondition i: names.Add(i.Dimension); break;
            case BetweenCondition b: names.Add(b.Dimension); break;
        }
    }

    private enum Truth
    {
        False,
        Unknown,
        True,
    }

    private static Truth Not(Truth t) => t switch { Truth.True => Truth.False, Truth.False => Truth.True, _ => Truth.Unknown };

    private static Truth Of(bool b) => b ? Truth.True : Truth.False;

    private Truth Evaluate(Condition condition, Dictionary<string, object> fields) => condition switch
    {
        AndCondition a => And(Evaluate(a.Left, fields), Evaluate(a.Right, fields)),
        OrCondition o => Not(And(Not(Evaluate(o.Left, fields)), Not(Evaluate(o.Right, fields)))),
        NotCondition n => Not(Evaluate(n.Inner, fields)),
        ComparisonCondition c => Compare(Lookup(c.Dimension, fields), c.Value) is { } order ? Of(Holds(c.Operator, order)) : Truth.Unknown,
        InCondition i => In(Lookup(i.Dimension, fields), i.Values, i.Negated),
        BetweenCondition b => Compare(Lookup(b.Dimension, fields), b.Low) is { } low && Compare(Lookup(b.Dimension, fields), b.High) is { } high
            ? Of(low >= 0 && high <= 0)
            : Truth.Unknown,
        _ => throw new ArgumentException($"Unsupported condition {condition.GetType().Name}.", nameof(condition)),
    };

    private static Truth And(Truth a, Truth b) => a == Truth.False || b == Truth.False ? Truth.False : a == Truth.True && b == Truth.True ? Truth.True : Truth.Unknown;

    private static Truth In(object? value, IReadOnlyList<Literal> values, bool negated)
    {
        bool unknown = false;
        foreach (var literal in values)
        {
            switch (Compare(value, literal))
            {
                case 0: return Of(!negated);
                case null: unknown = true; break;
            }
        }

        return unknown ? Truth.Unknown : Of(negated);
    }

    private static bool Holds(ComparisonOperator op, int order) => op switch
    {
        ComparisonOperator.Equal => order == 0,
        ComparisonOperator.NotEqual => order != 0,
        ComparisonOperator.Less => order < 0,
        ComparisonOperator.LessOrEqual => order <= 0,
        ComparisonOperator.Greater => order > 0,
        ComparisonOperator.GreaterOrEqual => order >= 0,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    private object? Lookup(Identifier name, Dictionary<string, object> fields)
    {
        if (fields.TryGetValue(name.Name, out object? value))
        {
            return value;
        }

        return _aliases.TryGetValue(name.Name, out string? field) && fields.TryGetValue(field, out value) ? value : null;
    }

    /// <summary>Sign of value − literal, or null when unknown (missing value, or incomparable types).</summary>
    private static int? Compare(object? value, Literal literal)
    {
        if (value is null)
        {
            return null;
        }

        if (literal.Number is double number)
        {
            if (SummaryValues.TryNumber(value, out double x) ||
                (SummaryValues.TryText(value, out string? text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out x)))
            {
                return double.IsNaN(x) ? null : x.CompareTo(number);
            }

            return null;
        }

        return SummaryValues.TryText(value, out string? s) ? Math.Sign(string.CompareOrdinal(s, literal.Text)) : null;
    }
}
