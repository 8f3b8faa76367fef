namespace Heraclius.KvStore.Hosting;

/// <summary>Settings of the thread that runs a replica.</summary>
public sealed class ReplicaHostOptions
{
    /// <summary>How often the replica's clock ticks (batching, timeouts, retransmission).</summary>
    public int TickIntervalMs { get; set; } = 1;

    /// <summary>Inbound events beyond this are dropped (peers retransmit; clients see "overloaded").</summary>
    public int InboxCapacity { get; set; } = 65536;

    /// <summary>Decisions kept in memory for decision-queue subscribers that resume from a height.</summary>
    public int FeedHistory { get; set; } = 256;

    /// <summary>Compact decisions buffered per subscriber before it is cut off as too slow.</summary>
    public int SubscriberBuffer { get; set; } = 4096;
}
