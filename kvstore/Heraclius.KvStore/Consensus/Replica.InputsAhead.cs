using Heraclius.KvStore.Crypto;
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

    // The last inputs the leader of the current view sent ahead for decided+1 or decided+2, executed or not, and their
    // digest (hashed once: a header-only pre-prepare names them by it). Dropped once decided past.
    private InputsAhead? _inputsAheadLast;
    private Hash32 _inputsAheadLastDigest;

    /// <summary>
    /// Whether this node, leading, sends its inputs ahead: where the option allows it, and not on a coordinator that
    /// routes to shards. Such a coordinator executes little (it routes requests and answers them), so its followers
    /// gain little time, while the second copy of inputs full of shard groups costs every member CPU: on one machine
    /// `bench get` lost 10-15% with it (2 alternated rounds of each: all clusters 11.7k / 11.8k GET/s at 139-141 us of
    /// CPU per GET, shards only 13.0k / 11.8k at 124-135 us, none 12.5k / 12.8k at 128-131 us). Measured again once
    /// pre-prepares after inputs ahead came to carry the header alone (no second copy): still a loss, `bench get --vus
    /// 1024`, 3 alternated pairs, 20.3k / 17.6k / 17.2k GET/s at 78-88 us against 21.1k / 18.6k / 20.1k at 72-82 us.
    /// </summary>
    /// <remarks>Set once by the constructor: the topology and the options do not change under a replica.</remarks>
    private readonly bool _sendsInputsAhead;

    /// <summary>Executions of a leader's inputs ahead of its pre-prepare.</summary>
    public long InputsAheadExecuted { get; private set; }

    /// <summary>Executions ahead that a pre-prepare took (the rest were rolled back).</summary>
    public long InputsAheadUsed { get; private set; }

    /// <summary>Client batches whose signatures this node remembers as checked (tests: bounded while nothing is decided).</summary>
    internal int VerifiedBatchesHeld => _verifiedBatches.Count;

    /// <summary>Header-only pre-prepares ignored because the inputs they name never arrived here ahead of them.</summary>
    public long PrePreparesWithoutInputs { get; private set; }

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

        if (ahead.Height == _decided + 1 || ahead.Height == _decided + 2)
        {
            _inputsAheadLast = ahead;
            _inputsAheadLastDigest = Hash32.Of(ahead.Inputs.Span);
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
        if (_inputsAheadLast is { } last && last.Height <= _decided)
        {
            _inputsAheadLast = null;
        }

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
    /// The inputs the leader of <paramref name="view"/> sent ahead for <paramref name="header"/>'s height and predecessor when
    /// they are the ones its inputs digest names; null otherwise. Inputs ahead bind nobody (a leader's pre-prepare is what
    /// it is judged by), so other ones are not held against the header: the pre-prepare waits for the whole retransmission.
    /// </summary>
    private ReadOnlyMemory<byte>? InputsSentAhead(ulong view, DecisionHeader header) =>
        _inputsAheadLast is { } ahead && ahead.View == view && ahead.Height == header.Height && ahead.PreviousHeader == header.PrevHeaderHash
            && _inputsAheadLastDigest == header.InputsDigest
            ? ahead.Inputs
            : (ReadOnlyMemory<byte>?)null; // typed: a bare null would convert to an empty memory through byte[]

    /// <summary>
    /// Takes the execution ahead for <paramref name="header"/> (checked) when it ran exactly <paramref name="inputs"/> on
    /// this decided state: its outputs and state root decide, as a fresh execution's would, and <paramref name="accepted"/>
    /// is the proposal to accept (null when refused). False when there is none to take; a different one is left for the
    /// caller to roll back.
    /// </summary>
    private bool TakeExecutionAhead(DecisionHeader header, ReadOnlyMemory<byte> inputs, Proposal? whole, bool freshTimestamp, int from, out Proposal? accepted)
    {
        accepted = null;
        if (_slot.Exec is not { } exec || _slot.ExecAheadInputs is not { } ran || !ran.Span.SequenceEqual(inputs.Span))
        {
            return false;
        }

        // Checked when the inputs arrived; the clock has moved since, and a fresh proposal is judged by now.
        if (freshTimestamp && !WithinTolerance(exec.Inputs.Timestamp))
        {
            DropExecution();
            Reject(RejectReason.InvalidProposal, from);
            return true;
        }

        if (ProposalFrom(header, inputs, whole, exec) is not { } proposal)
        {
            DropExecution();
            Reject(RejectReason.WrongOutputs, from);
            return true;
        }

        _slot.ExecHash = header.Hash;
        _slot.ExecAheadInputs = null;
        InputsAheadUsed++;
        accepted = proposal;
        return true;
    }
}
