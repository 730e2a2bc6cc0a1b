using PrivateHealth.Coordinator.Hosting;

// The coordinator: gRPC for participants, custodians and operators; settings in section "Coordinator"
// (appsettings.json, environment variables Coordinator__X, or --Coordinator:X=value).
var app = CoordinatorApp.Build(args);
var address = await CoordinatorApp.StartAsync(app).ConfigureAwait(false);
Console.WriteLine($"PrivateHealth coordinator ready: grpc={address} ({string.Join(", ", app.Urls)})");
await app.WaitForShutdownAsync().ConfigureAwait(false);
