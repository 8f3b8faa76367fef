using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>Keeps what a replica sent, so a test can deliver it by hand or assert it was never sent.</summary>
internal sealed class RecordingOutbox : IReplicaOutbox
{
    public List<(int To, byte[] Message)> Sent { get; } = [];

    public List<Decision> Decisions { get; } = [];

    /// <summary>Called as each message is sent, before it is recorded: a test can look at the node's disk at that moment.</summary>
    public Action<int, byte[]>? OnSend { get; set; }

    public void Send(int toNodeIndex, byte[] message)
    {
        OnSend?.Invoke(toNodeIndex, message);
        Sent.Add((toNodeIndex, message));
    }

    public void Decided(Decision decision) => Decisions.Add(decision);

    public IEnumerable<byte[]> OfType(MessageType type, int? to = null) =>
        Sent.Where(s => (MessageType)s.Message[0] == type && (to is null || s.To == to)).Select(s => s.Message);
}
