using System.Diagnostics;

namespace Heraclius.Node.Tests;

/// <summary>Starts the built CLI (<c>dotnet Heraclius.Node.dll ...</c>) as a child process, the way an operator or <c>up</c> does.</summary>
public static class NodeCli
{
    private static readonly Lazy<(string Dotnet, string NodeDll)> Located = new(Locate);

    private static (string Dotnet, string NodeDll) Locate()
    {
        // The project reference copies Heraclius.Node.dll (with its runtimeconfig and deps) next to this assembly.
        var here = AppContext.BaseDirectory;
        var dll = Path.Combine(here, "Heraclius.Node.dll");
        if (!File.Exists(dll) || !File.Exists(Path.Combine(here, "Heraclius.Node.runtimeconfig.json")))
        {
            // Fall back to the node project's own build output of the same configuration.
            var config = here.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
            var dir = new DirectoryInfo(here);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Heraclius.Payments.sln")))
            {
                dir = dir.Parent;
            }

            dll = dir is null ? dll : Path.Combine(dir.FullName, "kvstore", "Heraclius.Node", "bin", config, "net10.0", "Heraclius.Node.dll");
        }

        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("Heraclius.Node.dll not found next to the test assembly nor in the node project's build output", dll);
        }

        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(dotnet) || !File.Exists(dotnet))
        {
            var self = Environment.ProcessPath;
            dotnet = self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        }

        return (dotnet, dll);
    }

    public static ProcessStartInfo StartInfo(string workingDirectory, params string[] args)
    {
        var (dotnet, nodeDll) = Located.Value;
        var psi = new ProcessStartInfo(dotnet)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        psi.ArgumentList.Add(nodeDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        // Nothing inherited from the test host may move the node's listeners.
        foreach (var name in new[] { "ASPNETCORE_URLS", "DOTNET_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "DOTNET_HTTP_PORTS", "DOTNET_HTTPS_PORTS" })
        {
            psi.Environment.Remove(name);
        }

        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        return psi;
    }

    /// <summary>Runs the CLI with <paramref name="args"/> to completion (killed after <paramref name="timeout"/>) and returns its exit code and output.</summary>
    public static async Task<CliResult> RunAsync(string workingDirectory, TimeSpan timeout, ITestOutputHelper? output, params string[] args)
    {
        using var cli = Process.Start(StartInfo(workingDirectory, args))!;
        try
        {
            var stdout = cli.StandardOutput.ReadToEndAsync();
            var stderr = cli.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(timeout);
            await cli.WaitForExitAsync(cts.Token);
            var result = new CliResult(cli.ExitCode, await stdout, await stderr);
            output?.WriteLine($"$ heraclius {string.Join(' ', args)}  -> exit {result.ExitCode}\n{result.Stdout}{result.Stderr}");
            return result;
        }
        finally
        {
            if (!cli.HasExited)
            {
                cli.Kill(entireProcessTree: true);
                cli.WaitForExit(5_000);
            }
        }
    }
}
