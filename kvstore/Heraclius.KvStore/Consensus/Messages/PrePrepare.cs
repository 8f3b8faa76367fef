using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// A pre-prepare as read: its view, the header the leader's <see cref="PrepareSignature"/> covers, and what else it carried
/// (see <see cref="PrePrepareForm"/>): <see cref="Proposal"/> only in the whole form, <see cref="Inputs"/> in the whole and
/// the inputs forms. Nothing in it is verified.
/// </summary>
public sealed record PrePrepare(ulong View, DecisionHeader Header, PrePrepareForm Form, ReadOnlyMemory<byte>? Inputs, Proposal? Proposal, byte[] PrepareSignature);
