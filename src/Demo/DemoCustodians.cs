using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Participant.Network;
using PrivateHealth.Participant.Simulation;

namespace PrivateHealth.Demo;

/// <summary>
/// The demo's custodians: one per party (custodian-1 … custodian-n), each holding a vault per parameter set. A
/// <see cref="CustodianRunner"/> serves one parameter set, so a custodian answers for the analytics key set or for the
/// training key set at a time: <see cref="UseAsync"/> restarts its runner on the other vault (same id and party).
/// </summary>
internal sealed class DemoCustodians(Uri address, DevelopmentTokenIssuer issuer, int members) : IAsyncDisposable
{
    private readonly Dictionary<(int Party, string Preset), InMemoryCustodianVault> _vaults = [];
    private readonly Dictionary<int, Running> _running = [];

    private sealed record Running(string Preset, CancellationTokenSource Cts, Task Task, CustodianRunner Runner, CoordinatorClient Client);

    public int Members { get; } = members;

    /// <summary>Parties whose runner is up.</summary>
    public IReadOnlyList<int> Online => [.. _running.Keys.Order()];

    /// <summary>Starts (or restarts on another parameter set) the runners of the given parties.</summary>
    public async Task UseAsync(string preset, IEnumerable<int> parties)
    {
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.Presets[preset]);
        foreach (int party in parties)
        {
            if (_running.TryGetValue(party, out var current))
            {
                if (current.Preset == preset)
                {
                    continue;
                }

                await StopAsync([party]);
            }

            if (!_vaults.TryGetValue((party, preset), out var vault))
            {
                vault = new InMemoryCustodianVault();
                _vaults[(party, preset)] = vault;
            }

            string id = $"custodian-{party}";
            var client = new CoordinatorClient(address, issuer.CreateToken(id, Roles.Custodian, TimeSpan.FromDays(1)));
            var runner = new CustodianRunner(client, id, party, parameters, vault, new RetryPolicy { Initial = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(500) });
            var cts = new CancellationTokenSource();
            var task = Task.Run(() => runner.RunAsync(cts.Token));
            _running[party] = new Running(preset, cts, task, runner, client);
        }
    }

    /// <summary>Takes custodians offline (their task streams close).</summary>
    public async Task StopAsync(IEnumerable<int> parties)
    {
        foreach (int party in parties.ToList())
        {
            if (!_running.Remove(party, out var entry))
            {
                continue;
            }

            await entry.Cts.CancelAsync();
            try
            {
                await entry.Task;
            }
            catch (OperationCanceledException)
            {
            }

            entry.Runner.Dispose();
            entry.Client.Dispose();
            entry.Cts.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync([.. _running.Keys]);
}
