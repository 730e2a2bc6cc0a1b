using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Training;

namespace PrivateHealth.Coordinator.Hosting;

/// <summary>
/// Drives the key-ceremony and round state machines: steps them whenever an upload, an answer or a presence change
/// signals, and at least every <see cref="CoordinatorOptions.TickInterval"/> (deadlines).
/// </summary>
internal sealed class CoordinatorWorker(
    KeyCeremonyService ceremony,
    TrainingService training,
    Analytics.AnalyticsService analytics,
    Analytics.QueryJobService queries,
    Analytics.CohortBoard cohorts,
    CustodianTaskBoard board,
    RoundBoard rounds,
    PresenceTracker presence,
    IOptions<CoordinatorOptions> options,
    ILogger<CoordinatorWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var tick = options.Value.TickInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            var wake = Task.WhenAny(
                board.Answered.WaitAsync(tick, stoppingToken),
                rounds.Uploaded.WaitAsync(tick, stoppingToken),
                presence.Changed.WaitAsync(tick, stoppingToken),
                rounds.Changed.WaitAsync(tick, stoppingToken),
                cohorts.Contributed.WaitAsync(tick, stoppingToken));
            try
            {
                await ceremony.StepAllAsync(stoppingToken).ConfigureAwait(false);
                await training.StepAllAsync(stoppingToken).ConfigureAwait(false);
                await analytics.FoldAllAsync(stoppingToken).ConfigureAwait(false);
                await queries.StepAllAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "State machine step failed; retrying after the next tick");
            }

            try
            {
                await wake.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
