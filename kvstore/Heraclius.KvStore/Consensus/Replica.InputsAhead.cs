using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Consensus;

// A follower executes the leader's inputs as soon as they arrive, ahead of the pre-prepare that the leader
// can send only once it has executed them itself: a round then costs one execution, not two in a row. The
// execution is speculative in every sense: it stays open in the slot like any other, binds no vote, and is
// kept only when the pre-prepare's inputs are byte for byte the ones it ran and its outputs and state root
// are what they gave; otherwise it is rolled back and the proposal is executed as it would have been.
public sealed partial class Replica
{
    // Inputs for the height after the one still undecided here (the leader decided it first and went on):
    // executed once this node decides, if they are still the next height's and the view has not moved.
    private InputsAhead? _inputsAheadHeld;

    /// <summary>
    /// Whether this node, leading, sends its inputs ahead: where the option allows it, and not on a coordinator that
    /// routes to shards. Such a coordinator executes little (it routes requests and answers them), so its followers
    /// gain little time, while the second copy of inputs full of shard groups costs every member CPU: on one machine
    /// `bench get` lost 10-15% with it (2 alternated rounds of each: all clusters 11.7k / 11.8k GET/s at 139-141 us of
    /// CPU per GET, shards only 13.0k / 11.8k at 124-135 us, none 12.5k / 12.8k at 128-131 us).
    /// </summary>
    /// <remarks>Set once by the constructor: the topology and the options do not change under a replica.</remarks>
    private readonly bool _sendsInputsAhead;

    /// <summary>Executions of a leader's inputs ahead of its pre-prepare.</summary>
    public long InputsAheadExecuted { get; private set; }

    /// <summary>Executions ahead that a pre-prepare took (the rest were rolled back).</summary>
    public long InputsAheadUsed { get; private set; }

    /// <summary>Client batches whose signatures this node remembers as checked (tests: bounded while nothing is decided).</summary>
    internal int VerifiedBatchesHeld => _verifiedBatches.Count;

    /// <summary>Executions ahead rolled back unused: another proposal came, or a view change, or catch-up, moved on.</summary>
    public long InputsAheadWasted { get; private set; }

    private void OnInputsAhead(int from, ReadOnlyMemory<byte> body)
    {
        var ahead = InputsAheadMessage.Read(body);
        if (from != _cluster.LeaderOf(ahead.View))
        {
            Reject(RejectReason.InvalidInputsAhead, from);
            return;
        }

        if (ahead.View != _view || _inViewChange)
        {
            return;
        }

        if (ahead.Height == _decided + 2)
        {
            _inputsAheadHeld = ahead;
            return;
        }

        ExecuteAhead(ahead, from);
    }

    private void ExecuteInputsAheadHeld()
    {
        if (_inputsAheadHeld is not { } held)
        {
            return;
        }

        if (held.Height > _decided + 1)
        {
            return;
        }

        _inputsAheadHeld = null;
        if (held.View == _view && !_inViewChange)
        {
            ExecuteAhead(held, _cluster.LeaderOf(held.View));
        }
    }

    private void ExecuteAhead(InputsAhead ahead, int from)
    {
        // Only on the decided state, with nothing of this height open or prepared, and where the next pre-prepare is
        // free to carry new inputs (not a NEW-VIEW's certified proposal, not a height its QCs already fill).
        if (ahead.Height != _decided + 1 || ahead.PreviousHeader != _lastHeaderHash || _slot.Exec is not null
            || _slot.Accepted is not null || VotesHeld || _snapshotFetch is not null || _newViewForced is not null
            || ahead.Height <= _newViewMaxDecided)
        {
            return;
        }

        ProposalInputs inputs;
        try
        {
            inputs = ProposalInputs.Parse(ahead.Inputs);
        }
        catch (MalformedMessageException)
        {
            Reject(RejectReason.InvalidInputsAhead, from);
            return;
        }

        if (!CheckInputs(inputs, freshTimestamp: true, from, RejectReason.InvalidInputsAhead))
        {
            return;
        }

        _slot.Exec = _executor.Execute(_state, ahead.Height, inputs, StateRootFor(ahead.Height));
        _slot.ExecHash = default;
        _slot.ExecAheadInputs = ahead.Inputs;
        InputsAheadExecuted++;
    }

    /// <summary>
    /// Rolls back an execution ahead that no pre-prepare took (one of a proposal this node accepted stays): what reads
    /// the state from here on (overdue timers, answered batches, a new leader's proposal) reads the decided state.
    /// Whether there was one.
    /// </summary>
    private bool DropExecutionAhead()
    {
        if (_slot.ExecAheadInputs is null)
        {
            return false;
        }

        DropExecution();
        return true;
    }

    /// <summary>
    /// The verdict on <paramref name="proposal"/> (whose header was checked) when an execution ahead ran exactly its
    /// inputs on this decided state: its outputs and state root decide, as a fresh execution's would. Null when there
    /// is none to take; a different one is left for the caller to roll back.
    /// </summary>
    private bool? TakeExecutionAhead(Proposal proposal, bool freshTimestamp, int from)
    {
        if (_slot.Exec is not { } exec || _slot.ExecAheadInputs is not { } ran || !ran.Span.SequenceEqual(proposal.Inputs.Span))
        {
            return null;
        }

        // Checked when the inputs arrived; the clock has moved since, and a fresh proposal is judged by now.
        if (freshTimestamp && !WithinTolerance(exec.Inputs.Timestamp))
        {
            DropExecution();
            Reject(RejectReason.InvalidProposal, from);
            return false;
        }

        if (!proposal.HasOutputs(exec.Outputs) || exec.StateRoot != proposal.Header.StateRoot)
        {
            DropExecution();
            Reject(RejectReason.WrongOutputs, from);
            return false;
        }

        _slot.ExecHash = proposal.Header.Hash;
        _slot.ExecAheadInputs = null;
        InputsAheadUsed++;
        return true;
    }
}
