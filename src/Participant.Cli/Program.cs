namespace PrivateHealth.Participant.Cli;

internal static class Program
{
    public static Task<int> Main(string[] args) => ParticipantCli.RunAsync(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected);
}
