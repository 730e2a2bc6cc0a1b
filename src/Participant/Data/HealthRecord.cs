namespace PrivateHealth.Participant.Data;

/// <summary>
/// One measurement of one metric over an interval: a heart-rate sample (Start == End), a minute of steps, an
/// asleep interval, a body-mass reading, or a value from a generic CSV column.
/// </summary>
/// <remarks>
/// Timestamps are normalised to UTC (offset zero) on construction, so equality compares instants and serialised
/// records never carry a local offset. <see cref="Value"/> must be finite and <see cref="End"/> must not precede
/// <see cref="Start"/>; importers turn violations into import issues instead of records.
/// </remarks>
/// <param name="Metric">Metric name, e.g. <see cref="HealthMetrics.HeartRate"/> or a CSV column's metric.</param>
/// <param name="Start">Start of the measured interval (converted to UTC).</param>
/// <param name="End">End of the measured interval (converted to UTC); equal to <paramref name="Start"/> for an instant.</param>
/// <param name="Value">Numeric value in <paramref name="Unit"/>.</param>
/// <param name="Unit">Unit of <paramref name="Value"/>, e.g. <see cref="HealthUnits.CountPerMinute"/>.</param>
/// <param name="Source">Device or application that produced the value (e.g. "Alice's Apple Watch", "fitbit", "csv").</param>
public sealed record HealthRecord(string Metric, DateTimeOffset Start, DateTimeOffset End, double Value, string Unit, string Source)
{
    public string Metric { get; } = !string.IsNullOrWhiteSpace(Metric)
        ? Metric
        : throw new ArgumentException("A health record needs a metric name.", nameof(Metric));

    public DateTimeOffset Start { get; } = Start.ToUniversalTime();

    public DateTimeOffset End { get; } = End >= Start
        ? End.ToUniversalTime()
        : throw new ArgumentOutOfRangeException(nameof(End), End, $"The end of a health record precedes its start ({Start:O}).");

    public double Value { get; } = double.IsFinite(Value)
        ? Value
        : throw new ArgumentOutOfRangeException(nameof(Value), Value, "A health record's value must be finite.");

    public string Unit { get; } = Unit ?? throw new ArgumentNullException(nameof(Unit));

    public string Source { get; } = Source ?? throw new ArgumentNullException(nameof(Source));

    /// <summary>Length of the measured interval (zero for an instantaneous sample).</summary>
    public TimeSpan Duration => End - Start;
}

/// <summary>Metric names produced by the built-in importers.</summary>
public static class HealthMetrics
{
    /// <summary>Instantaneous heart rate, <see cref="HealthUnits.CountPerMinute"/>.</summary>
    public const string HeartRate = "heart_rate";

    /// <summary>Steps counted over the record's interval, <see cref="HealthUnits.Count"/>.</summary>
    public const string Steps = "steps";

    /// <summary>Resting heart rate (one value per day on Apple devices), <see cref="HealthUnits.CountPerMinute"/>.</summary>
    public const string RestingHeartRate = "resting_heart_rate";

    /// <summary>Minutes asleep in the record's interval (any sleep stage), <see cref="HealthUnits.Minutes"/>.</summary>
    public const string SleepMinutes = "sleep_minutes";

    /// <summary>Body mass, always normalised to <see cref="HealthUnits.Kilograms"/>.</summary>
    public const string BodyMass = "body_mass";
}

/// <summary>Units produced by the built-in importers (Apple Health's spelling).</summary>
public static class HealthUnits
{
    public const string CountPerMinute = "count/min";
    public const string Count = "count";
    public const string Minutes = "min";
    public const string Kilograms = "kg";
}
