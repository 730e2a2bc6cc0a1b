namespace PrivateHealth.Samples.Tests;

/// <summary>Finds the checkout the tests were built from, so that they can read README.md and the samples' sources.</summary>
internal static class RepositoryFiles
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    /// <summary>The directory holding PrivateHealth.sln, searched upwards from the test assembly.</summary>
    public static string Root => RootPath.Value;

    public static string SamplesDirectory => Path.Combine(Root, "samples");

    /// <summary>Names of the folders under samples/ (each one is a sample project).</summary>
    public static IReadOnlyList<string> SampleFolders() =>
        [.. Directory.GetDirectories(SamplesDirectory)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => !name.StartsWith('.'))
            .Order(StringComparer.Ordinal)];

    public static Task<string> ReadAsync(string relativePath, CancellationToken cancellationToken) =>
        File.ReadAllTextAsync(Path.Combine(Root, relativePath), cancellationToken);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrivateHealth.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"PrivateHealth.sln not found above {AppContext.BaseDirectory}.");
    }
}
