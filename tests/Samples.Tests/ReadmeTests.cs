namespace PrivateHealth.Samples.Tests;

/// <summary>The root README must not drift from the samples: its table lists the sample folders, and its code is sample 01's.</summary>
public sealed partial class ReadmeTests
{
    private const string Sample01Source = "samples/01_CkksBasics/CkksBasicsSample.cs";

    [GeneratedRegex(@"samples/(?<folder>[A-Za-z0-9_.-]+)")]
    private static partial Regex SampleFolderReference();

    [Fact]
    public async Task ReadmeSamplesTableListsExactlyTheSampleFolders()
    {
        // Arrange
        string readme = await RepositoryFiles.ReadAsync("README.md", TestContext.Current.CancellationToken);

        // Act
        var rows = SamplesTableRows(readme);
        var listed = rows
            .Select(cells => SampleFolderReference().Match(cells[1]))
            .Select(m => m.Success ? m.Groups["folder"].Value : "(no samples/ folder in this row)")
            .ToList();

        // Assert
        Assert.Equal(RepositoryFiles.SampleFolders(), listed.Order(StringComparer.Ordinal));
        Assert.Equal(listed.Distinct(StringComparer.Ordinal).Count(), listed.Count);
    }

    [Fact]
    public async Task ReadmeCodeExampleIsCopiedFromSample01()
    {
        // Arrange
        string readme = await RepositoryFiles.ReadAsync("README.md", TestContext.Current.CancellationToken);
        string source = await RepositoryFiles.ReadAsync(Sample01Source, TestContext.Current.CancellationToken);
        var sourceLines = source.Split('\n').Select(l => l.Trim()).ToList();

        // Act
        var snippet = FirstCSharpBlock(readme).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();

        // Assert: every non-blank line of the README block appears in the sample, in the same order
        // (the README may skip sample lines, e.g. its printing, but not add or reorder any).
        Assert.True(snippet.Count >= 10, "The README's C# example is missing or too short.");
        int at = 0;
        foreach (string line in snippet)
        {
            int found = sourceLines.FindIndex(at, l => string.Equals(l, line, StringComparison.Ordinal));
            Assert.True(found >= 0, $"README line not found (in order) in {Sample01Source}: {line}");
            at = found + 1;
        }
    }

    /// <summary>Cells of each body row of the table whose header's first cell is "sample".</summary>
    private static List<string[]> SamplesTableRows(string markdown)
    {
        var lines = markdown.Split('\n').Select(l => l.Trim()).ToList();
        int header = lines.FindIndex(l => l.StartsWith('|') && string.Equals(Cells(l).FirstOrDefault(), "sample", StringComparison.OrdinalIgnoreCase));
        Assert.True(header >= 0, "README.md has no table whose first column is 'sample'.");
        return [.. lines.Skip(header + 2).TakeWhile(l => l.StartsWith('|')).Select(Cells).Where(c => c.Length >= 3)];
    }

    private static string[] Cells(string row) => [.. row.Trim('|').Split('|').Select(c => c.Trim())];

    private static List<string> FirstCSharpBlock(string markdown)
    {
        var lines = markdown.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int start = lines.FindIndex(l => l.Trim() is "```csharp" or "```cs" or "```c#");
        Assert.True(start >= 0, "README.md has no ```csharp block.");
        int end = lines.FindIndex(start + 1, l => l.Trim() == "```");
        Assert.True(end > start, "README.md's ```csharp block is not closed.");
        return lines.GetRange(start + 1, end - start - 1);
    }
}
