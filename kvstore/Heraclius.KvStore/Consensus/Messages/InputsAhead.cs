using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>What an <see cref="InputsAheadMessage"/> holds: the leader's view, the height, the header it extends and the inputs' bytes.</summary>
public sealed record InputsAhead(ulong View, ulong Height, Hash32 PreviousHeader, ReadOnlyMemory<byte> Inputs);
