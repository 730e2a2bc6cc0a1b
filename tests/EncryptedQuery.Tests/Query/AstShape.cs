using System.Globalization;
using System.Text;
using PrivateHealth.EncryptedQuery.Query;

namespace PrivateHealth.EncryptedQuery.Tests.Query;

/// <summary>A span-free, fully explicit rendering of an AST (S-expressions), used to compare trees structurally.</summary>
internal static class AstShape
{
    public static string Of(QueryAst ast)
    {
        var sb = new StringBuilder("(query (items");
        foreach (var item in ast.Items)
        {
            sb.Append(' ').Append(Of(item));
        }

        sb.Append(") (from ").Append(ast.Cohort.Name).Append(')');
        if (ast.Where is not null)
        {
            sb.Append(" (where ").Append(Of(ast.Where)).Append(')');
        }

        sb.Append(" (group");
        foreach (var g in ast.GroupBy)
        {
            sb.Append(' ').Append(g.Name);
        }

        return sb.Append("))").ToString();
    }

    public static string Of(SelectItem item) =>
        $"({item.Kind}{(item.Target is null ? "" : " target=" + item.Target.Name)}{string.Concat(item.Arguments.Select(a => " " + a.Name))})";

    public static string Of(Condition condition) => condition switch
    {
        AndCondition a => $"(and {Of(a.Left)} {Of(a.Right)})",
        OrCondition o => $"(or {Of(o.Left)} {Of(o.Right)})",
        NotCondition n => $"(not {Of(n.Inner)})",
        ComparisonCondition c => $"({c.Operator} {c.Dimension.Name} {Of(c.Value)})",
        InCondition i => $"({(i.Negated ? "notin" : "in")} {i.Dimension.Name}{string.Concat(i.Values.Select(v => " " + Of(v)))})",
        BetweenCondition b => $"(between {b.Dimension.Name} {Of(b.Low)} {Of(b.High)})",
        _ => throw new ArgumentException("unknown condition", nameof(condition)),
    };

    public static string Of(Literal literal) => literal.Number is { } n
        ? $"num[{literal.Text}={n.ToString("R", CultureInfo.InvariantCulture)}]"
        : $"str[{literal.Text}]";
}
