using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.Node.Tests;

/// <summary>
/// A local deployment of node processes: keys, topology and node configs made by the real CLI
/// (<c>Heraclius.Node.dll keygen --coordinators C --shards S</c>) in a temporary directory, each node
/// of each cluster started as its own OS process with <c>Heraclius.Node.dll run --config
/// nodes/&lt;id&gt;.json</c>. Nodes are indexed in topology order (c0's nodes first, so with
/// <c>--shards 0</c> index i is c0-n{i}). Every child process is killed and the directory deleted on
/// dispose, whatever the test's outcome.
/// </summary>
public sealed class NodeProcessCluster : IAsyncDisposable
{
    public const string ClientId = "cli";
    public const string SecondClientId = "bench";
    public const int NodesPerCluster = 4;

    private const int LogLinesKept = 400;
    private static readonly TimeSpan StatusCallTimeout = TimeSpan.FromSeconds(1);

    // Children still alive when the test host exits (an unhandled failure) are killed too.
    private static readonly ConcurrentDictionary<int, Process> AllChildren = new();

    private readonly ITestOutputHelper? _output;
    private readonly Process?[] _processes;
    private readonly GrpcNodeClient[] _status;
    private readonly ConcurrentQueue<string>[] _logs;
    private readonly StreamWriter?[] _logFiles;
    private readonly List<IDisposable> _owned = [];

    static NodeProcessCluster()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var p in AllChildren.Values)
            {
                TryKill(p);
            }
        };
    }

    private NodeProcessCluster(string root, int basePort, int coordinators, int shards, ITestOutputHelper? output)
    {
        Root = root;
        BasePort = basePort;
        Coordinators = coordinators;
        Shards = shards;
        _output = output;
        var count = (coordinators + shards) * NodesPerCluster;
        _processes = new Process?[count];
        _status = new GrpcNodeClient[count];
        _logs = [.. Enumerable.Range(0, count).Select(_ => new ConcurrentQueue<string>())];
        _logFiles = new StreamWriter?[count];
    }


    public string Root { get; }

    public int BasePort { get; }

    public ClusterTopology Topology { get; private set; } = null!;

    public int Coordinators { get; }

    public int Shards { get; }

    /// <summary>The first coordinator, c0; its nodes have indices 0..3.</summary>
    public ClusterInfo Cluster => Topology.Clusters[0];

    /// <summary>Every node of every cluster, in topology order; a node's index here is its index in this fixture.</summary>
    public IReadOnlyList<NodeInfo> Nodes { get; private set; } = [];

    public int Count => _processes.Length;

    public string NodeId(int i) => Nodes[i].Id;

    /// <summary>The fixture indices of <paramref name="clusterId"/>'s nodes.</summary>
    public int[] IndicesOf(string clusterId) => [.. Enumerable.Range(0, Count).Where(i => Nodes[i].ClusterId == clusterId)];

    public string ConfigPath(int i) => Path.Combine(Root, "nodes", NodeId(i) + ".json");

    public Process? ProcessOf(int i) => _processes[i];

    /// <summary>
    /// Generates keys and topology (<paramref name="coordinators"/> coordinator and <paramref name="shards"/>
    /// shard clusters of 4 nodes; 0 shards is the single-cluster store) on free loopback ports, patches
    /// <paramref name="replica"/> into every node config and starts every node process, a cluster at a
    /// time as <c>up</c> does (a dozen runtimes starting at once on two cores starve each other's timers),
    /// retrying on fresh ports when a node could not come up (a port taken between the check and the bind).
    /// </summary>
    public static async Task<NodeProcessCluster> StartAsync(JsonObject replica, ITestOutputHelper? output, TimeSpan timeout, int coordinators = 1, int shards = 0)
    {
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var root = Path.Combine(Path.GetTempPath(), "heraclius-proc-" + Guid.NewGuid().ToString("N"));
            var cluster = new NodeProcessCluster(root, PickBasePort((coordinators + shards) * NodesPerCluster), coordinators, shards, output);
            try
            {
                await cluster.GenerateAsync(replica, timeout);
                foreach (var c in cluster.Topology.Clusters)
                {
                    var members = cluster.IndicesOf(c.Id);
                    foreach (var i in members)
                    {
                        cluster.Start(i);
                    }

                    await cluster.WaitUntilAsync(members, s => s.All(x => x is not null), timeout, $"{c.Id}'s nodes serving after start");
                }

                return cluster;
            }
            catch (Exception e) when (attempt < 2 && cluster.AnyExitedEarly())
            {
                last = e;
                output?.WriteLine($"cluster start attempt {attempt + 1} on ports {cluster.BasePort}.. failed, retrying on other ports: {e.Message}");
                await cluster.DisposeAsync();
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }

        throw new InvalidOperationException("could not start the cluster", last);
    }

    /// <summary>
    /// A base port p such that p..p+count-1 (gRPC) and p+1000.. (metrics/health listeners, default
    /// gRPC port + 1000) are free. Chosen below the kernel's ephemeral range (32768+ on Linux), so
    /// outgoing connections of this or any other process cannot take them between check and bind.
    /// </summary>
    private static int PickBasePort(int count)
    {
        for (var tries = 0; tries < 200; tries++)
        {
            var p = Random.Shared.Next(20_000, 30_000 - count);
            if (Enumerable.Range(0, count).All(i => IsFree(p + i) && IsFree(p + 1000 + i)))
            {
                return p;
            }
        }

        throw new InvalidOperationException("no free loopback port range found");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, port));
            s.Listen();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Runs the CLI (<c>Heraclius.Node.dll</c>) with <paramref name="args"/> in the cluster's directory and returns its exit code and output.</summary>
    public Task<CliResult> RunCliAsync(TimeSpan timeout, params string[] args) => NodeCli.RunAsync(Root, timeout, _output, args);

    private async Task GenerateAsync(JsonObject replica, TimeSpan timeout)
    {
        Directory.CreateDirectory(Root);
        var keygen = await RunCliAsync(
            timeout,
            "keygen",
            "--dir",
            Root,
            "--base-port",
            BasePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--coordinators",
            Coordinators.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--shards",
            Shards.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (keygen.ExitCode != 0)
        {
            throw new InvalidOperationException($"keygen exited with {keygen.ExitCode}: {keygen.Stdout}{keygen.Stderr}");
        }

        Topology = ClusterTopology.Load(Path.Combine(Root, "topology.json"));
        Nodes = [.. Topology.Clusters.SelectMany(c => c.Nodes)];
        Assert.Equal(Count, Nodes.Count);
        for (var i = 0; i < Count; i++)
        {
            var path = ConfigPath(i);
            var config = JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
            var r = config["replica"] as JsonObject ?? new JsonObject();
            foreach (var (name, value) in replica)
            {
                r[name] = value?.DeepClone();
            }

            config["replica"] = r;
            config["metricsPort"] = BasePort + 1000 + i;
            await File.WriteAllTextAsync(path, config.ToJsonString());
            _status[i] = new GrpcNodeClient(new Uri(Nodes[i].Endpoint));
            _logFiles[i] = new StreamWriter(Path.Combine(Root, "nodes", NodeId(i) + ".log"), append: true) { AutoFlush = true };
        }
    }

    /// <summary>Starts node <paramref name="i"/> as its own process from its config and data directory.</summary>
    public void Start(int i)
    {
        if (_processes[i] is { HasExited: false })
        {
            throw new InvalidOperationException($"{NodeId(i)} is already running");
        }

        _processes[i]?.Dispose();
        var p = new Process { StartInfo = NodeCli.StartInfo(Root, "run", "--config", ConfigPath(i)) };
        p.OutputDataReceived += (_, e) => Log(i, e.Data);
        p.ErrorDataReceived += (_, e) => Log(i, e.Data);
        p.Start();
        AllChildren[p.Id] = p;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _processes[i] = p;
        Log(i, $"[test] started pid {p.Id}");
    }

    /// <summary>Kills node <paramref name="i"/> hard (SIGKILL: no shutdown code runs) and waits until it is gone.</summary>
    public void Kill(int i)
    {
        var p = _processes[i] ?? throw new InvalidOperationException($"{NodeId(i)} was never started");
        var pid = p.Id;
        p.Kill(entireProcessTree: true);
        if (!p.WaitForExit(10_000))
        {
            throw new InvalidOperationException($"{NodeId(i)} (pid {pid}) did not exit after SIGKILL");
        }

        AllChildren.TryRemove(pid, out _);
        Log(i, $"[test] killed pid {pid} (exit code {p.ExitCode})");
    }

    private void Log(int i, string? line)
    {
        if (line is null)
        {
            return;
        }

        var q = _logs[i];
        q.Enqueue(line);
        while (q.Count > LogLinesKept && q.TryDequeue(out _))
        {
        }

        var file = _logFiles[i];
        if (file is not null)
        {
            lock (file)
            {
                try
                {
                    file.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }

    private bool AnyExitedEarly() => _processes.Any(p => p is { HasExited: true });

    /// <summary>A started BFT client submitting to node <paramref name="node"/> (a coordinator's) and accepting answers from its cluster.</summary>
    public async Task<BftClient> ClientAsync(int node, string clientId = ClientId)
    {
        // The client borrows its key and connection; both live until the cluster is disposed.
        var key = LoadKey(clientId);
        var grpc = new GrpcNodeClient(new Uri(Nodes[node].Endpoint));
        lock (_owned)
        {
            _owned.Add(key);
            _owned.Add(grpc);
        }

        var client = new BftClient(Topology, Nodes[node].ClusterId, clientId, key, grpc);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.StartAsync(cts.Token);
        return client;
    }

    /// <summary>Loads a client key the way the CLI's DataDirectory does: keys/&lt;id&gt;.key, base64 of the raw private key.</summary>
    private SigningKey LoadKey(string id) =>
        SigningKey.FromPrivateBytes(Convert.FromBase64String(File.ReadAllText(Path.Combine(Root, "keys", id + ".key")).Trim()));

    /// <summary>The status of each node in <paramref name="nodes"/>, or null when it does not answer within a second.</summary>
    public async Task<NodeStatus?[]> StatusesAsync(IEnumerable<int> nodes)
    {
        var result = new NodeStatus?[Count];
        await Task.WhenAll(nodes.Select(async i =>
        {
            try
            {
                using var cts = new CancellationTokenSource(StatusCallTimeout);
                result[i] = await _status[i].StatusAsync(cts.Token);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException or HttpRequestException)
            {
                result[i] = null;
            }
        }));
        return result;
    }

    /// <summary>
    /// Polls the statuses of <paramref name="nodes"/> until <paramref name="condition"/> holds for them
    /// and returns them; fails with every node's status and log tail after <paramref name="timeout"/>,
    /// or as soon as a node that should run has exited.
    /// </summary>
    public async Task<NodeStatus?[]> WaitUntilAsync(IEnumerable<int> nodes, Func<NodeStatus[], bool> condition, TimeSpan timeout, string what)
    {
        var watched = nodes.ToArray();
        var sw = Stopwatch.StartNew();
        NodeStatus?[] last = [];
        while (true)
        {
            last = await StatusesAsync(watched);
            var selected = watched.Select(i => last[i]).ToArray();
            if (selected.All(s => s is not null) && condition(selected!))
            {
                _output?.WriteLine($"[{sw.Elapsed.TotalSeconds:F1}s] {what}: {Describe(last)}");
                return last;
            }

            var exited = watched.Where(i => _processes[i] is { HasExited: true }).ToList();
            if (exited.Count > 0 || sw.Elapsed > timeout)
            {
                var reason = exited.Count > 0 ? $"{string.Join(", ", exited.Select(NodeId))} exited" : $"timed out after {timeout.TotalSeconds:F0}s";
                Assert.Fail($"waiting for '{what}': {reason}\nstatuses: {Describe(last)}\n{LogTails(60)}");
            }

            await Task.Delay(100);
        }
    }

    public string Describe(NodeStatus?[] statuses) =>
        string.Join(" | ", statuses.Select((s, i) => s is null
            ? $"{NodeId(i)}: -"
            : $"{s.NodeId}: pid {s.ProcessId} view {s.View} height {s.DecidedHeight} leader {s.LeaderIndex}{(s.IsLeader ? "*" : "")} ckpt {s.LastCheckpointHeight} pool {s.PoolSize} lag {s.Lag}"));

    public string LogTails(int lines)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < Count; i++)
        {
            var p = _processes[i];
            sb.AppendLine($"--- {NodeId(i)} ({(p is null ? "never started" : p.HasExited ? $"exited {p.ExitCode}" : $"pid {p.Id}")}) last lines:");
            // gRPC's own per-call failure lines (one per refused connection while a peer is down) drown the node's log.
            foreach (var line in _logs[i].ToArray().Where(l => !l.Contains("Grpc.Net.Client.Internal.GrpcCall", StringComparison.Ordinal)).TakeLast(lines))
            {
                sb.AppendLine(line.Length > 400 ? line[..400] + " ..." : line);
            }
        }

        return sb.ToString();
    }

    private static void TryKill(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5_000);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already gone, or never started.
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _processes)
        {
            if (p is null)
            {
                continue;
            }

            int? pid = null;
            try
            {
                pid = p.Id;
            }
            catch (InvalidOperationException)
            {
            }

            TryKill(p);
            if (pid is { } id)
            {
                AllChildren.TryRemove(id, out _);
            }

            p.Dispose();
        }

        foreach (var s in _status)
        {
            s?.Dispose();
        }

        lock (_owned)
        {
            foreach (var o in _owned)
            {
                o.Dispose();
            }

            _owned.Clear();
        }

        foreach (var f in _logFiles)
        {
            if (f is not null)
            {
                lock (f)
                {
                    f.Dispose();
                }
            }
        }

        for (var attempt = 0; Directory.Exists(Root); attempt++)
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (attempt >= 20)
                {
                    _output?.WriteLine($"could not delete {Root}: {e.Message}");
                    break;
                }

                await Task.Delay(100);
            }
        }
    }
}
