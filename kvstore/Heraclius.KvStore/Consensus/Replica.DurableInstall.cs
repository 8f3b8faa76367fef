using Heraclius.KvStore.Consensus.Messages;

namespace Heraclius.KvStore.Consensus;

// A snapshot installed by catch-up replaces the state the WAL rebuilds. Until it is durable, a crash
// recovers the older state, below the installed height, and a vote made meanwhile for a height above
// it would be forgotten (recovery restores only the vote for the height after the recovered one): the
// node could then prepare a second proposal in the same view. So a node signs nothing (prepare, commit,
// pre-prepare, VIEW-CHANGE, NEW-VIEW) between installing a snapshot and the moment it is durable, and
// keeps the messages that would make it sign for then, as a network delay would have. It goes on
// taking decisions from peers meanwhile: they are in the WAL before any later vote.
public sealed partial class Replica
{
    // Messages held while an installed snapshot is saved: enough for a few heights of votes and a view
    // change from every peer, and a few pre-prepares (each up to a whole proposal). Beyond either bound the
    // oldest are dropped, as a lossy network would: the newest are the likeliest still to matter, and
    // retransmission and catch-up recover the rest.
    private const int MaxHeldMessages = 4096;
    private const long MaxHeldBytes = 64L << 20;

    private readonly Queue<InboundMessage> _heldMessages = new();
    private long _heldBytes;
    private ulong _durableSnapshotHeight;
    private ulong _installedSnapshotHeight;

    /// <summary>Whether this node installed a snapshot that is not durable yet, and so signs nothing.</summary>
    public bool VotesHeld { get; private set; }

    /// <summary>Messages dropped because too many waited for an installed snapshot to be durable.</summary>
    public long HeldMessagesDropped { get; private set; }

    /// <summary>After installing the snapshot at <paramref name="height"/>: no vote until it is durable.</summary>
    private void HoldVotesUntilDurable(ulong height)
    {
        _installedSnapshotHeight = height;
        if (height > _durableSnapshotHeight && !VotesHeld)
        {
            VotesHeld = true;
            ReplicaLog.VotesHeld(_logger, NodeId, height);
        }

        // A hold already on (an earlier install still being saved) stays on even when this install is
        // durable at once (its save waited for the earlier one): only ResumeVotesWhenInstallDurable ends a
        // hold, because it also handles the messages that waited. Clearing it here left them queued.
    }

    /// <summary>
    /// A message that would make this node sign, kept while <see cref="VotesHeld"/>, and inputs ahead with them, in order:
    /// a header-only pre-prepare names the inputs sent before it, which handled at once would be lost to a held NEW-VIEW
    /// (another view) or replaced by the next height's (review). False when it is handled now.
    /// </summary>
    private bool HoldForDurableInstall(in InboundMessage message)
    {
        if (!VotesHeld || !(LeadsToSigning(message.Type) || message.Type == MessageType.InputsAhead))
        {
            return false;
        }

        while (_heldMessages.Count > 0
               && (_heldMessages.Count >= MaxHeldMessages || _heldBytes + message.Message.Length > MaxHeldBytes))
        {
            _heldBytes -= _heldMessages.Dequeue().Message.Length;
            HeldMessagesDropped++;
        }

        _heldMessages.Enqueue(message);
        _heldBytes += message.Message.Length;
        return true;
    }

    /// <summary>
    /// Once the installed snapshot is durable: begins compacting the WAL down to it (swapped in at a later tick; the
    /// votes signed meanwhile are logged into the current log and copied after the compacted records), then handles what
    /// waited, in arrival order.
    /// </summary>
    private void ResumeVotesWhenInstallDurable()
    {
        if (!VotesHeld)
        {
            return;
        }

        if (_installedSnapshotHeight > _durableSnapshotHeight)
        {
            if (_pendingSave is not { IsCompleted: true })
            {
                return;
            }

            // Nothing was signed since the install, so no vote for an undecided height is in the WAL.
            FinishPendingSave();
        }

        VotesHeld = false;
        ReplicaLog.VotesResumed(_logger, NodeId, _installedSnapshotHeight, _heldMessages.Count);
        _heldBytes = 0;
        while (_heldMessages.TryDequeue(out var held))
        {
            try
            {
                Handle(held);
            }
            catch (Exception e) when (IsMalformed(e))
            {
                Reject(RejectReason.Malformed, held.From);
            }
        }

        ProcessForcedProposal();
        TryPropose();
    }

    /// <summary>Which messages make this node sign (a vote, a VIEW-CHANGE, a NEW-VIEW or its forced proposal).</summary>
    private static bool LeadsToSigning(MessageType type) =>
        type is MessageType.PrePrepare or MessageType.Prepare or MessageType.Commit or MessageType.ViewChange or MessageType.NewView;
}
