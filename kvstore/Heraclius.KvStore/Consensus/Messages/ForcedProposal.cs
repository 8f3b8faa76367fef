using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// The proposal a NEW-VIEW forces: the prepared header and its inputs. Its outputs are each member's own execution,
/// which must give the header's outputsRoot and stateRoot.
/// </summary>
public sealed record ForcedProposal(DecisionHeader Header, ReadOnlyMemory<byte> Inputs);
