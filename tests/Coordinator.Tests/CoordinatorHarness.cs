using Microsoft.AspNetCore.Builder;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>An in-process coordinator on a loopback port with a throwaway data directory, plus custodian runners.</summary>
internal sealed class CoordinatorHarness : IAsyncDisposable
{
    private readonly List<(CancellationTokenSource Cts, Task Task, CustodianRunner Runner)> _custodians = [];
    private readonly bool _ownsDirectory;

    private CoordinatorHarness(string directory, bool ownsDirectory, DevelopmentTokenIssuer issuer, WebApplication app, Uri address)
    {
        Directory = directory;
        _ownsDirectory = ownsDirectory;
        Issuer = issuer;
        App = app;
        Address = address;
    }

    public string Directory { get; }
    public DevelopmentTokenIssuer Issuer { get; }
    public WebApplication App { get; }
    public Uri Address { get; }

    public static CkksParameters TrainingParameters { get; } = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);

    public static async Task<CoordinatorHarness> StartAsync(string? directory = null, IDictionary<string, string>? settings = null, CancellationToken ct = default)
    {
        bool owns = directory is null;
        directory ??= Path.Combine(Path.GetTempPath(), "ph-coord-" + Guid.NewGuid().ToString("N")[..10]);
        System.IO.Directory.CreateDirectory(directory);
        string keyPath = Path.Combine(directory, "dev-issuer.pem");
        DevelopmentTokenIssuer issuer;
        if (File.Exists(keyPath))
        {
            issuer = DevelopmentTokenIssuer.FromPem(await File.ReadAllTextAsync(keyPath, ct));
        }
        else
        {
            issuer = new DevelopmentTokenIssuer();
            await File.WriteAllTextAsync(keyPath, issuer.ExportPrivateKeyPem(), ct);
        }

        var args = new Dictionary<string, string>
        {
            ["Coordinator:DataDirectory"] = directory,
            ["Coordinator:GrpcPort"] = "0",
            ["Coordinator:HttpPort"] = "-1",
            ["Coordinator:TickInterval"] = "00:00:00.050",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            args[k] = v;
        }

        var app = CoordinatorApp.Build([.. args.Select(kv => $"--{kv.Key}={kv.Value}")], issuer);
        var address = await CoordinatorApp.StartAsync(app, ct);
        return new CoordinatorHarness(directory, owns, issuer, app, address);
    }

    public CoordinatorClient Client(string subject, string role) => new(Address, Issuer.CreateToken(subject, role));

    public CoordinatorClient Operator() => Client("operator-1", Roles.Operator);

    /// <summary>Starts custodian runners for the given parties (each with its own in-memory vault).</summary>
    /// <summary>The running custodians (for tests that act as them directly).</summary>
    public IReadOnlyList<CustodianRunner> Custodians => [.. _custodians.Select(c => c.Runner)];

    public IReadOnlyList<CustodianRunner> StartCustodians(IEnumerable<int> parties, CkksParameters? parameters = null)
    {
        var started = new List<CustodianRunner>();
        foreach (int party in parties)
        {
            var client = Client($"custodian-{party}", Roles.Custodian);
            var runner = new CustodianRunner(client, $"custodian-{party}", party, parameters ?? TrainingParameters, new InMemoryCustodianVault(), new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(500) });
            var cts = new CancellationTokenSource();
            var task = Task.Run(() => runner.RunAsync(cts.Token));
            _custodians.Add((cts, task, runner));
            started.Add(runner);
        }

        return started;
    }

    /// <summary>Takes custodians offline (their streams close) for the rest of the test.</summary>
    public async Task StopCustodiansAsync(IEnumerable<int> parties)
    {
        foreach (int party in parties)
        {
            var entry = _custodians.Single(c => c.Runner.Role.Party == party);
            await entry.Cts.CancelAsync();
            try
            {
                await entry.Task;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Runs the key ceremony with the started custodians and waits until the key set is ready.</summary>
    public async Task<string> RunCeremonyAsync(int members, int threshold, bool relinearization, int[] rotations, CancellationToken ct, string preset = "TrainingLogN12LogQP109")
    {
        using var op = Operator();
        var request = new StartKeyCeremonyRequest { Preset = preset, Members = members, Threshold = threshold, RelinearizationKey = relinearization };
        request.Rotations.AddRange(rotations);
        var status = await op.StartKeyCeremonyAsync(request, ct);
        return await WaitForCeremonyAsync(op, status.KeySetId, ct);
    }

    public static async Task<string> WaitForCeremonyAsync(CoordinatorClient op, string keySetId, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (true)
        {
            var s = await op.GetKeyCeremonyAsync(keySetId, ct);
            if (s.State == "ready")
            {
                return keySetId;
            }

            if (s.State == "failed" || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"ceremony {s.State}: {s.Phase} {s.Message}");
            }

            await Task.Delay(50, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (cts, task, runner) in _custodians)
        {
            await cts.CancelAsync();
            try
            {
                await task;
            }
            catch (OperationCanceledException)
            {
            }

            runner.Dispose();
            cts.Dispose();
        }

        await App.StopAsync();
        await App.DisposeAsync();
        Issuer.Dispose();
        if (_ownsDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
