namespace PrivateHealth.EncryptedQuery.Schema;

/// <summary>
/// What a cohort's contribution vectors contain: the dimensions whose cross product forms the cells, the measures
/// summed in each cell, and the cohort's privacy rules (minimum group size released, total (ε, δ) budget).
/// </summary>
/// <remarks>
/// JSON (camelCase, property names matched case-insensitively on input):
/// <code>
/// {"version":1,"id":"breast-cancer","description":"…",
///  "dimensions":[{"name":"label","kind":"categorical","values":["0","1"],"source":"target"}, …],
///  "measures":[{"name":"mean_radius","lo":6.981,"hi":28.11}, …],
///  "minGroupSize":10,"epsilon":10,"delta":1e-6}
/// </code>
/// <see cref="Parse"/> reports every problem at once in one <see cref="SchemaException"/>; a schema built in code is
/// checked by <see cref="Validate"/> (which <see cref="CellLayout"/> calls).
/// </remarks>
public sealed record CohortSchema
{
    /// <summary>The only schema format version understood.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Upper bound on <see cref="CellLayout.SlotCount"/> (cells × block size) of one contribution vector.</summary>
    public const int MaxSlots = 1_048_576;

    /// <summary>Schema format version (must be <see cref="CurrentVersion"/>).</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>Cohort identifier (non-empty).</summary>
    public required string Id { get; init; }

    /// <summary>Free text for researchers.</summary>
    public string? Description { get; init; }

    /// <summary>The dimensions, in slot order (the first varies slowest).</summary>
    public required IReadOnlyList<DimensionSpec> Dimensions { get; init; }

    /// <summary>The measures, in block order.</summary>
    public required IReadOnlyList<MeasureSpec> Measures { get; init; }

    /// <summary>Smallest (noisy) count of people a released statistic may rest on.</summary>
    public int MinGroupSize { get; init; } = 10;

    /// <summary>Total ε of the cohort's differential-privacy budget.</summary>
    public double Epsilon { get; init; } = 10;

    /// <summary>Total δ of the cohort's differential-privacy budget.</summary>
    public double Delta { get; init; } = 1e-6;

    /// <summary>Parses and validates a schema.</summary>
    /// <exception cref="SchemaException">Malformed JSON or any validation problem; the message lists every problem.</exception>
    public static CohortSchema Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var problems = new SchemaProblems();
        var schema = SchemaJson.Read(json, problems);
        if (schema is not null)
        {
            SchemaValidator.Check(schema, problems);
        }

        if (problems.Count > 0 || schema is null)
        {
            throw new SchemaException(problems.Messages);
        }

        return schema;
    }

    /// <summary>The schema as indented JSON; <see cref="Parse"/> of it gives an equivalent schema.</summary>
    public string ToJson() => SchemaJson.Write(this);

    /// <summary>Throws when the schema (e.g. built in code) is invalid.</summary>
    /// <exception cref="SchemaException">Every problem found.</exception>
    public void Validate()
    {
        var problems = new SchemaProblems();
        SchemaValidator.Check(this, problems);
        if (problems.Count > 0)
        {
            throw new SchemaException(problems.Messages);
        }
    }

    /// <summary>The dimension with this name (case-insensitive), or null.</summary>
    public DimensionSpec? FindDimension(string name) =>
        Dimensions.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The measure with this name (case-insensitive), or null.</summary>
    public MeasureSpec? FindMeasure(string name) =>
        Measures.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The index of the measure with this name (case-insensitive), or −1.</summary>
    public int MeasureIndex(string name)
    {
        for (int i = 0; i < Measures.Count; i++)
        {
            if (string.Equals(Measures[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The index of the dimension with this name (case-insensitive), or −1.</summary>
    public int DimensionIndex(string name)
    {
        for (int i = 0; i < Dimensions.Count; i++)
        {
            if (string.Equals(Dimensions[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>Problems found so far; a field flagged by the JSON reader suppresses the validator's remarks on it.</summary>
internal sealed class SchemaProblems
{
    private readonly List<string> messages = [];
    private readonly HashSet<string> flagged = new(StringComparer.Ordinal);

    public int Count => messages.Count;

    public IReadOnlyList<string> Messages => messages;

    /// <summary>A structural (JSON) problem on a field; later remarks on the same field are dropped.</summary>
    public void Structural(string field, string message)
    {
        if (flagged.Add(field))
        {
            messages.Add(message);
        }
    }

    /// <summary>A semantic problem, keyed "field:what"; dropped if the field already has a structural problem.</summary>
    public void Semantic(string field, string message)
    {
        if (!flagged.Contains(field))
        {
            messages.Add(message);
        }
    }
}

/// <summary>Semantic checks shared by <see cref="CohortSchema.Parse"/> and <see cref="CohortSchema.Validate"/>.</summary>
internal static class SchemaValidator
{
    public static bool IsIdentifier(string? name)
    {
        if (string.IsNullOrEmpty(name) || !(char.IsAsciiLetter(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    public static string Where(string path, string? name) =>
        string.IsNullOrEmpty(name) ? path : $"{path} '{name}'";

    public static void Check(CohortSchema schema, SchemaProblems problems)
    {
        if (schema.Version != CohortSchema.CurrentVersion)
        {
            problems.Semantic("version", $"version {schema.Version} is not supported (expected {CohortSchema.CurrentVersion})");
        }

        if (string.IsNullOrWhiteSpace(schema.Id))
        {
            problems.Semantic("id", "id is missing or empty");
        }

        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        void CheckName(string path, string? name)
        {
            if (string.IsNullOrEmpty(name))
            {
                problems.Semantic(path + ".name", $"{path}: name is missing or empty");
            }
            else if (!IsIdentifier(name))
            {
                problems.Semantic(path + ".name", $"{path}: name '{name}' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
            }

            if (!string.IsNullOrEmpty(name) && !names.TryAdd(name, path))
            {
                problems.Semantic(path + ".name", $"{path}: duplicate name '{name}' (also {names[name]}; names are case-insensitive)");
            }
        }

        long cells = 1;
        bool sizesKnown = true;
        if (schema.Dimensions is null)
        {
            problems.Semantic("dimensions", "dimensions is missing (use [] for none)");
            sizesKnown = false;
        }
        else
        {
            for (int i = 0; i < schema.Dimensions.Count; i++)
            {
                string path = $"dimensions[{i}]";
                var d = schema.Dimensions[i];
                if (d is null)
                {
                    problems.Semantic(path, $"{path} is null");
                    sizesKnown = false;
                    continue;
                }

                CheckName(path, d.Name);
                CheckDimension(path, d, problems);
                int size = d.Size;
                if (size <= 0)
                {
                    sizesKnown = false;
                }
                else
                {
                    cells = Math.Min(cells * size, (long)int.MaxValue * 4);
                }
            }
        }

        if (schema.Measures is null)
        {
            problems.Semantic("measures", "measures is missing (use [] for none)");
            sizesKnown = false;
        }
        else
        {
            for (int i = 0; i < schema.Measures.Count; i++)
            {
                string path = $"measures[{i}]";
                var m = schema.Measures[i];
                if (m is null)
                {
                    problems.Semantic(path, $"{path} is null");
                    continue;
                }

                CheckName(path, m.Name);
                string where = Where(path, m.Name);
                CheckSource(path, where, m.Source, problems);
                bool finite = true;
                if (!double.IsFinite(m.Lo))
                {
                    problems.Semantic(path + ".lo", $"{where}: lo = {m.Lo} is not a finite number");
                    finite = false;
                }

                if (!double.IsFinite(m.Hi))
                {
                    problems.Semantic(path + ".hi", $"{where}: hi = {m.Hi} is not a finite number");
                    finite = false;
                }

                if (finite && m.Lo >= m.Hi)
                {
                    problems.Semantic(path + ".lo", $"{where}: lo = {m.Lo:R} must be less than hi = {m.Hi:R}");
                }
            }
        }

        if (schema.MinGroupSize < 1)
        {
            problems.Semantic("minGroupSize", $"minGroupSize = {schema.MinGroupSize} must be at least 1");
        }

        if (!double.IsFinite(schema.Epsilon) || schema.Epsilon <= 0)
        {
            problems.Semantic("epsilon", $"epsilon = {schema.Epsilon} must be a finite number > 0");
        }

        if (!double.IsFinite(schema.Delta) || schema.Delta < 0 || schema.Delta >= 1)
        {
            problems.Semantic("delta", $"delta = {schema.Delta} must be a finite number in [0, 1)");
        }

        if (sizesKnown)
        {
            int m = schema.Measures!.Count;
            long block = CellLayout.BlockSizeFor(m);
            long slots = cells * block;
            if (slots > CohortSchema.MaxSlots)
            {
                problems.Semantic(
                    "cells",
                    $"too many cells: {cells} cells × block size {block} = {slots} slots exceeds the limit of {CohortSchema.MaxSlots}");
            }
        }
    }

    private static void CheckSource(string path, string where, string? source, SchemaProblems problems)
    {
        if (source is not null && string.IsNullOrWhiteSpace(source))
        {
            problems.Semantic(path + ".source", $"{where}: source is empty (omit it to read the field named like the {(path.StartsWith("measures", StringComparison.Ordinal) ? "measure" : "dimension")})");
        }
    }

    private static void CheckDimension(string path, DimensionSpec d, SchemaProblems problems)
    {
        string where = Where(path, d.Name);
        CheckSource(path, where, d.Source, problems);
        if (!Enum.IsDefined(d.Kind))
        {
            problems.Semantic(path + ".kind", $"{where}: unknown kind {(int)d.Kind}");
            return;
        }

        if (d.Kind == DimensionKind.Categorical)
        {
            if (d.Edges is not null)
            {
                problems.Semantic(path + ".edges", $"{where}: a categorical dimension has values, not edges");
            }

            if (d.Values is null)
            {
                problems.Semantic(path + ".values", $"{where}: values is missing (a categorical dimension lists its values)");
                return;
            }

            if (d.Values.Count == 0)
            {
                problems.Semantic(path + ".values", $"{where}: values is empty");
                return;
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int j = 0; j < d.Values.Count; j++)
            {
                string? v = d.Values[j];
                if (string.IsNullOrEmpty(v))
                {
                    problems.Semantic(path + ".values", $"{where}: values[{j}] is empty");
                }
                else if (!seen.Add(v))
                {
                    problems.Semantic(path + ".values", $"{where}: value '{v}' is listed twice");
                }
            }

            return;
        }

        if (d.Values is not null)
        {
            problems.Semantic(path + ".values", $"{where}: a numeric dimension has edges, not values");
        }

        if (d.Edges is null)
        {
            problems.Semantic(path + ".edges", $"{where}: edges is missing (a numeric dimension lists its bin edges)");
            return;
        }

        if (d.Edges.Count < 2)
        {
            problems.Semantic(path + ".edges", $"{where}: edges needs at least two entries (one bin), got {d.Edges.Count}");
            return;
        }

        for (int j = 0; j < d.Edges.Count; j++)
        {
            if (!double.IsFinite(d.Edges[j]))
            {
                problems.Semantic(path + ".edges", $"{where}: edges[{j}] = {d.Edges[j]} is not a finite number");
            }
            else if (j > 0 && double.IsFinite(d.Edges[j - 1]) && d.Edges[j] <= d.Edges[j - 1])
            {
                problems.Semantic(
                    path + ".edges",
                    $"{where}: edges must be strictly increasing (edges[{j}] = {d.Edges[j]:R} <= edges[{j - 1}] = {d.Edges[j - 1]:R})");
            }
        }
    }
}
