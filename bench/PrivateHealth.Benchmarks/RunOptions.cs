using System.Globalization;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// What the load runs that are not BenchmarkDotNet suites (<see cref="ScaleOutIngest"/>, <see cref="FailoverTimings"/>)
/// share: their <c>--name value</c> options and polling for a condition.
/// </summary>
internal static class RunOptions
{
    /// <summary>The integer after <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public static int Int(string[] args, string name, int fallback) =>
        Value(args, name) is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;

    /// <summary>The comma-separated integers after <paramref name="name"/> (e.g. <c>--nodes 1,3</c>), else <paramref name="fallback"/>.</summary>
    public static int[] Ints(string[] args, string name, string fallback) =>
        [.. (Value(args, name) ?? fallback).Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

    /// <summary>The value after <paramref name="name"/>, or null.</summary>
    public static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds; <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }
}
