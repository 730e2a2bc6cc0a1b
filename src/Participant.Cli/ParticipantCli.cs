using System.CommandLine;
using System.Globalization;
using PrivateHealth.Participant.Agent;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Data;
using Spectre.Console;

namespace PrivateHealth.Participant.Cli;

/// <summary>
/// <c>privatehealth participant …</c>: import health data into the agent's encrypted store, manage consent, show
/// status. The agent's home is <c>--home</c>, else $PRIVATEHEALTH_HOME, else ~/.privatehealth/participant.
/// </summary>
public static class ParticipantCli
{
    private const int BatchSize = 4096;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, bool interactive)
    {
        var home = new Option<string>("--home")
        {
            Description = "The agent's home directory (encrypted stores, key file).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("PRIVATEHEALTH_HOME")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".privatehealth", "participant"),
            Recursive = true,
        };
        var root = new RootCommand("PrivateHealth participant agent: your health data stays on this device, encrypted; only encrypted contributions you consent to leave it.");
        root.Options.Add(home);
        root.Subcommands.Add(ImportCommand(home, output, error, interactive));
        root.Subcommands.Add(ConsentCommand(home, output, error));
        root.Subcommands.Add(StatusCommand(home, output));
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { Output = output, Error = error };
        return await parse.InvokeAsync(config).ConfigureAwait(false);
    }

    // ------------------------------------------------------------------ import

    private static Command ImportCommand(Option<string> home, TextWriter output, TextWriter error, bool interactive)
    {
        var import = new Command("import", "Import health data into the encrypted local store (streaming; malformed rows are reported and skipped).");

        var csvFile = new Argument<FileInfo>("file") { Description = "CSV file with a header row." };
        var timestamp = new Option<string>("--timestamp") { Description = "Timestamp column (name).", Required = true };
        var metrics = new Option<string[]>("--metric")
        {
            Description = "Column mapping COLUMN=METRIC:UNIT, repeatable (e.g. --metric hr=heart_rate:count/min).",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var delimiter = new Option<char>("--delimiter") { Description = "Field delimiter.", DefaultValueFactory = _ => ',' };
        var csv = new Command("csv", "A generic CSV with a column mapping.") { csvFile, timestamp, metrics, delimiter };
        csv.SetAction((parse, ct) =>
        {
            var mapped = parse.GetValue(metrics)!.Select(ParseMetric).ToList();
            var options = new CsvImportOptions
            {
                TimestampColumn = CsvColumn.Named(parse.GetValue(timestamp)!),
                Metrics = mapped,
                Delimiter = parse.GetValue(delimiter),
            };
            return ImportAsync(parse.GetValue(home)!, parse.GetValue(csvFile)!, new CsvHealthRecordImporter(options), output, error, interactive, ct);
        });

        var appleFile = new Argument<FileInfo>("export") { Description = "Apple Health export.xml." };
        var apple = new Command("apple-health", "Apple Health export.xml: heart rate, steps, resting heart rate, sleep, body mass.") { appleFile };
        apple.SetAction((parse, ct) => ImportAsync(parse.GetValue(home)!, parse.GetValue(appleFile)!, new AppleHealthImporter(), output, error, interactive, ct));

        var fitbitFile = new Argument<FileInfo>("file") { Description = "Fitbit JSON export file (heart_rate-*.json or steps-*.json)." };
        var kind = new Option<FitbitDataKind?>("--kind") { Description = "HeartRate or Steps; guessed from the file name when omitted." };
        var fitbit = new Command("fitbit", "Fitbit-style JSON export (heart rate, steps).") { fitbitFile, kind };
        fitbit.SetAction((parse, ct) =>
        {
            var file = parse.GetValue(fitbitFile)!;
            var k = parse.GetValue(kind) ?? FitbitJsonImporter.KindFromFileName(file.Name);
            if (k is null)
            {
                error.WriteLine($"Cannot tell heart rate from steps by the name '{file.Name}'; pass --kind HeartRate or --kind Steps.");
                return Task.FromResult(2);
            }

            return ImportAsync(parse.GetValue(home)!, file, new FitbitJsonImporter(k.Value), output, error, interactive, ct);
        });

        import.Subcommands.Add(csv);
        import.Subcommands.Add(apple);
        import.Subcommands.Add(fitbit);
        return import;
    }

    private static CsvMetricColumn ParseMetric(string spec)
    {
        // COLUMN=METRIC:UNIT
        int eq = spec.IndexOf('=', StringComparison.Ordinal);
        int colon = spec.LastIndexOf(':');
        if (eq <= 0 || colon <= eq + 1 || colon == spec.Length - 1)
        {
            throw new ArgumentException($"'{spec}' is not COLUMN=METRIC:UNIT.");
        }

        return new CsvMetricColumn(CsvColumn.Named(spec[..eq]), spec[(colon + 1)..], spec[(eq + 1)..colon]);
    }

    private static async Task<int> ImportAsync(string home, FileInfo file, IHealthRecordImporter importer, TextWriter output, TextWriter error, bool interactive, CancellationToken ct)
    {
        if (!file.Exists)
        {
            await error.WriteLineAsync($"No such file: {file.FullName}").ConfigureAwait(false);
            return 2;
        }

        using var agent = ParticipantAgent.Open(home);
        var report = new ImportReport();
        long stored = 0;

        async Task Run(IProgress<ImportProgress>? progress)
        {
            await using var stream = file.OpenRead();
            var batch = new List<HealthRecord>(BatchSize);
            foreach (var record in importer.Read(stream, report, progress, ct))
            {
                batch.Add(record);
                if (batch.Count == BatchSize)
                {
                    stored += await agent.Records.AppendAsync(batch, ct).ConfigureAwait(false);
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                stored += await agent.Records.AppendAsync(batch, ct).ConfigureAwait(false);
            }
        }

        if (interactive)
        {
            await AnsiConsole.Progress().AutoClear(false).Columns(
                    new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask($"Importing {file.Name}", maxValue: Math.Max(1, file.Length));
                    await Run(new Progress<ImportProgress>(p => task.Value = p.BytesRead)).ConfigureAwait(false);
                    task.Value = task.MaxValue;
                }).ConfigureAwait(false);
        }
        else
        {
            long lastPercent = -1;
            await Run(new SynchronousProgress(p =>
            {
                long percent = p.Fraction is { } f ? (long)(f * 100) : -1;
                if (percent >= 0 && percent / 10 != lastPercent / 10)
                {
                    lastPercent = percent;
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {percent,3}%  {p.RecordsImported} records"));
                }
            })).ConfigureAwait(false);
        }

        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Imported {stored} records from {file.Name} in {report.Elapsed.TotalSeconds:0.0} s; {report.IssueCount} malformed rows skipped.")).ConfigureAwait(false);
        foreach (var issue in report.Issues.Take(20))
        {
            await output.WriteLineAsync($"  {issue}").ConfigureAwait(false);
        }

        if (report.IssueCount > 20)
        {
            await output.WriteLineAsync($"  … and {report.IssueCount - 20} more").ConfigureAwait(false);
        }

        return report.StoppedBy is null ? 0 : 1;
    }

    private sealed class SynchronousProgress(Action<ImportProgress> handler) : IProgress<ImportProgress>
    {
        public void Report(ImportProgress value) => handler(value);
    }

    // ------------------------------------------------------------------ consent

    private static Command ConsentCommand(Option<string> home, TextWriter output, TextWriter error)
    {
        var consent = new Command("consent", "Grant, revoke or list consent per purpose (Analytics, Training) and cohort.");
        var purpose = new Argument<ConsentPurpose>("purpose") { Description = "Analytics or Training." };
        var cohort = new Argument<string>("cohort") { Description = "Cohort id." };

        var grant = new Command("grant", "Allow encrypted contributions for a purpose in a cohort.") { purpose, cohort };
        grant.SetAction(parse =>
        {
            using var agent = ParticipantAgent.Open(parse.GetValue(home)!);
            var e = agent.Consent.Grant(parse.GetValue(purpose), parse.GetValue(cohort)!);
            output.WriteLine($"Granted {e.Purpose} for cohort '{e.CohortId}' at {e.At:u}.");
            return 0;
        });
        var revoke = new Command("revoke", "Withdraw consent; every later job is refused.") { purpose, cohort };
        revoke.SetAction(parse =>
        {
            using var agent = ParticipantAgent.Open(parse.GetValue(home)!);
            var e = agent.Consent.Revoke(parse.GetValue(purpose), parse.GetValue(cohort)!);
            output.WriteLine($"Revoked {e.Purpose} for cohort '{e.CohortId}' at {e.At:u}.");
            return 0;
        });
        var list = new Command("list", "The consent history (audit trail).");
        list.SetAction(parse =>
        {
            using var agent = ParticipantAgent.Open(parse.GetValue(home)!);
            if (agent.Consent.History.Count == 0)
            {
                output.WriteLine("No consent recorded: nothing leaves this device.");
            }

            foreach (var e in agent.Consent.History)
            {
                output.WriteLine($"{e.At:u}  {e.Action,-7} {e.Purpose,-9} {e.CohortId}");
            }

            return 0;
        });
        consent.Subcommands.Add(grant);
        consent.Subcommands.Add(revoke);
        consent.Subcommands.Add(list);
        _ = error;
        return consent;
    }

    // ------------------------------------------------------------------ status

    private static Command StatusCommand(Option<string> home, TextWriter output)
    {
        var status = new Command("status", "What the agent holds: records, consents, payout address.");
        status.SetAction(parse =>
        {
            string dir = parse.GetValue(home)!;
            using var agent = ParticipantAgent.Open(dir);
            output.WriteLine($"Home:            {dir}");
            output.WriteLine($"Records stored:  {agent.Records.RecordCount} (encrypted at rest, AES-256-GCM)");
            output.WriteLine($"Payout address:  {agent.ChainKey.AddressHex}");
            foreach (var purpose in Enum.GetValues<ConsentPurpose>())
            {
                var cohorts = agent.Consent.GrantedCohorts(purpose);
                output.WriteLine($"{purpose} consent: {(cohorts.Count == 0 ? "none" : string.Join(", ", cohorts))}");
            }

            return 0;
        });
        return status;
    }
}
