using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.StateMachine;

/// <summary>What a service may emit while it executes: messages to other clusters, late answers to clients, audit records.</summary>
public interface IServiceOutputs
{
    /// <summary>
    /// Whether new work may be started towards <paramref name="cluster"/>: fewer than W of our groups
    /// to it were unacknowledged when this decision began. Answers to work received need no permission.
    /// </summary>
    bool CanSend(string cluster);

    /// <summary>
    /// Appends a message to this decision's group for <paramref name="cluster"/> (a peer cluster). The bytes
    /// are copied into the group before this returns, so a caller may encode into a buffer it reuses.
    /// </summary>
    void Send(string cluster, ReadOnlySpan<byte> message);

    /// <summary>Answers a request deferred earlier (<see cref="RequestOutcome.Deferred"/>): stored in its session slot and sent to the client.</summary>
    /// <remarks>The bytes are copied before this returns.</remarks>
    void Answer(string clientId, ulong seq, Hash32 requestHash, ReadOnlySpan<byte> result);

    /// <summary>
    /// Answers a request deferred earlier <c>overloaded</c>: it never ran (the cluster it was routed to refused it), and the
    /// refusal is stored in its session slot, final for its id, like a refusal at once.
    /// </summary>
    void Refuse(string clientId, ulong seq, Hash32 requestHash);

    /// <summary>
    /// False once this decision's outputs reached their budget (<see cref="Executor.MaxOutputBytes"/>): work whose answer may
    /// be large and that arrives as a message (which cannot be left for a later decision) should be refused rather than run.
    /// </summary>
    bool HasRoom { get; }

    /// <summary>
    /// Appends a record to this decision's group for the audit mirror (destination
    /// <see cref="AuditDestination"/>; payload u32 n ‖ (bytes record)*, chained by prevHeight like any group).
    /// The bytes are copied before this returns.
    /// </summary>
    void Audit(ReadOnlySpan<byte> record);

    /// <summary>The destination id of audit groups; no client or cluster may take it.</summary>
    public const string AuditDestination = "audit";
}
