namespace PrivateHealth.Researcher.Cli;

internal static class Program
{
    public static Task<int> Main(string[] args) => ResearcherCli.RunAsync(args, Console.Out, Console.Error);
}
