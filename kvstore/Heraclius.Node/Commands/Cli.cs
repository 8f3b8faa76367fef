namespace Heraclius.Node.Commands;

/// <summary>Dispatches the sub-commands of the one entry point.</summary>
internal static class Cli
{
    private const string Usage = """
        heraclius <command> [options]

          run --config <node.json>          run one node (its own process)
          keygen [--coordinators 1] [--shards 2] [--nodes 4] [--base-port 7100] [--dir .data] [--force]
                                            make node and client keys, node configs and the topology file
                                            (--shards 0: one cluster that executes every operation itself)
          up [--coordinators 1] [--shards 2] [--dir .data] [--force]
                                            start every node of every cluster as its own process; Ctrl-C stops them
          status [--dir .data]              one line per node, grouped by cluster: pid, view, height, leader, lag
          kv get|put|delete|cas ... [--coordinator c0]
                                            key-value operations through a coordinator (kv --help)
          bench kv [--duration 20s] [--vus 256] [--coordinators 1] [--shards 0]
                                            benchmark a local topology in this process over gRPC

        Every command takes --help.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        var rest = args[1..];
        try
        {
            return args[0] switch
            {
                "run" => await RunCommand.RunAsync(rest),
                "keygen" => KeygenCommand.Run(rest),
                "up" => await UpCommand.RunAsync(rest),
                "status" => await StatusCommand.RunAsync(rest),
                "kv" => await KvCommand.RunAsync(rest),
                "bench" => await BenchCommand.RunAsync(rest),
                _ => Fail($"unknown command '{args[0]}'\n\n{Usage}"),
            };
        }
        catch (ArgumentException e)
        {
            return Fail(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException
                                   or System.Net.Sockets.SocketException or System.Text.Json.JsonException or FormatException
                                   or Grpc.Core.RpcException or TimeoutException or HttpRequestException)
        {
            // Ordinary operational failures (port in use, WAL held by another instance, missing file,
            // unreachable node) are reported, not thrown as a crash with a stack trace.
            return Fail($"{e.GetType().Name}: {e.Message}");
        }
    }

    public static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 2;
    }
}
