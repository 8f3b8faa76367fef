namespace Heraclius.KvStore.Consensus;

/// <summary>Settings of one replica. Every default is usable; times are milliseconds of the injected clock.</summary>
public sealed class ReplicaOptions
{
    /// <summary>Propose when the pool holds this many requests ...</summary>
    public int BatchRequests { get; set; } = 4096;

    /// <summary>
    /// ... or when the oldest pending request has waited this long. 1, not 2: clients now gather what a decision
    /// answered before they submit, and on the millisecond clock the second millisecond cost an idle `bench kv`
    /// round 2.3 ms (p50 7.0-7.5 → 4.7-5.0 ms, 2 pairs; 256 users within noise or better, 3 pairs).
    /// </summary>
    public int BatchDelayMs { get; set; } = 1;

    /// <summary>
    /// How long a coordinator's leader holding one shard's answer waits for the answers other shards owe to the same
    /// decisions, so that one decision takes them all; 0 proposes at once. At most a quarter of
    /// <see cref="ViewChangeTimeoutMs"/>.
    /// </summary>
    public int InboundCoalesceMs { get; set; } = 5;

    /// <summary>
    /// The leader sends its inputs to the followers before it executes them, so they execute alongside it instead of
    /// after its pre-prepare arrives. Off, a round runs one execution after another (the leader's, then the followers').
    /// </summary>
    public bool SendInputsAhead { get; set; } = true;

    /// <summary>Most requests in one proposal.</summary>
    public int MaxProposalRequests { get; set; } = 16384;

    /// <summary>
    /// Every this many decisions the state is captured (a checkpoint), and the header this many decisions later certifies
    /// the capture's root. Replicated configuration: every member of a cluster must use the same value.
    /// </summary>
    public int CheckpointInterval { get; set; } = 128;

    /// <summary>Decided decisions kept in memory for lagging peers beyond the latest checkpoint.</summary>
    /// <remarks>
    /// At least three intervals: the checkpoint served is the state an interval or two behind (its root is certified an
    /// interval after it), and a peer that installs it must then still find every decision after it here.
    /// </remarks>
    public int RetainDecisions { get; set; } = 384;

    /// <summary>Base of the progress timeout; doubles on each consecutive view change, resets on a decision.</summary>
    public int ViewChangeTimeoutMs { get; set; } = 1000;

    /// <summary>Cap of the backed-off timeout.</summary>
    public int MaxViewChangeTimeoutMs { get; set; } = 30_000;

    /// <summary>
    /// A pause of this replica longer than this (ms; reported by its host: the process or its thread did
    /// not run) is not counted towards its progress and NEW-VIEW timers, up to one timeout per progress
    /// period; 0 counts every ms. Below <see cref="ViewChangeTimeoutMs"/>, and well above the host's tick.
    /// </summary>
    public int StallThresholdMs { get; set; } = 250;

    /// <summary>How often votes, view changes and status are re-sent, so lost messages do not stall progress.</summary>
    public int ResendIntervalMs { get; set; } = 200;

    /// <summary>A leader's timestamp may lie at most this many ms ahead of a follower's clock (fresh proposals only).</summary>
    /// <remarks>
    /// It bounds how far a faulty leader can move decision time, and so how early it can fire a
    /// deadline (a 2PC vote timeout, a hold's expiry): keep service timeouts several times larger.
    /// </remarks>
    public int TimestampToleranceMs { get; set; } = 1_000;

    /// <summary>... and at most this many ms behind it: a loaded follower may see an honest proposal late.</summary>
    public int TimestampLagToleranceMs { get; set; } = 30_000;

    /// <summary>An idle leader proposes a timestamp-only decision once a service deadline is due (<c>IReplicatedService.NextTimerDue</c>), at most this often.</summary>
    public int TimerTickMs { get; set; } = 250;

    /// <summary>
    /// Member i starts saving a checkpoint's snapshot i × this many decisions after the header certifying it (when
    /// that is under half of <see cref="CheckpointInterval"/>; otherwise at once), so that members sharing a
    /// machine do not all write the whole state at the same moment. A node's own setting; 0 saves at once.
    /// </summary>
    public int SaveStaggerDecisions { get; set; } = 8;

    /// <summary>
    /// A member saves the snapshot of one checkpoint in this many (checkpoint number + member index ≡ 0 modulo it;
    /// 1 saves every one); the others are only captured, and served to peers. An installed snapshot is always saved.
    /// A node's own setting: until the next save the WAL keeps every decision since the last one, so a restart
    /// replays up to this many intervals of decisions, plus the one before a capture is certified.
    /// </summary>
    public int SaveEveryCheckpoints { get; set; } = 4;

    /// <summary>Answers kept per client (the exactly-once window).</summary>
    public int SessionWindow { get; set; } = 1024;

    /// <summary>Pending client batches beyond this are refused with "overloaded".</summary>
    public int MaxPoolBatches { get; set; } = 8192;

    /// <summary>Decisions per catch-up reply.</summary>
    public int CatchUpBatch { get; set; } = 64;

    /// <summary>Snapshot chunks per catch-up reply.</summary>
    public int SnapshotChunksPerReply { get; set; } = 64;

    /// <summary>State buckets (snapshot chunks); part of the format: every member of a cluster must agree.</summary>
    public int StateBuckets { get; set; } = 1024;

    /// <summary>
    /// W: groups to one destination cluster that may be unacknowledged before new work towards it is
    /// refused with "overloaded". Part of the replicated configuration: every member must agree.
    /// </summary>
    public int OutboundWindow { get; set; } = 64;

    /// <summary>
    /// Input bytes (client batches and inbound groups) a proposal takes beyond its first item, so that a
    /// pre-prepare (inputs and outputs) stays well inside one transport message (16 MiB).
    /// </summary>
    public int MaxProposalInputBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Output bytes (encoded output groups) after which execution starts no more of a proposal's client requests and
    /// answers the rest <c>overloaded</c> (see <see cref="StateMachine.Executor.MaxOutputBytes"/>); a leader whose proposal
    /// would refuse some proposes only the batches before the first such one (at least one). With
    /// <see cref="MaxProposalInputBytes"/> it must leave a pre-prepare room inside one transport message for what the budget
    /// cannot refuse (answers to inbound groups, timers, the last request started). Replicated configuration: every member
    /// of a cluster must use the same value.
    /// </summary>
    public int MaxProposalOutputBytes { get; set; } = StateMachine.Executor.DefaultMaxOutputBytes;

    /// <summary>Most inbound groups (compact decisions of other clusters) in one proposal.</summary>
    public int MaxInboundPerProposal { get; set; } = 256;

    /// <summary>Inbound groups pooled per source cluster; beyond it the highest is dropped (the source keeps it).</summary>
    public int MaxInboundPooledPerSource { get; set; } = 256;

    public void Validate()
    {
        if (BatchRequests < 1 || MaxProposalRequests < BatchRequests || CheckpointInterval < 1 || ViewChangeTimeoutMs < 10
            || ResendIntervalMs < 1 || SaveStaggerDecisions < 0 || SaveEveryCheckpoints < 1 || SessionWindow < 1 || MaxPoolBatches < 1 || CatchUpBatch < 1 || RetainDecisions < 3L * CheckpointInterval
            || OutboundWindow < 1 || MaxProposalInputBytes < 1024 || MaxInboundPerProposal < 1 || MaxInboundPooledPerSource < 1
            || TimerTickMs < 1 || StallThresholdMs < 0 || (StallThresholdMs > 0 && StallThresholdMs >= ViewChangeTimeoutMs) || TimestampToleranceMs < 1 || TimestampLagToleranceMs < 1
            || InboundCoalesceMs < 0 || 4L * InboundCoalesceMs > ViewChangeTimeoutMs
            || MaxProposalOutputBytes < 1024 || (long)MaxProposalInputBytes + MaxProposalOutputBytes > Transport.TransportLimits.MaxPeerMessageBytes)
        {
            throw new ArgumentException("invalid replica options (see ReplicaOptions for the allowed ranges)");
        }
    }
}
