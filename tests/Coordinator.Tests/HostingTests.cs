using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Networking;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>Options validation, configuration file, health endpoint and metrics of the coordinator host.</summary>
public sealed class HostingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("Coordinator:GrpcPort", "70000", "GrpcPort must be in [0, 65535].")]
    [InlineData("Coordinator:ListenAddress", "localhost-ish", "is not an IP address")]
    [InlineData("Coordinator:MaxUploadBytes", "10", "MaxUploadBytes must be in")]
    [InlineData("Coordinator:CustodianTimeout", "00:00:00.1", "CustodianTimeout must be at least 1 s.")]
    [InlineData("Coordinator:DevelopmentIssuer", "false", "Authority and Audience are required")]
    [InlineData("Coordinator:LeaseTtl", "00:00:00.5", "LeaseTtl must be in [1 s, 10 min].")]
    [InlineData("Coordinator:PresenceTtl", "00:00:01", "PresenceTtl must be at least twice PresenceInterval")]
    [InlineData("Coordinator:NodeId", " ", "NodeId must be 1 to 200 characters.")]
    public void InvalidSettingsStopStartUpWithTheReason(string key, string value, string expected)
    {
        var ex = Assert.Throws<OptionsValidationException>(() => CoordinatorApp.Build([$"--{key}={value}", "--Coordinator:DataDirectory=" + Path.GetTempPath()]));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodesStartingTogetherOnOneMissingIssuerKeyFileAllUseTheSameKey()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ph-issuer-" + Guid.NewGuid().ToString("N"));
        string path = Path.Combine(dir, "shared", "dev-issuer.pem");
        try
        {
            var issuers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => CoordinatorApp.LoadOrCreateIssuer(path), Ct)));
            string pem = await File.ReadAllTextAsync(path, Ct);
            Assert.All(issuers, i => Assert.Equal(pem, i.ExportPrivateKeyPem()));
            Assert.Equal(["dev-issuer.pem"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
            foreach (var i in issuers)
            {
                i.Dispose();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AMissingConfigFileIsAnError()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => CoordinatorApp.Build(["--config", "/nonexistent/coordinator.json"]));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigFileSettingsApplyAndTheCommandLineOverridesThem()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ph-cfg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "coordinator.json");
        await File.WriteAllTextAsync(file, $$"""{ "Coordinator": { "DataDirectory": "{{dir.Replace("\\", "\\\\", StringComparison.Ordinal)}}", "MaxUploadBytes": 8388608, "GrpcPort": 0, "HttpPort": -1 } }""", Ct);
        await using var app = CoordinatorApp.Build(["--config", file, "--Coordinator:MaxUploadBytes=9437184"]);
        var options = app.Services.GetService(typeof(IOptions<CoordinatorOptions>)) as IOptions<CoordinatorOptions>;
        Assert.Equal((dir, 9437184), (options!.Value.DataDirectory, options.Value.MaxUploadBytes));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task TheSingleNodeExampleConfigurationIsValidAsShipped()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ph-example-" + Guid.NewGuid().ToString("N")[..8]);
        await using var app = CoordinatorApp.Build(["--config", ExampleConfig("coordinator.json"), $"--Coordinator:DataDirectory={dir}"]);
        var options = ((IOptions<CoordinatorOptions>)app.Services.GetService(typeof(IOptions<CoordinatorOptions>))!).Value;
        Assert.Equal(("sqlite", 5070, 5071, false), (options.StoreProvider, options.GrpcPort, options.HttpPort, options.Chain.Enabled));
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TheClusterExampleConfigurationNeedsOnlyItsSecretsAndItsFiles()
    {
        // the file holds no secret and names files of a real deployment: validation lists exactly those, nothing else
        var ex = Assert.Throws<OptionsValidationException>(() => CoordinatorApp.Build(["--config", ExampleConfig("coordinator.cluster.json")]));
        Assert.Equal(
            [
                "Chain:DeploymentPath '/etc/privatehealth/deployment.json' does not exist.",
                "Chain:BuildDirectory '/opt/privatehealth/contracts/build' does not exist.",
                "Chain:OperatorKey is required.",
                "TlsCertificatePath '/etc/privatehealth/coordinator.pfx' does not exist.",
            ],
            ex.Failures);
    }

    private static string ExampleConfig(string name) => Path.Combine(PrivateHealth.Ethereum.Testing.HardhatNode.RepoRoot, "config", name);

    [Fact]
    public async Task HealthEndpointAnswersOverHttp1AndMetricsCountUploads()
    {
        int httpPort = LoopbackPort.Free();
        var measurements = new List<(Meter Meter, string Name, long Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == CoordinatorMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            lock (measurements)
            {
                measurements.Add((instrument.Meter, instrument.Name, value));
            }
        });
        listener.Start();

        await using var harness = await CoordinatorHarness.StartAsync(settings: new Dictionary<string, string> { ["Coordinator:HttpPort"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ct: Ct);
        using var http = new HttpClient();
        var response = await http.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/healthz"), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(Ct));

        harness.StartCustodians([1, 2]);
        string keySet = await harness.RunCeremonyAsync(2, 2, relinearization: false, rotations: [], Ct);
        var (clients, _, features) = TestData.BreastCancer(2);
        using var op = harness.Operator();
        var job = await op.CreateTrainingJobAsync(new Protocol.V1.CreateTrainingJobRequest { Spec = FederatedTrainingEndToEndTests.Spec(features, 2, 2), KeySetId = keySet }, Ct);
        await FederatedTrainingEndToEndTests.RunAgentsAsync(harness, job.JobId, clients, Ct);
        listener.RecordObservableInstruments();
        var meter = ((CoordinatorMetrics)harness.App.Services.GetService(typeof(CoordinatorMetrics))!).Meter;
        lock (measurements)
        {
            measurements.RemoveAll(m => !ReferenceEquals(m.Meter, meter)); // other tests' coordinators run in parallel
            Assert.Equal(4, measurements.Where(m => m.Name == "privatehealth.uploads.accepted").Sum(m => m.Value));
            Assert.Equal(2, measurements.Where(m => m.Name == "privatehealth.rounds.completed").Sum(m => m.Value));
            Assert.True(measurements.Where(m => m.Name == "privatehealth.uploads.bytes").Sum(m => m.Value) > 4 * 60_000);
            Assert.True(measurements.Count(m => m.Name == "privatehealth.custodian.answers") >= 2 + 2 + 4);
        }

        _ = Roles.Operator;
    }
}
