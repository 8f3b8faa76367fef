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
/// A local cluster of node processes: keys, topology and node configs made by the real CLI
/// (<c>Heraclius.Node.dll keygen</c>) in a temporary directory, each node started as its own OS
/// process with <c>Heraclius.Node.dll run --config nodes/&lt;id&gt;.json</c>. Every child process is
/// killed and the directory deleted on dispose, whatever the test's outcome.
/// </summary>
public sealed class NodeProcessCluster : IAsyncDisposable
{
    public const string ClientId = "cli";
    public const string SecondClientId = "bench";

    private const int LogLinesKept = 400;
    private static readonly TimeSpan StatusCallTimeout = TimeSpan.FromSeconds(1);

    // Children still alive when the test host exits (an unhandled failure) are killed too.
    private static readonly ConcurrentDictionary<int, Process> AllChildren = new();

    private readonly ITestOutputHelper? _output;
    private readonly Process?[] _processes;
    private readonly GrpcNodeClient[] _status;
    private readonly ConcurrentQueue<string>[] _logs;
    private readonly StreamWriter?[] _logFiles;
    private readonly string _nodeDll;
    private readonly string _dotnet;
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

    private NodeProcessCluster(string root, int basePort, ITestOutputHelper? output)
    {
        Root = root;
        BasePort = basePort;
        _output = output;
        (_dotnet, _nodeDll) = LocateNode();
        _processes = new Process?[4];
        _status = new GrpcNodeClient[4];
        _logs = [.. Enumerable.Range(0, 4).Select(_ => new ConcurrentQueue<string>())];
        _logFiles = new StreamWriter?[4];
    }

    public string Root { get; }

    public int BasePort { get; }

    public ClusterTopology Topology { get; private set; } = null!;

    public ClusterInfo Cluster => Topology.Clusters[0];

    public int Count => _processes.Length;

    public string NodeId(int i) => Cluster.Nodes[i].Id;

    public string ConfigPath(int i) => Path.Combine(Root, "nodes", NodeId(i) + ".json");

    public Process? ProcessOf(int i) => _processes[i];

    /// <summary>
    /// Generates keys and topology on free loopback ports, patches <paramref name="replica"/> into
    /// every node config and starts the 4 node processes, retrying on fresh ports when a node could
    /// not come up (a port taken between the check and the bind).
    /// </summary>
    public static async Task<NodeProcessCluster> StartAsync(JsonObject replica, ITestOutputHelper? output, TimeSpan timeout)
    {
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var root = Path.Combine(Path.GetTempPath(), "heraclius-proc-" + Guid.NewGuid().ToString("N"));
            var cluster = new NodeProcessCluster(root, PickBasePort(), output);
            try
            {
                await cluster.GenerateAsync(replica, timeout);
                for (var i = 0; i < cluster.Count; i++)
                {
                    cluster.Start(i);
                }

                await cluster.WaitUntilAsync(Enumerable.Range(0, cluster.Count), s => s.All(x => x is not null), timeout, "all nodes serving after start");
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
    /// A base port p such that p..p+3 (gRPC) and p+1000..p+1003 (metrics/health listeners, default
    /// gRPC port + 1000) are free. Chosen below the kernel's ephemeral range (32768+ on Linux), so
    /// outgoing connections of this or any other process cannot take them between check and bind.
    /// </summary>
    private static int PickBasePort()
    {
        for (var tries = 0; tries < 200; tries++)
        {
            var p = Random.Shared.Next(20_000, 30_000);
            if (Enumerable.Range(0, 4).All(i => IsFree(p + i) && IsFree(p + 1000 + i)))
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

    private static (string Dotnet, string NodeDll) LocateNode()
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

    private ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo(_dotnet)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Root,
        };
        psi.ArgumentList.Add(_nodeDll);
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

    private async Task GenerateAsync(JsonObject replica, TimeSpan timeout)
    {
        Directory.CreateDirectory(Root);
        using var keygen = Process.Start(StartInfo("keygen", "--dir", Root, "--base-port", BasePort.ToString(System.Globalization.CultureInfo.InvariantCulture)))!;
        AllChildren[keygen.Id] = keygen;
        try
        {
            var stdout = keygen.StandardOutput.ReadToEndAsync();
            var stderr = keygen.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(timeout);
            await keygen.WaitForExitAsync(cts.Token);
            if (keygen.ExitCode != 0)
            {
                throw new InvalidOperationException($"keygen exited with {keygen.ExitCode}: {await stdout}{await stderr}");
            }
        }
        finally
        {
            TryKill(keygen);
            AllChildren.TryRemove(keygen.Id, out _);
        }

        Topology = ClusterTopology.Load(Path.Combine(Root, "topology.json"));
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
            _status[i] = new GrpcNodeClient(new Uri(Cluster.Nodes[i].Endpoint));
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
        var p = new Process { StartInfo = StartInfo("run", "--config", ConfigPath(i)) };
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

    public async Task<BftClient> ClientAsync(int node, string clientId = ClientId)
    {
        // The client borrows its key and connection; both live until the cluster is disposed.
        var key = LoadKey(clientId);
        var grpc = new GrpcNodeClient(new Uri(Cluster.Nodes[node].Endpoint));
        lock (_owned)
        {
            _owned.Add(key);
            _owned.Add(grpc);
        }

        var client = new BftClient(Topology, Cluster.Id, clientId, key, grpc);
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
