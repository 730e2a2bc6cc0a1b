using PrivateHealth.EncryptedQuery.Federated;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.EncryptedQuery.Tests.Schema;

namespace PrivateHealth.EncryptedQuery.Tests.Federated;

/// <summary>The WHERE clause as an agent evaluates it on its own summary, with SQL's three-valued logic.</summary>
public sealed class LocalFilterTests
{
    private static readonly CohortSchema Schema = EncodingTestData.BreastCancerSchema();

    private static bool Matches(string where, IReadOnlyDictionary<string, object> summary) =>
        LocalFilter.For(QueryParser.Parse($"SELECT COUNT(*) FROM c WHERE {where}"), Schema).Matches(summary);

    private static Dictionary<string, object> Person(params (string Key, object Value)[] fields) => fields.ToDictionary(f => f.Key, f => f.Value);

    [Theory]
    [InlineData("x > 1", true)]
    [InlineData("x >= 2.5", true)]
    [InlineData("x < 2.5", false)]
    [InlineData("x <= 2.5", true)]
    [InlineData("x = 2.5", true)]
    [InlineData("x != 2.5", false)]
    [InlineData("x <> 3", true)]
    [InlineData("x BETWEEN 2.5 AND 3", true)]
    [InlineData("x BETWEEN 1 AND 2.4", false)]
    [InlineData("x NOT BETWEEN 1 AND 2.4", true)]
    [InlineData("x IN (1, 2.5)", true)]
    [InlineData("x NOT IN (1, 2.5)", false)]
    [InlineData("s = 'north'", true)]
    [InlineData("s = 'North'", false)]
    [InlineData("s IN ('east', 'north')", true)]
    [InlineData("s > 'm'", true)]
    [InlineData("n = 7", true)]
    [InlineData("n > 6.5", true)]
    [InlineData("X > 1 AND S = 'north'", true)]
    [InlineData("x > 3 OR s = 'north'", true)]
    [InlineData("NOT (x > 3 OR s = 'south')", true)]
    public void ComparisonsOnKnownFields(string where, bool expected)
    {
        var person = Person(("x", 2.5), ("s", "north"), ("n", "7"));
        Assert.Equal(expected, Matches(where, person));
    }

    [Theory]
    // a missing field, or a text that is not a number compared with a number, is unknown: neither the comparison nor its negation holds
    [InlineData("missing > 1", false)]
    [InlineData("NOT missing > 1", false)]
    [InlineData("missing IN (1, 2)", false)]
    [InlineData("missing NOT IN (1, 2)", false)]
    [InlineData("s > 1", false)]
    [InlineData("NOT s > 1", false)]
    [InlineData("x = 'north'", false)]
    [InlineData("NOT x = 'north'", false)]
    // Kleene: unknown OR true = true, unknown AND false = false, NOT (unknown AND false) = true
    [InlineData("missing > 1 OR x > 1", true)]
    [InlineData("missing > 1 AND x > 1", false)]
    [InlineData("NOT (missing > 1 AND x > 3)", true)]
    [InlineData("NOT (missing > 1 OR x > 3)", false)]
    // IN with an unknown member and no match is unknown; with a match it is true
    [InlineData("x IN ('a', 2.5)", true)]
    [InlineData("NOT x IN ('a', 3)", false)]
    public void UnknownsFollowThreeValuedLogic(string where, bool expected)
    {
        var person = Person(("x", 2.5), ("s", "north"));
        Assert.Equal(expected, Matches(where, person));
    }

    [Fact]
    public void ADimensionNameResolvesToItsSourceField()
    {
        // "label" is the dimension over the source field "target"
        Assert.True(Matches("label = '1'", Person(("target", "1"))));
        Assert.False(Matches("label = '1'", Person(("target", "0"))));
        // a field of that name wins over the alias
        Assert.True(Matches("label = 'x'", Person(("label", "x"), ("target", "1"))));
    }

    [Fact]
    public void NoWhereMatchesEveryone() =>
        Assert.True(LocalFilter.For(QueryParser.Parse("SELECT COUNT(*) FROM c"), Schema).Matches(Person()));

    [Fact]
    public void NamesListsEveryFieldOnce()
    {
        var ast = QueryParser.Parse("SELECT COUNT(*) FROM c WHERE a > 1 AND (b IN ('x') OR NOT A < 3) AND c BETWEEN 1 AND 2");
        Assert.Equal(["a", "b", "c"], LocalFilter.Names(ast.Where).Select(n => n.Name));
    }
}
