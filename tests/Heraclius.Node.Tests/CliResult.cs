namespace Heraclius.Node.Tests;

/// <summary>What one run of the CLI process returned: its exit code and everything it wrote.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr);
