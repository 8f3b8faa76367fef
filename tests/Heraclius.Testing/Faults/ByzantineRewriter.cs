using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.Testing.Faults;

/// <summary>
/// Rewrites what a faulty node sends, with that node's own key, so it can lie in every way a
/// member can: different proposals to different followers, wrong outputs, votes for headers that
/// do not exist, forged certificates in VIEW-CHANGE, replays of old messages, and garbage.
/// </summary>
public sealed class ByzantineRewriter
{
    private readonly ByzantineMode _mode;
    private readonly SigningKey _key;
    private readonly string _cluster;
    private readonly int _self;
    private readonly Random _random;
    private readonly List<byte[]> _history = [];
    // The inputs this node last sent ahead, which its header-only pre-prepares name.
    private InputsAhead? _ahead;

    public ByzantineRewriter(ByzantineMode mode, SigningKey key, string cluster, int self, Random random)
    {
        _mode = mode;
        _key = key;
        _cluster = cluster;
        _self = self;
        _random = random;
    }

    /// <summary>Pre-prepares sent to odd members with another header than the even ones got.</summary>
    public long Equivocations { get; private set; }

    public IEnumerable<byte[]> Rewrite(int to, byte[] message)
    {
        var type = (MessageType)message[0];
        if (type == MessageType.InputsAhead)
        {
            _ahead = InputsAheadMessage.Read(Envelope.Open(message).Body);
        }

        if (_history.Count < 512)
        {
            _history.Add(message);
        }

        if (_mode.HasFlag(ByzantineMode.Replay) && _history.Count > 0 && _random.NextDouble() < 0.2)
        {
            yield return _history[_random.Next(_history.Count)];
        }

        if (_mode.HasFlag(ByzantineMode.Garbage) && _random.NextDouble() < 0.05)
        {
            var garbage = (byte[])message.Clone();
            garbage[_random.Next(garbage.Length)] ^= (byte)(1 + _random.Next(255));
            yield return garbage;
        }

        switch (type)
        {
            case MessageType.PrePrepare when _mode.HasFlag(ByzantineMode.WrongOutputs):
                yield return WrongOutputs(message) ?? message;
                break;
            case MessageType.PrePrepare when _mode.HasFlag(ByzantineMode.Equivocate) && to % 2 == 1:
                var twin = Equivocate(message);
                if (twin is not null)
                {
                    Equivocations++;
                }

                yield return twin ?? message;
                break;
            case MessageType.Prepare or MessageType.Commit when _mode.HasFlag(ByzantineMode.LyingVotes) && _random.NextDouble() < 0.7:
                yield return LyingVote(message);
                break;
            case MessageType.InputsAhead when _mode.HasFlag(ByzantineMode.LyingInputsAhead):
                yield return LyingInputsAhead(to, message);
                break;
            case MessageType.ViewChange when _mode.HasFlag(ByzantineMode.LyingViewChanges):
                yield return ForgedViewChange(message) ?? message;
                break;
            default:
                yield return message;
                break;
        }
    }

    /// <summary>
    /// The pre-prepare's view and proposal; a lean one's proposal has no outputs (its inputs are the message's or, header
    /// only, the ones this node sent ahead), and null when those inputs are unknown here.
    /// </summary>
    private (ulong View, Proposal? Proposal, PrePrepareForm Form) ReadPrePrepare(byte[] message)
    {
        var (_, _, body) = Envelope.Open(message);
        var pp = PrePrepareMessage.Read(body);
        if (pp.Proposal is { } whole)
        {
            return (pp.View, whole, pp.Form);
        }

        var inputs = pp.Inputs
            ?? (_ahead is { } a && a.View == pp.View && a.Height == pp.Header.Height ? a.Inputs : (ReadOnlyMemory<byte>?)null);
        return (pp.View, inputs is { } i ? new Proposal(pp.Header, i, []) : null, pp.Form);
    }

    /// <summary>
    /// The pre-prepare of <paramref name="proposal"/> signed by this node: whole when <paramref name="form"/> is, otherwise
    /// with its inputs (a lie's inputs are not the ones sent ahead).
    /// </summary>
    private byte[] SignPrePrepare(ulong view, Proposal proposal, PrePrepareForm form = PrePrepareForm.Whole) =>
        PrePrepareMessage.Sign(_cluster, _self, view, proposal, _key, form == PrePrepareForm.Whole ? form : PrePrepareForm.Inputs);

    /// <summary>Same requests with another timestamp: a different, internally consistent header (outputs do not depend on time).</summary>
    private byte[]? Equivocate(byte[] message)
    {
        // At a checkpoint height too: its stateRoot is the capture an interval before, which the twin's timestamp does not change.
        var (view, p, form) = ReadPrePrepare(message);
        return p is null ? null : SignPrePrepare(view, Twin(p), form);
    }

    /// <summary>
    /// The same client batches (no inbound groups) one millisecond later: another header for the same height whose
    /// outputs a key-value cluster re-executes identically (they do not depend on time).
    /// </summary>
    public static Proposal Twin(Proposal p)
    {
        var inputs = ProposalInputs.Parse(p.Inputs);
        var alt = new ProposalInputs(inputs.Timestamp + 1, inputs.Batches).ToBytes();
        var h = p.Header;
        var header = new DecisionHeader(h.Cluster, h.Height, h.PrevHeaderHash, Hash32.Of(alt), h.OutputsRoot, h.StateRoot);
        return new Proposal(header, alt, p.Outputs);
    }

    /// <summary>
    /// Inputs ahead that the pre-prepare will not carry: to odd members the same batches a millisecond later (valid, so
    /// they execute them and must roll back), to even members inputs cut short (unparsable, so refused).
    /// </summary>
    private byte[] LyingInputsAhead(int to, byte[] message)
    {
        var (_, _, body) = Envelope.Open(message);
        var ahead = InputsAheadMessage.Read(body);
        byte[] lie;
        if (to % 2 == 1)
        {
            var inputs = ProposalInputs.Parse(ahead.Inputs);
            lie = new ProposalInputs(inputs.Timestamp + 1, inputs.Batches, inputs.Inbound).ToBytes();
        }
        else
        {
            lie = ahead.Inputs.Span[..(ahead.Inputs.Length / 2)].ToArray();
        }

        return InputsAheadMessage.Encode(_self, ahead.View, ahead.Height, ahead.PreviousHeader, lie);
    }

    /// <summary>Flips a byte of the first output group and recomputes the header: consistent, signed, and wrong.</summary>
    private byte[]? WrongOutputs(byte[] message)
    {
        var (view, p, form) = ReadPrePrepare(message);
        if (p is null)
        {
            return null;
        }

        if (form != PrePrepareForm.Whole)
        {
            // Without outputs to flip: a header whose outputs root is another, which no follower's execution gives.
            var lean = p.Header;
            var root = lean.OutputsRoot.ToArray();
            root[0] ^= 0xFF;
            var wrong = new DecisionHeader(lean.Cluster, lean.Height, lean.PrevHeaderHash, lean.InputsDigest, Hash32.Parse(root), lean.StateRoot);
            return SignPrePrepare(view, new Proposal(wrong, p.Inputs, []), form);
        }

        if (p.Outputs.Count == 0)
        {
            return null;
        }

        var outputs = p.Outputs.ToArray();
        var payload = outputs[0].Payload.ToArray();
        payload[^1] ^= 0xFF;
        outputs[0] = outputs[0] with { Payload = payload };
        var h = p.Header;
        var header = new DecisionHeader(h.Cluster, h.Height, h.PrevHeaderHash, h.InputsDigest, Proposal.OutputsRoot(outputs), h.StateRoot);
        return SignPrePrepare(view, new Proposal(header, p.Inputs, outputs));
    }

    /// <summary>A correctly signed vote for a header that was never proposed (or, sometimes, a bad signature).</summary>
    private byte[] LyingVote(byte[] message)
    {
        var kind = (MessageType)message[0] == MessageType.Prepare ? VoteKind.Prepare : VoteKind.Commit;
        var (_, _, body) = Envelope.Open(message);
        var r = new CanonicalReader(body.Span);
        var view = r.U64();
        var height = r.U64();
        var fake = new byte[32];
        _random.NextBytes(fake);
        var hash = Hash32.Parse(fake);
        var signature = _random.NextDouble() < 0.5 ? _key.Sign(VoteStatement.Bytes(kind, _cluster, view, height, hash)) : fake.Concat(fake).ToArray();
        var w = Envelope.Begin((MessageType)message[0], _self, 128);
        w.U64(view);
        w.U64(height);
        w.Hash(hash);
        w.Fixed(signature);
        return w.ToArray();
    }

    /// <summary>A VIEW-CHANGE claiming a prepared certificate whose signatures are all its own (duplicates) over a fake proposal.</summary>
    private byte[]? ForgedViewChange(byte[] message)
    {
        var vc = ViewChangeMessage.Parse(message);
        var height = vc.LastDecided + 1;
        var header = new DecisionHeader(_cluster, height, vc.LastHeader?.Hash ?? Hash32.Zero, Hash32.Of([]), Proposal.OutputsRoot([]), Hash32.Zero);
        var proposal = new Proposal(header, ReadOnlyMemory<byte>.Empty, []);
        var sig = _key.Sign(VoteStatement.Bytes(VoteKind.Prepare, _cluster, vc.NewView - 1, height, header.Hash));
        var forged = new PreparedCertificate(vc.NewView - 1, proposal, [new(_self, sig), new(_self, sig), new(_self, sig)]);
        return ViewChangeMessage.Encode(_self, vc.NewView, vc.LastHeader, vc.LastQc, forged, _cluster, _key, vc.Suspicions);
    }
}
