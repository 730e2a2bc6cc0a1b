namespace PrivateHealth.Samples.Serialization;

internal static class Program
{
    private static void Main() => SerializationSample.Run(Console.Out);
}
