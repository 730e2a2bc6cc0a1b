using System.Globalization;

namespace PrivateHealth.Learning.Data;

/// <summary>
/// Loader for simple numeric CSV files: one header row of column names, comma-separated numbers in the
/// invariant culture, no quoting, blank lines ignored. One named column is the label, every other column
/// is a feature (in file order). This is the only I/O in the learning core.
/// </summary>
public static class CsvDataset
{
    /// <summary>Reads the file at <paramref name="path"/> (UTF-8).</summary>
    public static Dataset Load(string path, string labelColumn)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var reader = new StreamReader(path, System.Text.Encoding.UTF8);
        return Parse(reader, labelColumn);
    }

    /// <summary>Parses CSV text from a reader; errors name the 1-based line.</summary>
    public static Dataset Parse(TextReader reader, string labelColumn)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumn);

        string? header = reader.ReadLine();
        int lineNumber = 1;
        while (header is not null && string.IsNullOrWhiteSpace(header))
        {
            header = reader.ReadLine();
            lineNumber++;
        }

        if (header is null)
        {
            throw new FormatException("The CSV input is empty.");
        }

        string[] columns = SplitLine(header, lineNumber);
        int labelIndex = Array.FindIndex(columns, c => string.Equals(c, labelColumn, StringComparison.Ordinal));
        if (labelIndex < 0)
        {
            throw new FormatException($"The header has no column named '{labelColumn}' (columns: {string.Join(", ", columns)}).");
        }

        if (columns.Length < 2)
        {
            throw new FormatException("The CSV needs at least one feature column besides the label.");
        }

        string[] featureNames = [.. columns.Where((_, i) => i != labelIndex)];
        var features = new List<double>();
        var labels = new List<double>();
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            string[] cells = SplitLine(line, lineNumber);
            if (cells.Length != columns.Length)
            {
                throw new FormatException($"Line {lineNumber} has {cells.Length} values; the header has {columns.Length} columns.");
            }

            for (int c = 0; c < cells.Length; c++)
            {
                if (!double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                {
                    throw new FormatException($"Line {lineNumber}, column '{columns[c]}': '{cells[c]}' is not a finite number.");
                }

                if (c == labelIndex)
                {
                    labels.Add(value);
                }
                else
                {
                    features.Add(value);
                }
            }
        }

        if (labels.Count == 0)
        {
            throw new FormatException("The CSV has a header but no data rows.");
        }

        return Dataset.Wrap([.. features], featureNames.Length, [.. labels], featureNames, labelColumn);
    }

    private static string[] SplitLine(string line, int lineNumber)
    {
        if (line.Contains('"', StringComparison.Ordinal))
        {
            throw new FormatException($"Line {lineNumber}: quoted CSV fields are not supported.");
        }

        string[] cells = line.Split(',');
        for (int i = 0; i < cells.Length; i++)
        {
            cells[i] = cells[i].Trim();
        }

        return cells;
    }
}
