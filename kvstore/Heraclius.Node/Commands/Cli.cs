namespace Heraclius.Node.Commands;

/// <summary>Dispatches the sub-commands of the one entry point.</summary>
internal static class Cli
{
    private const string Usage = """
        heraclius <command> [options]

          run --config <node.json>          run one node (its own process)
          keygen [--dir .data] [--nodes 4] [--base-port 7100]
                                            make node and client keys and the topology file
          up [--dir .data]                  start a local cluster of 4 node processes; Ctrl-C stops them
          status [--dir .data]              one line per node: id, pid, view, height, leader, lag
          kv get|put|delete|cas ...         key-value operations through the cluster (kv --help)
          bench kv [--duration 20s] [--vus 256]
                                            benchmark a 4-node cluster in this process over gRPC

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
