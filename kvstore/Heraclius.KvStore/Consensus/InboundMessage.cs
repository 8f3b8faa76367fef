using Heraclius.KvStore.Consensus.Messages;

namespace Heraclius.KvStore.Consensus;

/// <summary>A peer's message after its envelope and signature were checked: views of bytes the host never writes again.</summary>
internal readonly record struct InboundMessage(int From, MessageType Type, int Sender, ReadOnlyMemory<byte> Message, ReadOnlyMemory<byte> Body);
