using System.Diagnostics.Metrics;

namespace PrivateHealth.Coordinator.Hosting;

/// <summary>OpenTelemetry-visible metrics (meter <c>PrivateHealth.Coordinator</c>): rounds, uploads, bytes, latencies.</summary>
public sealed class CoordinatorMetrics : IDisposable
{
    /// <summary>Meter name to subscribe to.</summary>
    public const string MeterName = "PrivateHealth.Coordinator";

    private readonly Meter _meter;

    public CoordinatorMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        UploadsAccepted = _meter.CreateCounter<long>("privatehealth.uploads.accepted", "{upload}", "Encrypted updates stored in the ledger.");
        UploadsRejected = _meter.CreateCounter<long>("privatehealth.uploads.rejected", "{upload}", "Uploads refused (tagged with reason).");
        UploadsDuplicate = _meter.CreateCounter<long>("privatehealth.uploads.duplicate", "{upload}", "Repeats of already stored uploads.");
        UploadBytes = _meter.CreateCounter<long>("privatehealth.uploads.bytes", "By", "Bytes of accepted ciphertexts.");
        UploadLatency = _meter.CreateHistogram<double>("privatehealth.uploads.duration", "ms", "Time to validate and store one upload.");
        RoundsCompleted = _meter.CreateCounter<long>("privatehealth.rounds.completed", "{round}", "Rounds decrypted and applied.");
        RoundsFailed = _meter.CreateCounter<long>("privatehealth.rounds.failed", "{round}", "Rounds that failed.");
        RoundDuration = _meter.CreateHistogram<double>("privatehealth.rounds.duration", "ms", "Round open to completion.");
        AggregationDuration = _meter.CreateHistogram<double>("privatehealth.rounds.aggregation.duration", "ms", "Time to sum a round's ciphertexts.");
        DecryptionDuration = _meter.CreateHistogram<double>("privatehealth.rounds.decryption.duration", "ms", "Closing to decrypted (custodian time included).");
        CustodianAnswers = _meter.CreateCounter<long>("privatehealth.custodian.answers", "{answer}", "Custodian answers stored.");
    }

    /// <summary>The meter the instruments belong to (one per coordinator instance).</summary>
    public Meter Meter => _meter;

    public Counter<long> UploadsAccepted { get; }
    public Counter<long> UploadsRejected { get; }
    public Counter<long> UploadsDuplicate { get; }
    public Counter<long> UploadBytes { get; }
    public Histogram<double> UploadLatency { get; }
    public Counter<long> RoundsCompleted { get; }
    public Counter<long> RoundsFailed { get; }
    public Histogram<double> RoundDuration { get; }
    public Histogram<double> AggregationDuration { get; }
    public Histogram<double> DecryptionDuration { get; }
    public Counter<long> CustodianAnswers { get; }

    public void Dispose() => _meter.Dispose();
}
