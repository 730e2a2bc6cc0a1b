namespace PrivateHealth.Samples.LevelsAndRescale;

internal static class Program
{
    private static void Main() => LevelsAndRescaleSample.Run(Console.Out);
}
