using System.Globalization;

namespace PrivateHealth.Participant.Data;

/// <summary>Timestamp parsing shared by the importers; every result is UTC.</summary>
internal static class Timestamps
{
    /// <summary>Special <see cref="CsvImportOptions.TimestampFormat"/> values for Unix epoch timestamps.</summary>
    internal const string UnixSeconds = "unix-s";
    internal const string UnixMilliseconds = "unix-ms";

    private static readonly string[] AppleFallbackFormats = ["yyyy-MM-dd HH:mm:ss zzz", "yyyy-MM-dd'T'HH:mm:sszzz", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz"];

    /// <summary>Apple Health's "2024-01-01 08:00:00 +0100" (with a fallback for ISO 8601 variants).</summary>
    public static bool TryParseAppleHealth(ReadOnlySpan<char> s, out DateTimeOffset value)
    {
        if (TryParseAppleFast(s, out value))
        {
            return true;
        }

        if (DateTimeOffset.TryParseExact(s.Trim(), AppleFallbackFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out value))
        {
            value = value.ToUniversalTime();
            return true;
        }

        return false;
    }

    private static bool TryParseAppleFast(ReadOnlySpan<char> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length != 25 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' || s[19] != ' '
            || (s[20] != '+' && s[20] != '-'))
        {
            return false;
        }

        if (!TryDigits(s[..4], out int year) || !TryDigits(s.Slice(5, 2), out int month) || !TryDigits(s.Slice(8, 2), out int day)
            || !TryDigits(s.Slice(11, 2), out int hour) || !TryDigits(s.Slice(14, 2), out int minute) || !TryDigits(s.Slice(17, 2), out int second)
            || !TryDigits(s.Slice(21, 2), out int offsetHours) || !TryDigits(s.Slice(23, 2), out int offsetMinutes))
        {
            return false;
        }

        if (year is < 2 or > 9998 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59 || offsetHours > 14 || offsetMinutes > 59)
        {
            return false;
        }

        var offset = new TimeSpan(offsetHours, offsetMinutes, 0);
        if (s[20] == '-')
        {
            offset = -offset;
        }

        value = new DateTimeOffset(year, month, day, hour, minute, second, offset).ToUniversalTime();
        return true;
    }

    private static bool TryDigits(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        foreach (char c in s)
        {
            uint d = (uint)(c - '0');
            if (d > 9)
            {
                return false;
            }

            value = (value * 10) + (int)d;
        }

        return true;
    }

    /// <summary>A local wall-clock time in <paramref name="zone"/> to UTC; false for a time skipped by a DST change.
    /// An ambiguous time (repeated hour) takes the zone's standard offset.</summary>
    public static bool TryLocalToUtc(DateTime local, TimeZoneInfo zone, out DateTimeOffset utc)
    {
        utc = default;
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        if (zone.IsInvalidTime(local))
        {
            return false;
        }

        TimeSpan offset = zone.GetUtcOffset(local);
        long utcTicks = local.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        utc = new DateTimeOffset(utcTicks, TimeSpan.Zero);
        return true;
    }

    /// <summary>Fitbit's "01/01/24 08:00:00" (MM/dd/yy HH:mm:ss) as a wall-clock time in <paramref name="zone"/>.</summary>
    public static bool TryParseFitbit(ReadOnlySpan<char> s, TimeZoneInfo zone, out DateTimeOffset value)
    {
        value = default;
        return DateTime.TryParseExact(s, "MM/dd/yy HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local)
            && TryLocalToUtc(local, zone, out value);
    }

    /// <summary>
    /// A CSV timestamp: Unix seconds/milliseconds for the special formats, an exact .NET format when given, otherwise
    /// any invariant-culture date/time (ISO 8601 recommended). Text without an offset is wall-clock time in
    /// <paramref name="zone"/>.
    /// </summary>
    public static bool TryParseGeneral(ReadOnlySpan<char> s, string? format, TimeZoneInfo zone, out DateTimeOffset value)
    {
        value = default;
        s = s.Trim();
        if (s.IsEmpty)
        {
            return false;
        }

        if (format is UnixSeconds or UnixMilliseconds)
        {
            if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) || !double.IsFinite(number))
            {
                return false;
            }

            double ms = format == UnixSeconds ? number * 1000 : number;
            const double MaxMs = 253402300799999; // 9999-12-31T23:59:59.999Z
            const double MinMs = -62135596800000; // 0001-01-01T00:00:00Z
            if (ms is < MinMs or > MaxMs)
            {
                return false;
            }

            value = DateTimeOffset.UnixEpoch.AddTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
            return true;
        }

        const DateTimeStyles Styles = DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AdjustToUniversal;
        bool parsed = format is null
            ? DateTime.TryParse(s, CultureInfo.InvariantCulture, Styles, out var dt)
            : DateTime.TryParseExact(s, format, CultureInfo.InvariantCulture, Styles, out dt);
        if (!parsed)
        {
            return false;
        }

        if (dt.Kind == DateTimeKind.Utc)
        {
            value = new DateTimeOffset(dt, TimeSpan.Zero);
            return true;
        }

        return TryLocalToUtc(dt, zone, out value);
    }
}
