using System.Globalization;
using System.Text.Json;

namespace PrivateHealth.EncryptedQuery.Schema;

/// <summary>Reads and writes <see cref="CohortSchema"/> JSON, recording structural problems instead of stopping at the first.</summary>
internal static class SchemaJson
{
    private static readonly string[] SchemaProperties =
        ["version", "id", "description", "dimensions", "measures", "minGroupSize", "epsilon", "delta"];

    private static readonly string[] DimensionProperties = ["name", "kind", "values", "edges", "source"];

    private static readonly string[] MeasureProperties = ["name", "lo", "hi", "source"];

    public static CohortSchema? Read(string json, SchemaProblems problems)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            problems.Structural("json", $"not valid JSON: {e.Message}");
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problems.Structural("json", $"the schema must be a JSON object, not {root.ValueKind}");
                return null;
            }

            var fields = new Fields(root, "", "schema", SchemaProperties, problems);
            var dimensions = fields.Array("dimensions", required: true)?.Select((e, i) => ReadDimension(e, i, problems)).ToArray();
            var measures = fields.Array("measures", required: true)?.Select((e, i) => ReadMeasure(e, i, problems)).ToArray();
            return new CohortSchema
            {
                Version = fields.Integer("version") ?? CohortSchema.CurrentVersion,
                Id = fields.String("id", required: true) ?? "",
                Description = fields.String("description"),
                Dimensions = dimensions is null ? null! : Array.AsReadOnly(dimensions),
                Measures = measures is null ? null! : Array.AsReadOnly(measures),
                MinGroupSize = fields.Integer("minGroupSize") ?? 10,
                Epsilon = fields.Number("epsilon") ?? 10,
                Delta = fields.Number("delta") ?? 1e-6,
            };
        }
    }

    private static DimensionSpec ReadDimension(JsonElement element, int index, SchemaProblems problems)
    {
        string path = $"dimensions[{index}]";
        if (element.ValueKind != JsonValueKind.Object)
        {
            problems.Structural(path, $"{path} must be an object, not {element.ValueKind}");
            return new DimensionSpec { Name = "", Values = ["?"] };
        }

        string? name = element.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        var fields = new Fields(element, path, SchemaValidator.Where(path, name), DimensionProperties, problems);
        name = fields.String("name", required: true) ?? "";
        string? kindText = fields.String("kind", required: true);
        var values = fields.Array("values")?.Select((e, j) => fields.StringItem(e, "values", j)).ToArray();
        var edges = fields.Array("edges")?.Select((e, j) => fields.NumberItem(e, "edges", j)).ToArray();
        DimensionKind kind;
        if (string.Equals(kindText, "categorical", StringComparison.OrdinalIgnoreCase))
        {
            kind = DimensionKind.Categorical;
        }
        else if (string.Equals(kindText, "numeric", StringComparison.OrdinalIgnoreCase))
        {
            kind = DimensionKind.Numeric;
        }
        else
        {
            if (kindText is not null)
            {
                problems.Structural(path + ".kind", $"{fields.Where}: kind '{kindText}' is not \"categorical\" or \"numeric\"");
            }

            // Guess, so that the rest is still checked.
            kind = edges is not null && values is null ? DimensionKind.Numeric : DimensionKind.Categorical;
        }

        return new DimensionSpec
        {
            Name = name,
            Kind = kind,
            Values = values is null ? null : Array.AsReadOnly(values),
            Edges = edges is null ? null : Array.AsReadOnly(edges),
            Source = fields.String("source"),
        };
    }

    private static MeasureSpec ReadMeasure(JsonElement element, int index, SchemaProblems problems)
    {
        string path = $"measures[{index}]";
        if (element.ValueKind != JsonValueKind.Object)
        {
            problems.Structural(path, $"{path} must be an object, not {element.ValueKind}");
            return new MeasureSpec { Name = "", Lo = 0, Hi = 1 };
        }

        string? name = element.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        var fields = new Fields(element, path, SchemaValidator.Where(path, name), MeasureProperties, problems);
        return new MeasureSpec
        {
            Name = fields.String("name", required: true) ?? "",
            Lo = fields.Number("lo", required: true) ?? double.NaN,
            Hi = fields.Number("hi", required: true) ?? double.NaN,
            Source = fields.String("source"),
        };
    }

    public static string Write(CohortSchema schema)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", schema.Version);
            writer.WriteString("id", schema.Id);
            if (schema.Description is not null)
            {
                writer.WriteString("description", schema.Description);
            }

            writer.WriteStartArray("dimensions");
            foreach (var d in schema.Dimensions)
            {
                writer.WriteStartObject();
                writer.WriteString("name", d.Name);
                writer.WriteString("kind", d.Kind == DimensionKind.Numeric ? "numeric" : "categorical");
                if (d.Values is not null)
                {
                    writer.WriteStartArray("values");
                    foreach (string v in d.Values)
                    {
                        writer.WriteStringValue(v);
                    }

                    writer.WriteEndArray();
                }

                if (d.Edges is not null)
                {
                    writer.WriteStartArray("edges");
                    foreach (double e in d.Edges)
                    {
                        WriteNumberValue(writer, e);
                    }

                    writer.WriteEndArray();
                }

                if (d.Source is not null)
                {
                    writer.WriteString("source", d.Source);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("measures");
            foreach (var m in schema.Measures)
            {
                writer.WriteStartObject();
                writer.WriteString("name", m.Name);
                writer.WritePropertyName("lo");
                WriteNumberValue(writer, m.Lo);
                writer.WritePropertyName("hi");
                WriteNumberValue(writer, m.Hi);
                if (m.Source is not null)
                {
                    writer.WriteString("source", m.Source);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteNumber("minGroupSize", schema.MinGroupSize);
            writer.WritePropertyName("epsilon");
            WriteNumberValue(writer, schema.Epsilon);
            writer.WritePropertyName("delta");
            WriteNumberValue(writer, schema.Delta);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Finite numbers as JSON numbers (shortest round-trip form); NaN and ±∞ as strings, which Parse reads back (and rejects).</summary>
    private static void WriteNumberValue(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The properties of one JSON object, matched case-insensitively against the known names.</summary>
    private sealed class Fields
    {
        private readonly Dictionary<string, JsonElement> map = new(StringComparer.OrdinalIgnoreCase);
        private readonly string path;
        private readonly SchemaProblems problems;

        public Fields(JsonElement obj, string path, string where, string[] known, SchemaProblems problems)
        {
            this.path = path;
            this.problems = problems;
            Where = where;
            foreach (var property in obj.EnumerateObject())
            {
                string? match = known.FirstOrDefault(k => string.Equals(k, property.Name, StringComparison.OrdinalIgnoreCase));
                if (match is null)
                {
                    problems.Structural(Key(property.Name), $"{where}: unknown property '{property.Name}' (expected one of {string.Join(", ", known)})");
                }
                else if (!map.TryAdd(match, property.Value))
                {
                    problems.Structural(Key(match), $"{where}: property '{match}' appears twice");
                }
            }
        }

        public string Where { get; }

        private string Key(string field) => path.Length == 0 ? field : $"{path}.{field}";

        private bool TryGet(string field, bool required, out JsonElement value)
        {
            if (map.TryGetValue(field, out value) && value.ValueKind != JsonValueKind.Null)
            {
                return true;
            }

            if (required)
            {
                problems.Structural(Key(field), $"{Where}: {field} is missing");
            }

            return false;
        }

        public string? String(string field, bool required = false)
        {
            if (!TryGet(field, required, out var value))
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.String)
            {
                problems.Structural(Key(field), $"{Where}: {field} must be a string, not {value.ValueKind}");
                return null;
            }

            return value.GetString();
        }

        public double? Number(string field, bool required = false) =>
            TryGet(field, required, out var value) ? ToNumber(value, field, field) : null;

        public int? Integer(string field)
        {
            if (!TryGet(field, false, out var value))
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result))
            {
                problems.Structural(Key(field), $"{Where}: {field} must be an integer, not {Describe(value)}");
                return null;
            }

            return result;
        }

        public JsonElement[]? Array(string field, bool required = false)
        {
            if (!TryGet(field, required, out var value))
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.Array)
            {
                problems.Structural(Key(field), $"{Where}: {field} must be an array, not {value.ValueKind}");
                return null;
            }

            return [.. value.EnumerateArray()];
        }

        public string StringItem(JsonElement item, string field, int index)
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                problems.Structural(Key(field), $"{Where}: {field}[{index}] must be a string, not {Describe(item)}");
                return "";
            }

            return item.GetString()!;
        }

        public double NumberItem(JsonElement item, string field, int index) =>
            ToNumber(item, field, $"{field}[{index}]") ?? double.NaN;

        /// <summary>
        /// A JSON number (overflow gives ±∞), or one of the strings "NaN", "Infinity", "-Infinity"; non-finite values
        /// are reported by the validator so the message is the same for schemas built in code.
        /// </summary>
        private double? ToNumber(JsonElement value, string field, string label)
        {
            if (value.ValueKind == JsonValueKind.Number)
            {
                return value.TryGetDouble(out double d)
                    ? d
                    : double.Parse(value.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture);
            }

            if (value.ValueKind == JsonValueKind.String)
            {
                string text = value.GetString()!;
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double special) && !double.IsFinite(special))
                {
                    return special;
                }
            }

            problems.Structural(Key(field), $"{Where}: {label} must be a number, not {Describe(value)}");
            return null;
        }

        private static string Describe(JsonElement value) =>
            value.ValueKind is JsonValueKind.String or JsonValueKind.Number
                ? $"{value.ValueKind} {value.GetRawText()}"
                : value.ValueKind.ToString();
    }
}
