using System.Collections.Concurrent;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>Stands in for the consensus layer's gateway: accepts batches that start with 1, refuses the others as unknown_client.</summary>
internal sealed class FakeClientGateway : IClientGateway
{
    public ConcurrentQueue<byte[]> Batches { get; } = new();

    public SubmitResult Submit(ReadOnlyMemory<byte> batch)
    {
        Batches.Enqueue(batch.ToArray());
        return batch.Length > 0 && batch.Span[0] == 1
            ? SubmitResult.Ok
            : SubmitResult.Rejected(SubmitErrorCodes.UnknownClient, "no such client");
    }
}
