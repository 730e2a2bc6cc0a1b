using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace PrivateHealth.Demo;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var participants = new Option<int>("--participants") { Description = "Simulated participants (2 to 455: each holds at least one training record).", DefaultValueFactory = _ => 200 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of federated training.", DefaultValueFactory = _ => 20 };
        var keepRunning = new Option<bool>("--keep-running") { Description = "After the summary, leave the coordinator (REST API, dashboard) and the chain up until Ctrl+C and print their URLs and an operator token." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Working directory (default: a fresh temp directory, removed at the end)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the split, the partition, the wearable series and local training.", DefaultValueFactory = _ => 42 };
        var minAccuracy = new Option<double>("--min-accuracy") { Description = "Final test accuracy the check requires.", DefaultValueFactory = _ => 0.97 };
        var epochs = new Option<int>("--local-epochs") { Description = "Local epochs per round.", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch-size") { Description = "Local batch size.", DefaultValueFactory = _ => 16 };
        var rate = new Option<double>("--learning-rate") { Description = "Local learning rate.", DefaultValueFactory = _ => 1.0 };
        var epsilon = new Option<double>("--epsilon") { Description = "Privacy budget ε the researcher's query spends (the cohort has 50).", DefaultValueFactory = _ => 20 };
        var root = new RootCommand("PrivateHealth end to end: key ceremony, enrollment with consents on chain, encrypted contributions, a paid encrypted query, paid federated training, settlement and payouts.")
        {
            participants, rounds, keepRunning, dataDir, seed, minAccuracy, epochs, batch, rate, epsilon,
        };
        root.SetAction(async (parse, ct) =>
        {
            var options = new DemoOptions
            {
                Participants = parse.GetValue(participants),
                Rounds = parse.GetValue(rounds),
                KeepRunning = parse.GetValue(keepRunning),
                DataDirectory = parse.GetValue(dataDir) is { Length: > 0 } d ? Path.GetFullPath(d) : null,
                Seed = parse.GetValue(seed),
                MinAccuracy = parse.GetValue(minAccuracy),
                LocalEpochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batch),
                LearningRate = parse.GetValue(rate),
                QueryEpsilon = parse.GetValue(epsilon),
            };
            if (options.Rounds < 1 || options.Participants < 2)
            {
                await Console.Error.WriteLineAsync("--rounds must be at least 1 and --participants at least 2.");
                return 2;
            }

            if (Console.IsOutputRedirected)
            {
                AnsiConsole.Profile.Width = 150; // a log or a pipe: wide tables rather than wrapped lines
            }

            var report = await new DemoRunner(options, AnsiConsole.Console).RunAsync(ct);
            AnsiConsole.MarkupLine(report.Passed
                ? $"[green bold]All {report.Checks.Count} checks passed[/] in {report.Total.TotalMinutes.ToString("F1", CultureInfo.InvariantCulture)} min."
                : $"[red bold]{report.Checks.Count(c => !c.Passed)} of {report.Checks.Count} checks failed.[/]");
            return report.Passed ? 0 : 1;
        });
        return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
    }
}
