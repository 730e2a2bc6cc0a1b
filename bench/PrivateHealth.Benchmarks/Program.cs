using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// Entry point: <c>dotnet run -c Release --project bench/PrivateHealth.Benchmarks -- --filter '*Ntt*' [--quick]</c>.
/// <para>
/// BenchmarkDotNet 0.14 predates .NET 10, so its default out-of-process toolchain (which generates and
/// builds a separate project per run) is not used: benchmarks run in this process via
/// <see cref="InProcessEmitToolchain"/>. Any other BenchmarkDotNet command-line option is passed through.
/// </para>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Contains("--scaleout", StringComparer.Ordinal))
        {
            // not a BenchmarkDotNet suite: one timed round per node count (see ScaleOutIngest)
            return ScaleOutIngest.RunAsync(args).GetAwaiter().GetResult();
        }

        if (args.Contains("--failover", StringComparer.Ordinal))
        {
            // not a BenchmarkDotNet suite: SIGKILLed lease holders, timed per lease TTL (see FailoverTimings)
            return FailoverTimings.RunAsync(args).GetAwaiter().GetResult();
        }

        bool quick = args.Contains("--quick", StringComparer.Ordinal);
        string[] rest = [.. args.Where(a => !string.Equals(a, "--quick", StringComparison.Ordinal))];

        Job job = quick
            // a short sanity run: numbers are indicative only
            ? Job.Default.WithId("Quick").WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3)
            // default: a 2-core, noisy CI-class box: a few warmups, enough iterations for a stable median
            : Job.Default.WithId("Steady").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10);

        IConfig config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance).AsDefault())
            .AddDiagnoser(MemoryDiagnoser.Default)
            // medians are what bench/RESULTS.md compares with SEAL; the JSON report feeds bench/compare-seal.py
            .AddColumn(StatisticColumn.Median)
            .AddExporter(JsonExporter.Full)
            .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
