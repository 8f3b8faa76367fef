using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Tests.WalFuzz;

/// <summary>
/// FUZZ_DEBUG=1: every replica's log lines but rejections (one per byzantine message), stamped with the
/// simulated time, on stderr; run one seed with `--logger "console;verbosity=detailed"` to follow its views.
/// </summary>
internal sealed class DebugLogger(Func<long> now) : ILogger
{
    private const int MessageRejected = 1000;

    public static bool Enabled => Environment.GetEnvironmentVariable("FUZZ_DEBUG") == "1";

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id != MessageRejected)
        {
            Console.Error.WriteLine($"{now()} {formatter(state, exception)}");
        }
    }
}
