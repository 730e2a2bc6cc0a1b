namespace PrivateHealth.Samples.ThresholdKeyCeremony;

internal static class Program
{
    private static void Main() => ThresholdKeyCeremonySample.Run(Console.Out);
}
