using System.Collections.Concurrent;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>Records every delivered message with the sender index the transport reported.</summary>
internal sealed class RecordingHandler : IPeerMessageHandler
{
    private readonly ConcurrentQueue<(int From, byte[] Payload)> _received = new();

    public int Count => _received.Count;

    public IReadOnlyList<(int From, byte[] Payload)> Received => [.. _received];

    public void OnPeerMessage(int fromNodeIndex, ReadOnlyMemory<byte> message) =>
        _received.Enqueue((fromNodeIndex, message.ToArray()));

    public bool Contains(string text) =>
        _received.Any(r => System.Text.Encoding.UTF8.GetString(r.Payload) == text);
}
