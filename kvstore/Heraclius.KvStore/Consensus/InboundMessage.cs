using Heraclius.KvStore.Consensus.Messages;

namespace Heraclius.KvStore.Consensus;

/// <summary>
/// A peer's message after its envelope and signature were checked: views of bytes the host never writes again. A
/// VIEW-CHANGE comes parsed (its signature is checked over what the parse gives), so it is read once.
/// </summary>
internal readonly record struct InboundMessage(int From, MessageType Type, int Sender, ReadOnlyMemory<byte> Message, ReadOnlyMemory<byte> Body, ViewChangeMessage? ViewChange = null);
