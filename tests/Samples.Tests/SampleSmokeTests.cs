using PrivateHealth.Samples.CkksBasics;
using PrivateHealth.Samples.LevelsAndRescale;
using PrivateHealth.Samples.Rotations;
using PrivateHealth.Samples.Serialization;
using PrivateHealth.Samples.ThresholdKeyCeremony;

namespace PrivateHealth.Samples.Tests;

/// <summary>
/// Runs every sample on its small (insecure, fast) parameters, so that the samples cannot go stale: a sample
/// that throws, stops printing its results, or loses precision fails here.
/// </summary>
public sealed partial class SampleSmokeTests
{
    /// <summary>Least precision any printed result may have on the small parameters (the samples show 20+ bits).</summary>
    private const double MinimumPrecisionBits = 15;

    private sealed record SampleCase(Action<TextWriter, bool> Run, string[] Markers);

    /// <summary>Every sample folder, how to run it, and text its output must contain.</summary>
    private static readonly Dictionary<string, SampleCase> Samples = new(StringComparer.Ordinal)
    {
        ["01_CkksBasics"] = new(CkksBasicsSample.Run, ["mean heart rate", "rate–pressure product"]),
        ["02_LevelsAndRescale"] = new(LevelsAndRescaleSample.Run,
            ["OperandMismatchException: Operands are at different levels", "OperandMismatchException: Operands have different scales", "Cannot rescale at level 0", "factored"]),
        ["03_Rotations"] = new(RotationsSample.Run, ["No Galois key for rotation by 3", "diastolic", "InnerSum"]),
        ["04_Serialization"] = new(SerializationSample.Run, ["DigestMismatch", "Truncated", "WrongKind", "ParametersMismatch", "same as the key holder's: True"]),
        ["05_ThresholdKeyCeremony"] = new(ThresholdKeyCeremonySample.Run,
            ["Phase 9", "λ_1 = 15/8, λ_3 = −5/4, λ_5 = 3/8", "ShareRejectedException: Party 3 already sent a share", "the Combiner refuses", "noise, nothing learned", "decrypted by the researcher"]),
    };

    public static TheoryData<string> SampleNames => [.. Samples.Keys.Order(StringComparer.Ordinal)];

    [GeneratedRegex(@"precision: (?<bits>[0-9.]+) bits")]
    private static partial Regex PrecisionLine();

    [Theory]
    [MemberData(nameof(SampleNames))]
    public void SampleRunsOnSmallParametersAndPrintsItsResults(string folder)
    {
        // Arrange
        var sample = Samples[folder];
        using var writer = new StringWriter(CultureInfo.InvariantCulture);

        // Act
        sample.Run(writer, true);
        string output = writer.ToString();

        // Assert
        Assert.Contains("small, insecure test parameters", output, StringComparison.Ordinal);
        Assert.Contains("Done", output, StringComparison.Ordinal);
        Assert.All(sample.Markers, marker => Assert.Contains(marker, output, StringComparison.Ordinal));
        var precisions = PrecisionLine().Matches(output).Select(m => double.Parse(m.Groups["bits"].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(precisions);
        Assert.All(precisions, bits => Assert.True(bits >= MinimumPrecisionBits, $"a result of {folder} has {bits} bits of precision:\n{output}"));
    }

    [Fact]
    public void EverySampleFolderHasASmokeTest()
    {
        // Arrange
        var folders = RepositoryFiles.SampleFolders();

        // Act
        var tested = Samples.Keys.Order(StringComparer.Ordinal).ToList();

        // Assert
        Assert.Equal(folders, tested);
    }
}
