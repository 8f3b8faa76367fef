using System.Diagnostics;
using Heraclius.KvStore.Topology;

using Heraclius.Node.Services;

namespace Heraclius.Node.Commands;

/// <summary>
/// Starts one node process per member of every cluster of the local topology (made on first run),
/// one cluster at a time so a small machine is not asked to start a dozen runtimes at once, and
/// stops them all on Ctrl-C or SIGTERM, or when one of them exits.
/// </summary>
internal static class UpCommand
{
    private const string Usage = """
        heraclius up [--coordinators 1] [--shards 2] [--nodes 4] [--service kv|ledger] [--base-port 7100] [--dir .data] [--force]

          starts every node of every cluster as its own process (logs in <dir>/nodes/<node>.log);
          Ctrl-C stops them all. Keys and topology are generated on first run with the given shape
          (--shards 0: the single-cluster store). Without shape options an existing topology is used as
          it is; with options that differ from it, up refuses unless --force, which generates new keys
          and deletes the old nodes' data.
        """;

    /// <summary>How long one cluster's processes may take to answer status after being started.</summary>
    private static readonly TimeSpan ClusterStartTimeout = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args, "--force");
        if (o.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        o.RejectUnknown("--coordinators", "--shards", "--nodes", "--service", "--base-port", "--dir", "--force");
        var dir = new DataDirectory(o.Get("--dir", ".data"));
        var hint = o.Has("--dir") ? $" --dir {o.Get("--dir", ".data")}" : "";

        // Checked before anything is replaced: --force must not delete the data of nodes that are running.
        var busy = dir.Exists ? BusyPorts(dir, dir.LoadTopology()) : [];
        var topology = busy.Count == 0 ? Prepare(dir, o) : null;
        if (topology is not null)
        {
            busy = BusyPorts(dir, topology);
        }

        if (busy.Count > 0)
        {
            var shown = string.Join(", ", busy.Take(4)) + (busy.Count > 4 ? $" and {busy.Count - 4} more" : "");
            return Cli.Fail($"{shown} in use; is a cluster of this topology already running? ('./heraclius status{hint}' shows it; stop it first)");
        }

        if (topology is null)
        {
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });

        var children = new List<NodeProcess>();
        try
        {
            foreach (var cluster in topology.Clusters)
            {
                if (!await StartClusterAsync(dir, cluster, children, stop.Token))
                {
                    return stop.IsCancellationRequested ? 0 : 1;
                }
            }

            PrintReady(dir, topology, children, hint);
            var exited = Task.WhenAny(children.Select(c => c.WaitForExitAsync(CancellationToken.None)));
            await Task.WhenAny(exited, Task.Delay(Timeout.Infinite, stop.Token));
            if (!stop.IsCancellationRequested)
            {
                // Ctrl-C in a terminal reaches the nodes (same process group) as well as us: a node that
                // stopped a moment before we heard of it is part of that stop, not a failure.
                await Task.WhenAny(Task.Delay(1000, CancellationToken.None), Task.Delay(Timeout.Infinite, stop.Token));
            }

            if (stop.IsCancellationRequested)
            {
                return 0;
            }

            foreach (var c in children.Where(c => c.HasExited))
            {
                ReportExit(c);
            }

            Console.Error.WriteLine("error: a node process exited; stopping the others");
            return 1;
        }
        finally
        {
            await StopAllAsync(children);
        }
    }

    /// <summary>The topology to run: the existing one, or a new one when there is none or the operator forces another shape; null after explaining a refusal.</summary>
    private static ClusterTopology? Prepare(DataDirectory dir, Options o)
    {
        var basePort = o.GetInt("--base-port", TopologyShape.DefaultBasePort);
        if (!dir.Exists)
        {
            var shape = TopologyShape.FromOptions(o, TopologyShape.Default);
            shape.Validate(basePort);
            Console.WriteLine($"no topology in {dir.Root}: generating keys for {shape}");
            return KeygenCommand.Generate(dir, shape, basePort, [KeygenCommand.CliClientId, KeygenCommand.BenchClientId], replace: o.Has("--force"));
        }

        var topology = dir.LoadTopology();
        var existing = TopologyShape.Of(topology);
        var existingBase = new Uri(topology.Clusters[0].Nodes[0].Endpoint).Port;
        basePort = o.GetInt("--base-port", existingBase);
        var described = existing?.ToString() ?? string.Join(", ", topology.Clusters.Select(c => $"{c.Id} ({KeygenCommand.Kind(c.Kind)}, {c.N} nodes)"));
        if (!TopologyShape.Requested(o) && !o.Has("--base-port"))
        {
            Console.WriteLine($"using the topology in {dir.TopologyPath}: {described}");
            if (existing != TopologyShape.Default)
            {
                var d = TopologyShape.Default;
                Console.WriteLine($"  (not the default {d}: 'up --coordinators {d.Coordinators} --shards {d.Shards} --nodes {d.NodesPerCluster} --force' replaces it)");
            }

            return topology;
        }

        var requested = TopologyShape.FromOptions(o, existing ?? TopologyShape.Default);
        requested.Validate(basePort);
        if (requested == existing && basePort == existingBase)
        {
            Console.WriteLine($"using the topology in {dir.TopologyPath}: {described}");
            return topology;
        }

        if (!o.Has("--force"))
        {
            Cli.Fail($"""
                {dir.TopologyPath} holds {described} on ports from {existingBase}; you asked for {requested} on ports from {basePort}.
                       To replace it (new keys; the nodes' data in {dir.Root}/nodes is deleted), add --force.
                       To keep it, run 'up' without shape options, or use another --dir.
                """);
            return null;
        }

        Console.WriteLine($"replacing {described} with {requested}: new keys, old nodes' data deleted");
        return KeygenCommand.Generate(dir, requested, basePort, [KeygenCommand.CliClientId, KeygenCommand.BenchClientId], replace: true);
    }

    private static List<string> BusyPorts(DataDirectory dir, ClusterTopology topology)
    {
        var busy = new List<string>();
        foreach (var node in topology.Clusters.SelectMany(c => c.Nodes))
        {
            var port = new Uri(node.Endpoint).Port;
            var metrics = File.Exists(dir.NodeConfigPath(node.Id)) ? NodeConfig.Load(dir.NodeConfigPath(node.Id)).MetricsPort : null;
            foreach (var p in new[] { port, metrics ?? port + TopologyShape.MetricsPortOffset })
            {
                if (!LoopbackPorts.IsFree(p))
                {
                    busy.Add($"port {p} ({node.Id})");
                }
            }
        }

        return busy;
    }

    /// <summary>Starts a cluster's processes and waits until each answers status; false (after a report) if one exits or none of that happens in time.</summary>
    private static async Task<bool> StartClusterAsync(DataDirectory dir, ClusterInfo cluster, List<NodeProcess> children, CancellationToken stop)
    {
        var started = new List<NodeProcess>();
        foreach (var node in cluster.Nodes)
        {
            if (!File.Exists(dir.NodeConfigPath(node.Id)))
            {
                throw new ArgumentException($"{dir.NodeConfigPath(node.Id)} is missing; regenerate with './heraclius keygen --force' (or up --force with shape options)");
            }

            var p = NodeProcess.Start(dir, node);
            children.Add(p);
            started.Add(p);
        }

        var sw = Stopwatch.StartNew();
        while (!stop.IsCancellationRequested)
        {
            var dead = started.FirstOrDefault(p => p.HasExited);
            if (dead is not null)
            {
                await Task.WhenAny(Task.Delay(1000, CancellationToken.None), Task.Delay(Timeout.Infinite, stop));
                if (!stop.IsCancellationRequested)
                {
                    ReportExit(dead);
                }

                return false;
            }

            var statuses = await StatusCommand.QueryAsync(cluster.Nodes, TimeSpan.FromSeconds(1));
            if (statuses.All(s => s is not null))
            {
                Console.WriteLine($"started {cluster.Id} ({KeygenCommand.Kind(cluster.Kind)}) in {sw.Elapsed.TotalSeconds:F1}s: "
                                  + string.Join(", ", started.Select(p => $"{p.Node.Id} pid {p.Pid} {p.Node.Endpoint}")));
                return true;
            }

            if (sw.Elapsed > ClusterStartTimeout)
            {
                var silent = cluster.Nodes.Where((_, i) => statuses[i] is null).Select(n => n.Id);
                Console.Error.WriteLine($"error: {string.Join(", ", silent)} did not answer within {ClusterStartTimeout.TotalSeconds:F0}s; see {Path.GetDirectoryName(started[0].LogPath)}/<node>.log");
                return false;
            }

            try
            {
                await Task.Delay(250, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }

        return false;
    }

    private static void PrintReady(DataDirectory dir, ClusterTopology topology, List<NodeProcess> children, string hint)
    {
        var coordinators = topology.Coordinators.ToList();
        var shards = topology.Shards.ToList();
        Console.WriteLine();
        Console.WriteLine($"Heraclius is up: {topology.Clusters.Count} cluster{(topology.Clusters.Count == 1 ? "" : "s")}, {children.Count} node processes.");
        Console.WriteLine("  clients connect to a coordinator (any node of it):");
        foreach (var c in coordinators)
        {
            Console.WriteLine($"    {c.Id}: {string.Join(" ", c.Nodes.Select(n => n.Endpoint))}");
        }

        if (shards.Count > 0)
        {
            Console.WriteLine($"  shards (coordinators route each key to shard XXH64(key) mod {shards.Count}; clients never call them):");
            foreach (var s in shards)
            {
                Console.WriteLine($"    {s.Id}: {string.Join(" ", s.Nodes.Select(n => n.Endpoint))}");
            }
        }
        else
        {
            Console.WriteLine("  no shard clusters: the coordinator executes every operation itself");
        }

        var tryLine = topology.Service == NodeServices.Ledger
            ? "clients:  Heraclius.Ledger.Client.LedgerClient over a BftClient per coordinator (accounts, transfers, lookups)"
            : $"try:      ./heraclius kv put greeting hello{hint} && ./heraclius kv get greeting{hint}";
        Console.WriteLine($"""
              service:  {topology.Service}
              topology: {dir.TopologyPath}
              logs:     {Path.Combine(dir.Root, "nodes")}/<node>.log
              {tryLine}
                        ./heraclius status{hint}
            Press Ctrl-C to stop.
            """);
    }

    private static void ReportExit(NodeProcess p)
    {
        Console.Error.WriteLine($"{p.Node.Id} (pid {p.Pid}) exited with code {p.ExitCode}; last lines of {p.LogPath}:");
        foreach (var line in p.LogTail(15))
        {
            Console.Error.WriteLine($"  {(line.Length > 300 ? line[..300] + " ..." : line)}");
        }
    }

    /// <summary>SIGTERM to every node (each flushes and stops), then SIGKILL to any still running after <see cref="StopTimeout"/>.</summary>
    private static async Task StopAllAsync(List<NodeProcess> children)
    {
        if (children.Count == 0)
        {
            return;
        }

        Console.WriteLine($"stopping {children.Count(c => !c.HasExited)} node processes");
        foreach (var c in children)
        {
            if (!c.Terminate())
            {
                c.Kill();
            }
        }

        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await Task.WhenAll(children.Select(c => c.WaitForExitAsync(timeout.Token)));
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"killing {string.Join(", ", children.Where(c => !c.HasExited).Select(c => c.Node.Id))}: not stopped after {StopTimeout.TotalSeconds:F0}s");
        }

        foreach (var c in children)
        {
            c.Dispose();
        }

        Console.WriteLine("stopped");
    }
}
