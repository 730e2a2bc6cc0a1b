namespace PrivateHealth.EncryptedQuery.Schema;

/// <summary>
/// A cohort schema is malformed. The message lists every problem found, one per line, so that a schema author
/// can fix them all at once; <see cref="Problems"/> holds the same list.
/// </summary>
public sealed class SchemaException(string message) : FormatException(message)
{
    /// <summary>Creates the exception from a list of problems (at least one).</summary>
    public SchemaException(IReadOnlyList<string> problems)
        : this(Format(problems))
    {
        Problems = problems;
    }

    /// <summary>The individual problems (a single entry when built from a plain message).</summary>
    public IReadOnlyList<string> Problems { get; } = [message];

    private static string Format(IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        return problems.Count == 1
            ? $"Invalid cohort schema: {problems[0]}"
            : $"Invalid cohort schema ({problems.Count} problems):{Environment.NewLine}"
              + string.Join(Environment.NewLine, problems.Select(p => " - " + p));
    }
}
