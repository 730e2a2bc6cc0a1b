using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using PrivateHealth.Coordinator.Api;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Services;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Coordinator.Training;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;

namespace PrivateHealth.Coordinator.Hosting;

/// <summary>Builds the coordinator web application (used by Program.cs and by in-process tests).</summary>
public static class CoordinatorApp
{
    /// <summary>
    /// Builds the app from command-line arguments and configuration (section <c>Coordinator</c>). Tests may pass
    /// <paramref name="issuer"/> to share the development issuer and <paramref name="configure"/> to override services.
    /// </summary>
    public static WebApplication Build(string[] args, DevelopmentTokenIssuer? issuer = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        AddConfigFile(builder);
        var options = new CoordinatorOptions();
        builder.Configuration.GetSection(CoordinatorOptions.Section).Bind(options);
        var problems = options.Problems();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(CoordinatorOptions.Section, typeof(CoordinatorOptions), problems);
        }

        builder.Services.AddOptions<CoordinatorOptions>().Bind(builder.Configuration.GetSection(CoordinatorOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<CoordinatorOptions>, CoordinatorOptionsValidator>();
        Directory.CreateDirectory(options.DataDirectory);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var ip = IPAddress.Parse(options.ListenAddress);
            kestrel.Limits.MaxRequestBodySize = options.MaxUploadBytes + (1 << 20);
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            kestrel.Listen(ip, options.GrpcPort, listen =>
            {
                if (options.TlsCertificatePath is not null)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(options.TlsCertificatePath, options.TlsCertificatePassword);
                }
                else
                {
                    listen.Protocols = HttpProtocols.Http2;
                }
            });
            if (options.HttpPort >= 0)
            {
                kestrel.Listen(ip, options.HttpPort, listen => listen.Protocols = HttpProtocols.Http1);
            }
        });

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(c =>
        {
            c.SingleLine = true;
            c.TimestampFormat = "HH:mm:ss.fff ";
            c.UseUtcTimestamp = true;
        });

        issuer ??= options.DevelopmentIssuer ? LoadOrCreateIssuer(options.ResolvedIssuerKeyPath) : null;
        builder.Services.AddPrivateHealthAuthentication(new PrivateHealthAuthenticationOptions
        {
            DevelopmentIssuer = issuer,
            Authority = issuer is null && options.Authority is not null ? new Uri(options.Authority) : null,
            Audience = issuer is null ? options.Audience : null,
            RequireHttpsMetadata = options.RequireHttpsMetadata,
        });
        builder.Services.AddAuthorization();
        builder.Services.AddGrpcLite(g =>
        {
            g.MaxReceiveMessageSize = options.MaxUploadBytes;
            g.MaxSendMessageSize = options.MaxUploadBytes;
        });

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ICoordinatorStore>(sp => options.StoreProvider == "postgres"
            ? CoordinatorStores.Open("postgres", options.PostgresConnectionString!, options.PostgresSchema, sp.GetRequiredService<TimeProvider>())
            : new SqliteCoordinatorStore(options.ResolvedDatabasePath));
        builder.Services.AddSingleton<CoordinatorMetrics>();
        builder.Services.AddSingleton<PresenceTracker>();
        builder.Services.AddSingleton<JobLeases>();
        builder.Services.AddHostedService<ClusterWorker>();
        builder.Services.AddSingleton<CustodianTaskBoard>();
        builder.Services.AddSingleton<RoundBoard>();
        builder.Services.AddSingleton<KeySetRegistry>();
        builder.Services.AddSingleton<KeyCeremonyService>();
        builder.Services.AddSingleton<TrainingService>();
        builder.Services.AddSingleton<CustodianService>();
        builder.Services.AddSingleton<ICohortStore>(sp => (ICohortStore)sp.GetRequiredService<ICoordinatorStore>());
        builder.Services.AddSingleton<Analytics.CohortBoard>();
        builder.Services.AddSingleton<Analytics.AnalyticsService>();
        builder.Services.AddSingleton<IQueryJobStore>(sp => (IQueryJobStore)sp.GetRequiredService<ICoordinatorStore>());
        builder.Services.AddSingleton<Settlement.SettlementService>();
        builder.Services.AddHostedService<Settlement.SettlementWorker>();
        builder.Services.AddSingleton<Analytics.QueryJobService>();
        builder.Services.AddHostedService<CoordinatorWorker>();
        builder.Services.AddJobApi();
        builder.Services.AddHealthChecks().AddCheck<StoreHealthCheck>("store");
        builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(CoordinatorMetrics.MeterName);
            if (options.ConsoleMetrics)
            {
                metrics.AddConsoleExporter();
            }
        });

        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseJobApi();
        app.MapHealthChecks("/healthz");
        app.MapCoordinatorGrpc();
        app.MapJobApi();
        return app;
    }

    /// <summary>Creates the schema, starts the app and returns the gRPC address it listens on.</summary>
    public static async Task<Uri> StartAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        await app.Services.GetRequiredService<ICoordinatorStore>().InitializeAsync(cancellationToken).ConfigureAwait(false);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return GrpcAddress(app);
    }

    /// <summary>The bound gRPC address (the first listener).</summary>
    public static Uri GrpcAddress(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<IOptions<CoordinatorOptions>>().Value;
        var addresses = app.Urls.Select(u => new Uri(u)).ToList();
        return addresses[0];
    }

    /// <summary>
    /// <c>--config file.json</c>: a JSON settings file layered below environment variables and the command line
    /// (so a flag still overrides the file). A missing file is an error, not a silent default.
    /// </summary>
    private static void AddConfigFile(WebApplicationBuilder builder)
    {
        string? path = builder.Configuration["config"];
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"Configuration file '{full}' does not exist.", full);
        }

        var sources = builder.Configuration.Sources;
        builder.Configuration.AddJsonFile(full, optional: false, reloadOnChange: false);
        var json = sources[^1];
        sources.RemoveAt(sources.Count - 1);
        // after appsettings*.json, before the (unprefixed) environment variables and the command line
        int lastFile = sources.ToList().FindLastIndex(s => s is Microsoft.Extensions.Configuration.FileConfigurationSource);
        sources.Insert(lastFile + 1, json);
    }

    /// <summary>
    /// Loads the development issuer's key, or creates it when missing. Several nodes may share one key file (decision
    /// 0018) and start at the same moment: the file is created exclusively (O_CREAT|O_EXCL, atomic on every local and
    /// network file system, unlike a no-overwrite rename, which .NET emulates with a racy check where hard links are not
    /// allowed), so exactly one node writes its key; the others read the winner's file, waiting briefly while it is
    /// still being written, so all nodes sign and verify with the same key.
    /// </summary>
    internal static DevelopmentTokenIssuer LoadOrCreateIssuer(string path)
    {
        if (File.Exists(path))
        {
            return ReadIssuer(path);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        FileStream created;
        try
        {
            created = new FileStream(path, options);
        }
        catch (IOException) when (File.Exists(path))
        {
            return ReadIssuer(path); // another node created it first
        }

        using (created)
        {
            var issuer = new DevelopmentTokenIssuer();
            created.Write(System.Text.Encoding.ASCII.GetBytes(issuer.ExportPrivateKeyPem()));
            created.Flush(flushToDisk: true);
            return issuer;
        }
    }

    /// <summary>Reads a key file another node may still be writing: a partial file is retried for up to 10 s.</summary>
    private static DevelopmentTokenIssuer ReadIssuer(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                return DevelopmentTokenIssuer.FromPem(File.ReadAllText(path));
            }
            catch (Exception ex) when (ex is ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException(
                        $"The development issuer key file '{path}' is not a PEM private key (a node may have crashed while writing it); delete it to create a new key.", ex);
                }

                Thread.Sleep(20);
            }
        }
    }
}

/// <summary>Healthy when the store answers.</summary>
internal sealed class StoreHealthCheck(ICoordinatorStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.ListKeySetsAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("store unavailable", ex);
        }
    }
}
