using System.Diagnostics;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>Locates the repository, node and contracts/node_modules, and runs node scripts (stdin in, stdout out).</summary>
internal static class NodeTools
{
    /// <summary>The folder holding PrivateHealth.sln, found by walking up from the test assembly.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ContractsDir => Path.Combine(RepoRoot, "contracts");

    public static string NodeModules => Path.Combine(ContractsDir, "node_modules");

    /// <summary>A script copied next to the test assembly (node/NAME).</summary>
    public static string Script(string name) => Path.Combine(AppContext.BaseDirectory, "node", name);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrivateHealth.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"PrivateHealth.sln not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>Fails (never skips) when node or the npm packages are missing.</summary>
    public static void RequireNodePackages(params string[] packages)
    {
        string? node = FindNode();
        Assert.True(node is not null, "node is not on PATH. Install Node.js 20+ and run `npm ci --prefix contracts` in the repository root.");
        foreach (string package in packages)
        {
            Assert.True(
                Directory.Exists(Path.Combine(NodeModules, package)),
                $"{Path.Combine(NodeModules, package)} is missing. Run `npm ci --prefix contracts` in the repository root ({RepoRoot}).");
        }
    }

    public static string? FindNode()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(dir, OperatingSystem.IsWindows() ? "node.exe" : "node");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Runs `node script args` with stdin, returns stdout; fails with stderr on a non-zero exit or timeout.</summary>
    public static async Task<string> RunAsync(string script, string stdin, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(FindNode() ?? "node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = ContractsDir,
        };
        start.ArgumentList.Add(script);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"node {Path.GetFileName(script)} did not finish within {timeout.TotalSeconds} s. stderr: {await stderr}");
        }

        string output = await stdout;
        string errors = await stderr;
        Assert.True(process.ExitCode == 0, $"node {Path.GetFileName(script)} exited with {process.ExitCode}: {errors}");
        return output;
    }
}
