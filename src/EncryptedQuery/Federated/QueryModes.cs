using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Federated;

/// <summary>How a query is answered.</summary>
public enum QueryMode
{
    /// <summary>From the cohort's encrypted aggregate: filters and groups become slot masks over the aggregate.</summary>
    Schema,

    /// <summary>
    /// By online agents: the WHERE clause names fields outside the schema's dimensions, so each agent evaluates it on its
    /// own summary and contributes its encoded vector when it matches (zeros otherwise) in a collection round; the
    /// groups and statistics are then computed from that round's encrypted sum exactly as in schema mode.
    /// </summary>
    Federated,
}

/// <summary>A planned query and how it is answered.</summary>
/// <param name="Mode">Schema or federated.</param>
/// <param name="Plan">The plan over the encrypted sum (in federated mode without the WHERE clause, which agents apply).</param>
/// <param name="Query">The parsed query.</param>
public sealed record ModedPlan(QueryMode Mode, QueryPlan Plan, QueryAst Query)
{
    /// <summary>The WHERE clause as agents evaluate it (federated mode).</summary>
    public LocalFilter LocalFilter(CohortSchema schema) => Federated.LocalFilter.For(Query, schema);
}

/// <summary>Chooses between schema and federated mode.</summary>
public static class QueryModes
{
    /// <summary>
    /// Plans a query: schema mode when every name of its WHERE clause is a dimension of the schema, federated mode when
    /// some are not (the SELECT list and GROUP BY must still be the schema's measures and dimensions).
    /// </summary>
    /// <exception cref="QueryPlanException">The query cannot be answered in either mode (the message says why and where).</exception>
    public static ModedPlan Plan(QueryAst query, CohortSchema schema)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(schema);
        bool local = LocalFilter.Names(query.Where).Any(n => !schema.Dimensions.Any(d => string.Equals(d.Name, n.Name, StringComparison.OrdinalIgnoreCase)));
        if (!local)
        {
            return new ModedPlan(QueryMode.Schema, QueryPlanner.Plan(query, schema), query);
        }

        return new ModedPlan(QueryMode.Federated, QueryPlanner.Plan(query with { Where = null }, schema), query);
    }

    /// <summary>Parses and plans query text.</summary>
    /// <exception cref="FormatException">A syntax or planning error (with its position).</exception>
    public static ModedPlan Plan(string text, CohortSchema schema) => Plan(QueryParser.Parse(text), schema);

    /// <summary>Lower-case name used on the wire ("schema" or "federated").</summary>
    public static string WireName(this QueryMode mode) => mode == QueryMode.Federated ? "federated" : "schema";
}
