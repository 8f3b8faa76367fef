using System.Diagnostics;
using System.Globalization;
using Heraclius.KvStore.Topology;

namespace Heraclius.Node.Commands;

/// <summary>One node started by <c>up</c> as its own OS process (<c>run --config</c>), its output appended to the node's log file.</summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private NodeProcess(NodeInfo node, Process process, StreamWriter log, string logPath)
    {
        Node = node;
        _process = process;
        _log = log;
        LogPath = logPath;
    }

    public NodeInfo Node { get; }

    public string LogPath { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static NodeProcess Start(DataDirectory dir, NodeInfo node)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which executable to start the nodes with");
        var psi = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(NodeProcess).Assembly.Location);
        }

        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(dir.NodeConfigPath(node.Id));

        // Nothing inherited from the operator's shell may move the node's listeners.
        foreach (var name in new[] { "ASPNETCORE_URLS", "DOTNET_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "DOTNET_HTTP_PORTS", "DOTNET_HTTPS_PORTS" })
        {
            psi.Environment.Remove(name);
        }

        var logPath = dir.NodeLogPath(node.Id);
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Append(log, e.Data);
        process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        try
        {
            process.Start();
        }
        catch
        {
            process.Dispose();
            log.Dispose();
            throw;
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new NodeProcess(node, process, log, logPath);
    }

    private static void Append(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    public Task WaitForExitAsync(CancellationToken ct = default) => _process.WaitForExitAsync(ct);

    /// <summary>Asks the node to stop (SIGTERM: it flushes its last decisions); false when the signal could not be sent.</summary>
    public bool Terminate()
    {
        if (_process.HasExited)
        {
            return true;
        }

        try
        {
            using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", Pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false });
            return kill is not null && kill.WaitForExit(5_000) && kill.ExitCode == 0;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Kills the node at once (SIGKILL); its WAL is fsync'd before it votes, so nothing decided is lost.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
    }

    /// <summary>The last lines of the node's log, for a report of why it stopped.</summary>
    public IReadOnlyList<string> LogTail(int lines)
    {
        lock (_log)
        {
            _log.Flush();
        }

        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var tail = new Queue<string>();
            while (reader.ReadLine() is { } line)
            {
                tail.Enqueue(line);
                if (tail.Count > lines)
                {
                    tail.Dequeue();
                }
            }

            return [.. tail];
        }
        catch (IOException)
        {
            return [];
        }
    }

    public void Dispose()
    {
        Kill();
        _process.WaitForExit(5_000);
        lock (_log)
        {
            _log.Dispose();
        }

        _process.Dispose();
    }
}
