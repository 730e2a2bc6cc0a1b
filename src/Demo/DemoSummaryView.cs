using System.Globalization;
using Spectre.Console;

namespace PrivateHealth.Demo;

/// <summary>Renders the demo's summary: query vs plaintext, accuracy per round, bytes, phase times, gas, earnings and checks.</summary>
internal static class DemoSummaryView
{
    private static readonly char[] Bars = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

    public static void Render(IAnsiConsole console, DemoReport r)
    {
        console.WriteLine();
        console.Write(new Rule("[bold]Summary[/]").LeftJustified());

        var query = new Table().Border(TableBorder.Rounded)
            .Title($"Encrypted query (ε = {F(r.QueryEpsilon, "G3")}; noise σ = {F(r.StatisticsSigma, "F3")} per normalized slot, counts σ = {F(r.CountSigma, "F3")} for suppression; {r.SuppressedGroups} cells suppressed)")
            .AddColumn("group").AddColumn("statistic").AddColumn(new TableColumn("released (decrypted by the researcher)").RightAligned())
            .AddColumn(new TableColumn("plaintext").RightAligned()).AddColumn(new TableColumn("allowed ± (4.5σ)").RightAligned()).AddColumn("within noise");
        foreach (var q in r.Query)
        {
            query.AddRow(
                Markup.Escape(q.Group),
                Markup.Escape(q.Item),
                q.Released is { } v ? F(v, "F2") : "[grey]" + Markup.Escape(q.Note) + "[/]",
                F(q.Truth, "F2"),
                q.Released is null ? "" : F(q.Tolerance, "F2"),
                q.Passed ? "[green]yes[/]" : "[red]NO[/]");
        }

        console.Write(query);
        console.MarkupLine($"[grey]{Markup.Escape(r.QueryText)}[/]");

        if (r.Rounds.Count > 0)
        {
            string spark = new([.. r.Rounds.Select(x => Bars[Math.Clamp((int)Math.Round((x.Accuracy - 0.5) / 0.5 * (Bars.Length - 1)), 0, Bars.Length - 1)])]);
            var rounds = new Table().Border(TableBorder.Rounded).Title("Federated training: test accuracy of the global model after each round")
                .AddColumn("round").AddColumn(new TableColumn("accuracy").RightAligned()).AddColumn("custodians online");
            foreach (var x in r.Rounds)
            {
                rounds.AddRow((x.Round + 1).ToString(CultureInfo.InvariantCulture), F(x.Accuracy * 100, "F2") + " %", x.CustodiansOnline.ToString(CultureInfo.InvariantCulture));
            }

            console.Write(rounds);
            console.MarkupLine($"accuracy per round {spark}  final [bold]{F(r.FinalAccuracy * 100, "F2")} %[/] (required ≥ {F(r.MinAccuracy * 100, "F0")} %; plaintext FedAvg {F(r.PlaintextAccuracy * 100, "F2")} %, relative difference {r.RelativeDifference.ToString("E2", CultureInfo.InvariantCulture)}); {Markup.Escape(r.OfflineCustodians)}");
        }

        var traffic = new Table().Border(TableBorder.Rounded).Title("Uploads").AddColumn("what").AddColumn(new TableColumn("bytes").RightAligned()).AddColumn(new TableColumn("per upload").RightAligned());
        traffic.AddRow($"analytics contributions ({r.Contributors})", Bytes(r.AnalyticsBytes), Bytes(r.Contributors == 0 ? 0 : r.AnalyticsBytes / r.Contributors));
        traffic.AddRow($"training updates ({r.TrainingUploads})", Bytes(r.TrainingBytes), Bytes(r.TrainingUploads == 0 ? 0 : r.TrainingBytes / r.TrainingUploads));
        console.Write(traffic);

        var phases = new Table().Border(TableBorder.Rounded).Title("Time per phase").AddColumn("phase").AddColumn(new TableColumn("seconds").RightAligned()).AddColumn("what");
        foreach (var p in r.Phases)
        {
            phases.AddRow(Markup.Escape(p.Name), F(p.Duration.TotalSeconds, "F1"), Markup.Escape(p.Detail));
        }

        phases.AddRow("[bold]total[/]", "[bold]" + F(r.Total.TotalSeconds, "F1") + "[/]", "");
        console.Write(phases);

        var gas = new Table().Border(TableBorder.Rounded).Title("Gas per settlement step (from the receipts)").AddColumn("job").AddColumn("step").AddColumn(new TableColumn("gas").RightAligned()).AddColumn("transaction");
        foreach (var g in r.Gas)
        {
            gas.AddRow(g.Job, g.Step, g.Gas.ToString("N0", CultureInfo.InvariantCulture), Markup.Escape(Short(g.Transaction)));
        }

        console.Write(gas);

        if (r.Earners.Count > 0)
        {
            var earners = new Table().Border(TableBorder.Rounded)
                .Title($"Earnings (query {F((double)r.QueryPriceEther, "G6")} ETH + training {F((double)r.TrainingPriceEther, "G6")} ETH paid; {F((double)r.FeesEther, "G6")} ETH fees; split by contribution)")
                .AddColumn("").AddColumn("participant").AddColumn("payout address").AddColumn(new TableColumn("ETH").RightAligned()).AddColumn(new TableColumn("query / training rounds").RightAligned());
            foreach (var (e, tag) in r.Earners.Take(3).Select(e => (e, "top")).Concat(r.Earners.TakeLast(3).Select(e => (e, "bottom"))).DistinctBy(x => x.e.ParticipantId))
            {
                earners.AddRow(tag, e.ParticipantId, Short(e.Address), e.Ether.ToString("0.000000", CultureInfo.InvariantCulture), $"{e.QueryWeight} / {e.TrainingWeight}");
            }

            console.Write(earners);
        }

        var checks = new Table().Border(TableBorder.Rounded).Title("Checks").AddColumn("").AddColumn("check").AddColumn("detail");
        foreach (var c in r.Checks)
        {
            checks.AddRow(c.Passed ? "[green]pass[/]" : "[red]FAIL[/]", Markup.Escape(c.Name), Markup.Escape(c.Detail));
        }

        console.Write(checks);
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private static string Bytes(long bytes) => bytes >= 1 << 20 ? F(bytes / 1048576.0, "F1") + " MiB" : F(bytes / 1024.0, "F1") + " KiB";

    private static string Short(string hash) => hash.StartsWith("0x", StringComparison.Ordinal) && hash.Length > 18 ? hash[..10] + "…" + hash[^6..] : hash;
}
