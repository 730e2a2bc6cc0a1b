using Spectre.Console;

namespace PrivateHealth.Demo.Tests;

/// <summary>
/// The demo's whole flow in process on a small configuration (40 participants, 3 training rounds): local hardhat chain,
/// key ceremonies, enrollment with consents on chain, contributions, a paid query decrypted by the researcher CLI, a paid
/// training job through the REST API with two custodians offline for a round, settlement; every check of the summary passes.
/// </summary>
public sealed class DemoFlowTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TheSmallDemoRunsEndToEndAndEveryCheckPasses()
    {
        var log = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(log),
        });
        console.Profile.Width = 160;
        var options = new DemoOptions { Participants = 40, Rounds = 3, MinAccuracy = 0.9, Seed = 42 };

        var report = await new DemoRunner(options, console).RunAsync(TestContext.Current.CancellationToken);
        output.WriteLine(log.ToString());

        Assert.True(report.Passed, string.Join(Environment.NewLine, report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}")));
        Assert.Equal(7, report.Phases.Count);
        Assert.Equal(3, report.Rounds.Count);
        Assert.Contains(report.Rounds, r => r.CustodiansOnline == 3); // two of the five custodians were offline for a round
        Assert.True(report.FinalAccuracy >= 0.9, $"accuracy {report.FinalAccuracy:P2}");
        Assert.NotEmpty(report.Query);
        Assert.Contains(report.Query, q => q.Released is not null);
        Assert.Contains(report.Gas, g => g.Step == "finalize" && g.Job == "training");
        Assert.Equal(40, report.Earners.Count);
        Assert.True(report.Earners[0].Ether > report.Earners[^1].Ether); // training-only participants earn less
        Assert.Contains("decrypted", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("Summary", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheWearableSeriesFollowTheLabelAndTheSeed()
    {
        var (heartA, stepsA) = DemoData.Wearables(42, 7, "0");
        var (heartB, _) = DemoData.Wearables(42, 7, "0");
        Assert.Equal(heartA, heartB);
        Assert.Equal(DemoData.Days, heartA.Length);
        Assert.All(stepsA, s => Assert.InRange(s, 300, 24_000));

        // over many people the malignant group has the higher resting heart rate and fewer steps
        double Mean(string label, bool heart) => Enumerable.Range(0, 200).Average(k =>
        {
            var (h, s) = DemoData.Wearables(1, k, label);
            return heart ? h.Average() : s.Average();
        });
        Assert.True(Mean("0", heart: true) > Mean("1", heart: true) + 4);
        Assert.True(Mean("0", heart: false) < Mean("1", heart: false) - 1_000);
    }
}
