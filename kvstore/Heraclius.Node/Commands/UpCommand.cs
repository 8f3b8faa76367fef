using System.Diagnostics;

namespace Heraclius.Node.Commands;

/// <summary>Starts one node process per member of the local topology (made on first run) and stops them all on Ctrl-C.</summary>
internal static class UpCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args);
        if (o.Help)
        {
            Console.WriteLine("heraclius up [--dir .data]   (keys and topology are generated into the directory on first run)");
            return 0;
        }

        var dir = new DataDirectory(o.Get("--dir", ".data"));
        var topology = dir.Exists ? dir.LoadTopology() : KeygenCommand.Generate(dir, 4, 7100, "c0");
        var self = Environment.ProcessPath!;
        var children = new List<Process>();
        foreach (var node in topology.Clusters.SelectMany(c => c.Nodes))
        {
            var psi = new ProcessStartInfo(self) { UseShellExecute = false };
            if (self.EndsWith("dotnet", StringComparison.Ordinal))
            {
                psi.ArgumentList.Add(typeof(UpCommand).Assembly.Location);
            }

            psi.ArgumentList.Add("run");
            psi.ArgumentList.Add("--config");
            psi.ArgumentList.Add(dir.NodeConfigPath(node.Id));
            var logPath = Path.Combine(dir.Root, "nodes", node.Id + ".log");
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
            var p = Process.Start(psi)!;
            var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            children.Add(p);
            Console.WriteLine($"started {node.Id} pid {p.Id} at {node.Endpoint} (log {logPath})");
        }

        Console.WriteLine($"""

            Heraclius cluster is up: {children.Count} nodes.
              clients connect to any of: {string.Join(" ", topology.Clusters.SelectMany(c => c.Nodes).Select(n => n.Endpoint))}
              topology: {dir.TopologyPath}
              try:      ./heraclius kv put greeting hello && ./heraclius kv get greeting
                        ./heraclius status
            Press Ctrl-C to stop.
            """);
        var stop = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        await Task.WhenAny(stop.Task, Task.WhenAny(children.Select(c => c.WaitForExitAsync())));
        foreach (var c in children.Where(c => !c.HasExited))
        {
            c.Kill(entireProcessTree: true);
        }

        Console.WriteLine("stopped");
        return 0;
    }
}
