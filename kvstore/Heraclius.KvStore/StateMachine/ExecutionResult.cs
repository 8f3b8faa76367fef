using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.StateMachine;

/// <summary>What executing one proposal produced: its output groups (destination order), the state root when a checkpoint, and the open transaction.</summary>
public sealed record ExecutionResult(IReadOnlyList<OutputGroup> Outputs, Hash32 StateRoot, StateTransaction Transaction);
