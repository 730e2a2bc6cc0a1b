namespace PrivateHealth.Samples.CkksBasics;

internal static class Program
{
    private static void Main() => CkksBasicsSample.Run(Console.Out);
}
