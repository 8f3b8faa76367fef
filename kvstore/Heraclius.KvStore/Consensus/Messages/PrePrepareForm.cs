namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>What a pre-prepare carries besides the header (see <see cref="PrePrepareMessage"/>).</summary>
public enum PrePrepareForm : byte
{
    /// <summary>The whole proposal: header, inputs and outputs (retransmissions, and any leader that wants).</summary>
    Whole = 0,

    /// <summary>The header and the inputs; each follower computes the outputs, which the header's root must match.</summary>
    Inputs = 1,

    /// <summary>
    /// The header alone: the inputs are the ones the leader sent ahead for this view and height (the header's inputs digest
    /// names them), and each follower computes the outputs.
    /// </summary>
    HeaderOnly = 2,
}
