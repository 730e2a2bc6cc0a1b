using System.Globalization;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Tests.Schema;

/// <summary>The breast-cancer file and a cohort schema over it, for the schema, encoding and statistics tests.</summary>
internal static class EncodingTestData
{
    public const double RadiusLo = 6.981;
    public const double RadiusHi = 28.11;

    /// <summary>The breast-cancer file: $PRIVATEHEALTH_DATA_DIR, else shared/data found walking up from the binaries.</summary>
    public static string BreastCancerPath()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("PRIVATEHEALTH_DATA_DIR");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Path.Combine(fromEnvironment, "breast_cancer.csv");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "data", "breast_cancer.csv");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("breast_cancer.csv not found; set PRIVATEHEALTH_DATA_DIR.");
    }

    /// <summary>Each row as a device record: numeric columns as doubles, "target" as its text ("0"/"1").</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, object>> Rows()
    {
        string[] lines = File.ReadAllLines(BreastCancerPath());
        string[] header = lines[0].Split(',');
        var rows = new List<IReadOnlyDictionary<string, object>>();
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            string[] cells = line.Split(',');
            var row = new Dictionary<string, object>(StringComparer.Ordinal);
            for (int i = 0; i < header.Length; i++)
            {
                row[header[i]] = header[i] == "target" ? cells[i] : double.Parse(cells[i], CultureInfo.InvariantCulture);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>11 evenly spaced edges from 6.981 to 28.11 (the last exactly 28.11).</summary>
    public static double[] RadiusEdges() =>
        [.. Enumerable.Range(0, 11).Select(i => i == 10 ? RadiusHi : RadiusLo + (i * (RadiusHi - RadiusLo) / 10))];

    public static readonly string[] MeasureNames = ["mean_radius", "mean_texture", "mean_area", "mean_smoothness"];

    /// <summary>label (target: "0" malignant, "1" benign) × 10 radius bins, four measures bounded by the data's min/max.</summary>
    public static string BreastCancerSchemaJson() =>
        $$"""
        {
          "version": 1,
          "id": "breast-cancer",
          "description": "Wisconsin diagnostic breast cancer, one person per row",
          "dimensions": [
            { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" },
            { "name": "radius_bin", "kind": "numeric", "edges": [{{string.Join(", ", RadiusEdges().Select(e => e.ToString("R", CultureInfo.InvariantCulture)))}}], "source": "mean_radius" }
          ],
          "measures": [
            { "name": "mean_radius", "lo": 6.981, "hi": 28.11 },
            { "name": "mean_texture", "lo": 9.71, "hi": 39.28 },
            { "name": "mean_area", "lo": 143.5, "hi": 2501 },
            { "name": "mean_smoothness", "lo": 0.05263, "hi": 0.1634 }
          ],
          "minGroupSize": 10,
          "epsilon": 5,
          "delta": 1e-6
        }
        """;

    public static CohortSchema BreastCancerSchema() => CohortSchema.Parse(BreastCancerSchemaJson());
}
