namespace PrivateHealth.Samples;

/// <summary>
/// Printing helpers shared by the samples (compiled into each one through samples/Directory.Build.props).
/// CKKS is approximate, so a result is judged by its precision in bits: −log2 of the largest absolute error
/// against the plaintext computation. 20 bits means every value is right to about 1e−6.
/// </summary>
internal static class SampleReport
{
    /// <summary>−log2(max |expected − actual|) over the first expected.Length values (capped at 52 bits, a double's mantissa).</summary>
    public static double PrecisionBits(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        double maxError = MaxError(expected, actual);
        return maxError == 0 ? 52 : Math.Min(52, -Math.Log2(maxError));
    }

    public static double MaxError(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        double maxError = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxError = Math.Max(maxError, Math.Abs(expected[i] - actual[i]));
        }

        return maxError;
    }

    /// <summary>Prints up to <paramref name="show"/> slots as "expected | decrypted", then the precision line over all of expected.</summary>
    public static void PrintComparison(TextWriter output, string title, ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, int show = 8, string actualLabel = "decrypted")
    {
        output.WriteLine($"  {title}");
        output.WriteLine($"    {"slot",4}  {"expected",14}  {actualLabel,18}");
        for (int i = 0; i < Math.Min(show, expected.Length); i++)
        {
            output.WriteLine($"    {i,4}  {expected[i],14:F6}  {actual[i],18:F10}");
        }

        if (expected.Length > show)
        {
            output.WriteLine($"    … {expected.Length - show} more slots");
        }

        PrintPrecision(output, expected, actual);
    }

    /// <summary>The line the smoke tests look for: "precision: 23.4 bits (max |error| 9.1E-08 over 8 values)".</summary>
    public static void PrintPrecision(TextWriter output, ReadOnlySpan<double> expected, ReadOnlySpan<double> actual) =>
        output.WriteLine($"    precision: {PrecisionBits(expected, actual):F1} bits (max |error| {MaxError(expected, actual):0.0E+00} over {expected.Length} {(expected.Length == 1 ? "value" : "values")})");

    /// <summary>log2 of a scale, printed with enough digits to see that 2^80 / q is not exactly 2^40.</summary>
    public static string Log2(double scale) => $"2^{Math.Log2(scale):0.########}";
}
