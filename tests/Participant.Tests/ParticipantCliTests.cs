using PrivateHealth.Participant.Cli;

namespace PrivateHealth.Participant.Tests;

public sealed class ParticipantCliTests : IDisposable
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), "ph-cli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_home))
        {
            Directory.Delete(_home, recursive: true);
        }
    }

    private async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await ParticipantCli.RunAsync([.. args, "--home", _home], output, error, interactive: false);
        return (code, output.ToString(), error.ToString());
    }

    private static string Data(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    [Fact]
    public async Task ImportsAppleHealthAndFitbitFilesReportingMalformedRows()
    {
        var (code, output, _) = await Run("import", "apple-health", Data("apple_health_export.xml"));
        Assert.Equal(0, code);
        Assert.Matches(@"Imported \d+ records from apple_health_export\.xml", output);
        Assert.Contains("100%", output); // progress for non-interactive output

        (code, output, _) = await Run("import", "fitbit", Data("heart_rate-2024-01-01.json"));
        Assert.Equal(0, code);
        Assert.Contains("records from heart_rate-2024-01-01.json", output);

        (_, output, _) = await Run("status");
        Assert.Matches(@"Records stored:\s+[1-9]\d*", output);
        Assert.Matches("Payout address:  0x[0-9a-fA-F]{40}", output);
    }

    [Fact]
    public async Task ConsentIsGrantedListedAndRevoked()
    {
        Assert.Contains("nothing leaves", (await Run("consent", "list")).Output);
        Assert.Equal(0, (await Run("consent", "grant", "Training", "cohort-2026")).Code);
        Assert.Contains("Training consent: cohort-2026", (await Run("status")).Output);
        Assert.Equal(0, (await Run("consent", "revoke", "Training", "cohort-2026")).Code);
        var (_, output, _) = await Run("consent", "list");
        Assert.Contains("Grant", output);
        Assert.Contains("Revoke", output);
        Assert.Contains("Training consent: none", (await Run("status")).Output);
    }

    [Fact]
    public async Task BadInputGetsAClearErrorAndANonZeroExitCode()
    {
        var (code, _, error) = await Run("import", "apple-health", Path.Combine(_home, "missing.xml"));
        Assert.NotEqual(0, code);
        Assert.Contains("No such file", error);
        (code, _, _) = await Run("consent", "grant", "Shopping", "x");
        Assert.NotEqual(0, code);
        (code, _, error) = await Run("import", "fitbit", Data("apple_health_export.xml"));
        Assert.Equal(2, code);
        Assert.Contains("--kind", error);
    }
}
