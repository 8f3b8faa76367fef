using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.StateMachine;

/// <summary>What a service may emit while it executes: messages to other clusters and late answers to clients.</summary>
public interface IServiceOutputs
{
    /// <summary>
    /// Whether new work may be started towards <paramref name="cluster"/>: fewer than W of our groups
    /// to it are unacknowledged, or this decision already carries a group to it. Answers to work
    /// received need no permission.
    /// </summary>
    bool CanSend(string cluster);

    /// <summary>Appends a message to this decision's group for <paramref name="cluster"/> (a peer cluster).</summary>
    void Send(string cluster, byte[] message);

    /// <summary>Answers a request deferred earlier (<see cref="RequestOutcome.Deferred"/>): stored in its session slot and sent to the client.</summary>
    void Answer(string clientId, ulong seq, Hash32 requestHash, byte[] result);
}
