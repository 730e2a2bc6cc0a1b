namespace PrivateHealth.Samples.Rotations;

internal static class Program
{
    private static void Main() => RotationsSample.Run(Console.Out);
}
