namespace PrivateHealth.EncryptedQuery.Schema;

/// <summary>
/// A numeric quantity summed (with its square and cross-products) in every cell. Values are clipped to
/// [<see cref="Lo"/>, <see cref="Hi"/>] so that one person's contribution to any sum is bounded, which is what the
/// differential-privacy noise is calibrated on. JSON: <c>{"name":"mean_radius","lo":6.981,"hi":28.11,"source":"mean radius"}</c>.
/// </summary>
public sealed record MeasureSpec
{
    /// <summary>Identifier ([A-Za-z_][A-Za-z0-9_]*), unique among the schema's dimensions and measures (case-insensitive).</summary>
    public required string Name { get; init; }

    /// <summary>Lower clipping bound (finite, &lt; <see cref="Hi"/>).</summary>
    public double Lo { get; init; }

    /// <summary>Upper clipping bound (finite, &gt; <see cref="Lo"/>).</summary>
    public double Hi { get; init; }

    /// <summary>The record field the value is read from; null means <see cref="Name"/>.</summary>
    public string? Source { get; init; }

    /// <summary>The key looked up in a person's record: <see cref="Source"/> if set, else <see cref="Name"/>.</summary>
    public string Field => Source ?? Name;

    /// <summary>The value clamped to [<see cref="Lo"/>, <see cref="Hi"/>] (±∞ clamp to the bounds).</summary>
    /// <exception cref="ArgumentException">The value is NaN.</exception>
    public double Clip(double v)
    {
        if (double.IsNaN(v))
        {
            throw new ArgumentException($"Value of measure '{Name}' is NaN.", nameof(v));
        }

        return v < Lo ? Lo : v > Hi ? Hi : v;
    }
}
