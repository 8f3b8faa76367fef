using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.StateMachine;

/// <summary>What executing one proposal produced: the inputs it read, its output groups (destination order), the state root when a checkpoint, and the open transaction.</summary>
public sealed record ExecutionResult(ProposalInputs Inputs, IReadOnlyList<OutputGroup> Outputs, Hash32 StateRoot, StateTransaction Transaction)
{
    /// <summary>
    /// The index of the first client batch in which the output budget (<see cref="Executor.MaxOutputBytes"/>) refused a
    /// request or withheld a stored answer, -1 when it did neither: a leader proposes the batches before it (at least the
    /// first) and keeps the rest for its next proposal.
    /// </summary>
    public int FirstBatchOverBudget { get; init; } = -1;
}
