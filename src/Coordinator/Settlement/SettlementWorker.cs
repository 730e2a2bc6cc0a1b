using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Hosting;

namespace PrivateHealth.Coordinator.Settlement;

/// <summary>
/// Steps the settlement of paid jobs in its own loop, so that waiting for receipts and confirmations never holds up the
/// rounds, the ceremony or the query jobs.
/// </summary>
internal sealed class SettlementWorker(SettlementService settlement, IOptions<CoordinatorOptions> options, ILogger<SettlementWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settlement.Enabled)
        {
            return;
        }

        var interval = TimeSpan.FromTicks(Math.Max(options.Value.TickInterval.Ticks, TimeSpan.FromMilliseconds(200).Ticks));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await settlement.StepAllAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Settlement pass failed; retrying");
            }

            try
            {
                await Task.Delay(interval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
