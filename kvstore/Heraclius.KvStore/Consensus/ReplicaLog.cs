using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Consensus;

/// <summary>Source-generated log messages of the consensus layer (event ids 1000-1099).</summary>
internal static partial class ReplicaLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "{Node}: dropped a message from peer {From}: {Reason} ({Count} so far)")]
    public static partial void MessageRejected(ILogger logger, string node, RejectReason reason, int from, long count);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "{Node}: view change to view {View} ({Why})")]
    public static partial void ViewChangeStarted(ILogger logger, string node, ulong view, string why);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Information, Message = "{Node}: suspects the leader of view {View} ({Why}); changes view when f+1 members do")]
    public static partial void LeaderSuspected(ILogger logger, string node, ulong view, string why);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "{Node}: did not run for {Paused} ms (process paused); its timers do not count {Credit} ms of it")]
    public static partial void Stalled(ILogger logger, string node, long paused, long credit);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "{Node}: entered view {View}, leader {Leader}")]
    public static partial void NewViewEntered(ILogger logger, string node, ulong view, int leader);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "{Node}: recovered to height {Height} in view {View}")]
    public static partial void Recovered(ILogger logger, string node, ulong height, ulong view);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "{Node}: installed snapshot at height {Height}")]
    public static partial void SnapshotInstalled(ILogger logger, string node, ulong height);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "{Node}: signs nothing until the snapshot installed at height {Height} is durable")]
    public static partial void VotesHeld(ILogger logger, string node, ulong height);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "{Node}: the snapshot installed at height {Height} is durable; handling the {Count} messages that waited for it")]
    public static partial void VotesResumed(ILogger logger, string node, ulong height, int count);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "{Node}: kept the whole WAL after the snapshot of {Height} was saved: the decisions since it are no longer all in memory ({Count} times so far)")]
    public static partial void WalCompactionSkipped(ILogger logger, string node, ulong height, long count);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "{Node}: the compacted WAL could not be written ({Count} so far); the whole log is kept until a later snapshot compacts it")]
    public static partial void WalCompactionFailed(ILogger logger, string node, long count);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "{Node}: restarted after a crash; signs no prepare or pre-prepare in view {View} or below (its last prepares there may not have reached the disk)")]
    public static partial void AbstainsThrough(ILogger logger, string node, ulong view);
}
