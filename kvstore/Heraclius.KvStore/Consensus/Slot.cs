using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Consensus;

/// <summary>Everything a replica holds about the one undecided height.</summary>
internal sealed class Slot
{
    /// <summary>The proposal accepted in <see cref="AcceptedView"/> (this node prepared it).</summary>
    public Proposal? Accepted { get; set; }

    public ulong AcceptedView { get; set; }

    /// <summary>
    /// This node's prepare signature of <see cref="Accepted"/> when it proposed it as the leader of <see cref="AcceptedView"/>:
    /// what a retransmission of its pre-prepare carries.
    /// </summary>
    public byte[]? OwnPrePrepareSignature { get; set; }

    /// <summary>This leader's retransmitted pre-prepare (form <see cref="Messages.PrePrepareForm.Inputs"/>), built at the first retransmission and kept for the next.</summary>
    public byte[]? PrePrepareMessage { get; set; }

    /// <summary>The speculative execution of a proposal (its header hash in <see cref="ExecHash"/>), rolled back if another is decided.</summary>
    public ExecutionResult? Exec { get; set; }

    public Hash32 ExecHash { get; set; }

    /// <summary>
    /// When <see cref="Exec"/> ran on a leader's inputs sent ahead of its pre-prepare: those inputs' bytes (no header
    /// names it yet, so <see cref="ExecHash"/> is zero). Taken for the pre-prepare whose inputs are these bytes.
    /// </summary>
    public ReadOnlyMemory<byte>? ExecAheadInputs { get; set; }

    public PreparedCertificate? Prepared { get; set; }

    /// <summary>The view in which this node last sent a commit (only for <see cref="Prepared"/>).</summary>
    public ulong? CommitSentView { get; set; }

    public VoteSet Prepares { get; } = new();

    public VoteSet Commits { get; } = new();

    /// <summary>Proposals seen with a valid header for this height, by header hash, to decide from a QC.</summary>
    public Dictionary<Hash32, Proposal> Known { get; } = [];

    /// <summary>
    /// Header hashes of the proposals of this height that the WAL holds whole, in records recovery
    /// reads before anything appended now: later records may name them by reference. Only records of
    /// this height are appended while the slot lives, and a rewrite begins only once it is reset (it may
    /// be swapped in later, mid-height: what was flushed since it began is copied after it whole).
    /// </summary>
    public HashSet<Hash32> InWal { get; } = [];

    public void Reset()
    {
        Accepted = null;
        AcceptedView = 0;
        OwnPrePrepareSignature = null;
        PrePrepareMessage = null;
        Exec = null;
        ExecHash = default;
        ExecAheadInputs = null;
        Prepared = null;
        CommitSentView = null;
        Prepares.Clear();
        Commits.Clear();
        Known.Clear();
        InWal.Clear();
    }
}
