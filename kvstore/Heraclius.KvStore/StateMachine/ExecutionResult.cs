using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.StateMachine;

/// <summary>What executing one proposal produced: the inputs it read, its output groups (destination order), the state root when a checkpoint, and the open transaction.</summary>
public sealed record ExecutionResult(ProposalInputs Inputs, IReadOnlyList<OutputGroup> Outputs, Hash32 StateRoot, StateTransaction Transaction);
