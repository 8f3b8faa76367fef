using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Transport;

/// <summary>The log lines of decision subscriptions: event ids 7150-7169, within the transport's range.</summary>
internal static partial class InboundLog
{
    [LoggerMessage(EventId = 7150, Level = LogLevel.Information, Message = "{Node}: receiving compact decisions from {Count} clusters: {Sources}")]
    public static partial void SubscriptionsStarted(this ILogger logger, string node, int count, string sources);

    [LoggerMessage(EventId = 7151, Level = LogLevel.Debug, Message = "{Node}: subscribing to {SourceNode} of {Source} after height {AfterHeight}")]
    public static partial void Subscribing(this ILogger logger, string node, string sourceNode, string source, ulong afterHeight);

    [LoggerMessage(EventId = 7152, Level = LogLevel.Warning, Message = "{Node}: {SourceNode} of {Source} served a compact decision that failed verification; moving to the next node ({Suppressed} similar lines suppressed)")]
    public static partial void InvalidDecision(this ILogger logger, string node, string sourceNode, string source, long suppressed);

    [LoggerMessage(EventId = 7153, Level = LogLevel.Debug, Message = "{Node}: nothing new from {SourceNode} of {Source} for {StallMs} ms; moving to the next node")]
    public static partial void Stalled(this ILogger logger, string node, string sourceNode, string source, int stallMs);

    [LoggerMessage(EventId = 7154, Level = LogLevel.Warning, Message = "{Node}: the subscription to {SourceNode} of {Source} {What}; moving to the next node in {DelayMs} ms ({Suppressed} similar lines suppressed)")]
    public static partial void StreamFailed(this ILogger logger, string node, string sourceNode, string source, string what, long delayMs, long suppressed, Exception? exception);

    [LoggerMessage(EventId = 7155, Level = LogLevel.Debug, Message = "{Node}: overloaded by {Source}; resubscribing to {SourceNode} in {DelayMs} ms")]
    public static partial void Overloaded(this ILogger logger, string node, string sourceNode, string source, long delayMs);

    [LoggerMessage(EventId = 7156, Level = LogLevel.Error, Message = "{Node}: the inbound sink threw on {Source}; retrying in {DelayMs} ms ({Suppressed} similar lines suppressed)")]
    public static partial void SinkFailed(this ILogger logger, string node, string source, long delayMs, long suppressed, Exception exception);
}
