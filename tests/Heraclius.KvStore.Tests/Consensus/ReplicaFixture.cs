using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Tests.Simulation;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>Real replicas of one 4-node cluster, each with in-memory storage that survives a restart, driven message by message.</summary>
internal sealed class ReplicaFixture
{
    /// <summary>A consensus message's type: its first byte.</summary>
    public static MessageType TypeOf(byte[] m) => (MessageType)m[0];

    public static readonly TestTopology T = new(4, 1);

    /// <param name="configure">Changes the options before any replica starts.</param>
    /// <param name="snapshots">The snapshot store of each node (default: in memory, durable at once).</param>
    public ReplicaFixture(Action<ReplicaOptions>? configure = null, Func<int, ISnapshotStore>? snapshots = null)
    {
        configure?.Invoke(Options);
        Snapshots = [.. Enumerable.Range(0, 4).Select(i => snapshots?.Invoke(i) ?? new MemorySnapshotStore())];
        for (var i = 0; i < 4; i++)
        {
            Boot(i, 0);
        }

        // Let every member hear from the others once (status gossip), as running nodes do within a
        // resend interval; a node that has not heard from a quorum never suspects its leader.
        for (var i = 0; i < 4; i++)
        {
            Replicas[i].Tick(Options.ResendIntervalMs);
        }

        Pump(Options.ResendIntervalMs);
    }

    private readonly int[] _delivered = new int[4];

    // Every member saves every checkpoint: the tests built on this fixture drive the save machinery checkpoint by
    // checkpoint (SaveRotationTests covers members saving one checkpoint in several). No inputs ahead unless a test asks
    // (InputsAheadTests, InputsAheadReviewAttackTests): most tests hand a leader's pre-prepare to a follower alone, and
    // with inputs sent ahead it carries only the header (see PrePrepareForm), so the inputs would have to go first.
    public ReplicaOptions Options { get; } = new() { BatchDelayMs = 1, ViewChangeTimeoutMs = 1000, ResendIntervalMs = 5, SaveEveryCheckpoints = 1, SendInputsAhead = false };

    public Replica[] Replicas { get; } = new Replica[4];

    public RecordingOutbox[] Outboxes { get; } = new RecordingOutbox[4];

    public MemoryWriteAheadLog[] Wals { get; } = [.. Enumerable.Range(0, 4).Select(_ => new MemoryWriteAheadLog())];

    public ISnapshotStore[] Snapshots { get; }

    /// <summary>The heights of the decisions in node <paramref name="i"/>'s WAL (whole or by reference), after making its buffered records durable.</summary>
    public List<ulong> WalDecisionHeights(int i)
    {
        Wals[i].Flush();
        var heights = new List<ulong>();
        foreach (var record in Wals[i].ReadAll())
        {
            var r = new Heraclius.KvStore.Encoding.CanonicalReader(record.Payload);
            if (record.Type == (byte)WalRecordType.Decision)
            {
                heights.Add(Heraclius.KvStore.Decisions.Decision.Read(ref r).Height);
            }
            else if (record.Type == (byte)WalRecordType.DecisionRef)
            {
                heights.Add(ProposalReference.Read(ref r).Height);
            }
        }

        return heights;
    }

    /// <summary>
    /// Starts (or restarts, after a crash) node <paramref name="i"/> from its storage. A crash loses what was appended
    /// and not flushed (a prepare's record among them): flush first to model records that did reach the disk, or
    /// use <see cref="StopAndBoot"/> for a graceful restart.
    /// </summary>
    public Replica Boot(int i, long now)
    {
        Wals[i].Crash();
        Outboxes[i] = new RecordingOutbox();
        _delivered[i] = 0;
        Replicas[i] = new Replica(T.Topology, T.ClusterId, i, T.NodeKeys[i], new KeyValueService(), Wals[i], Snapshots[i], Outboxes[i], Options);
        Replicas[i].Start(now);
        return Replicas[i];
    }

    /// <summary>Stops node <paramref name="i"/> gracefully (everything it appended durable, then the clean-stop mark) and starts it again.</summary>
    public Replica StopAndBoot(int i, long now)
    {
        Replicas[i].RecordCleanStop();
        return Boot(i, now);
    }

    /// <summary>
    /// Lets node <paramref name="i"/> swap in the compacted WAL it began writing after a save (it does so at its next
    /// decision or tick): a tick at <paramref name="now"/>.
    /// </summary>
    public void SwapInCompactedWal(int i, long now)
    {
        Assert.True(Wals[i].RewriteInFlight, "no compaction was begun");
        Replicas[i].Tick(now);
        Assert.False(Wals[i].RewriteInFlight);
    }

    /// <summary>Node <paramref name="i"/>'s WAL record types after making its buffered records durable, without the start and clean-stop marks.</summary>
    public List<WalRecordType> RecordTypes(int i)
    {
        Wals[i].Flush();
        return [.. Wals[i].ReadAll().Select(r => (WalRecordType)r.Type).Where(t => t is not (WalRecordType.Started or WalRecordType.CleanStop))];
    }

    private ulong _seq = 1;

    public ClientBatch Batch() =>
        ClientBatch.Create("client-0", T.ClusterId, [new ClientRequest(_seq++, KvOperation.Put("k"u8.ToArray(), "v"u8.ToArray()).ToBytes())], T.ClientKeys[0]);

    /// <summary>Forgets what node <paramref name="from"/> sent so far: it is never delivered.</summary>
    public void Skip(int from) => _delivered[from] = Outboxes[from].Sent.Count;

    public void SkipAll()
    {
        for (var i = 0; i < 4; i++)
        {
            Skip(i);
        }
    }

    /// <summary>
    /// Ticks <paramref name="members"/> at <paramref name="now"/> and delivers the statuses they sent meanwhile
    /// among themselves only, as running members exchange them within a resend interval: members whose timers
    /// expired together see each other's suspicion and change view (each needs f+1 others: f+2 members).
    /// </summary>
    public void TimeOut(long now, params int[] members)
    {
        var marks = members.Select(i => Outboxes[i].Sent.Count).ToArray();
        foreach (var i in members)
        {
            Replicas[i].Tick(now);
        }

        for (var k = 0; k < members.Length; k++)
        {
            var from = members[k];
            foreach (var (to, message) in Outboxes[from].Sent.Skip(marks[k]).ToList())
            {
                if ((MessageType)message[0] == MessageType.Status && members.Contains(to))
                {
                    Replicas[to].OnMessage(from, message, now);
                }
            }
        }
    }

    /// <summary>A status of member <paramref name="peer"/> that suspects the leader of <paramref name="view"/>, signed, as its timers would make it.</summary>
    public static byte[] SuspicionOf(int peer, ulong view, ulong decided = 0) =>
        StatusOf(peer, view, decided, SuspicionSignature(peer, view));

    /// <summary>
    /// A status of member <paramref name="peer"/> in the normal view <paramref name="view"/> with the suspicion flag
    /// set (unless <paramref name="suspects"/> is false) and, when given, <paramref name="signature"/> after it (none: a node
    /// of the version before signed suspicions).
    /// </summary>
    public static byte[] StatusOf(int peer, ulong view, ulong decided, byte[]? signature, bool suspects = true)
    {
        var w = Envelope.Begin(MessageType.Status, peer, 97);
        w.U64(view);
        w.Bool(false);
        w.U64(decided);
        w.Bool(suspects);
        if (signature is not null)
        {
            w.Fixed(signature);
        }

        return w.ToArray();
    }

    /// <summary>Member <paramref name="member"/>'s signed suspicion of <paramref name="view"/> (of <paramref name="cluster"/>, by default this fixture's).</summary>
    public static byte[] SuspicionSignature(int member, ulong view, string? cluster = null) =>
        T.NodeKeys[member].Sign(SuspicionStatement.Bytes(cluster ?? T.ClusterId, view));

    /// <summary>
    /// Member <paramref name="sender"/>'s VIEW-CHANGE(<paramref name="newView"/>) with nothing decided or prepared, carrying a
    /// suspicion proof of view newView-1 with <paramref name="own"/> and <paramref name="others"/> as given (checked by nobody here).
    /// </summary>
    public static byte[] ViewChangeOf(int sender, ulong newView, byte[] own, SignedSuspicion[] others, ulong? proofView = null) =>
        ViewChangeMessage.Encode(sender, newView, null, null, null, T.ClusterId, T.NodeKeys[sender],
            new SuspicionProof(proofView ?? newView - 1, own, others));

    /// <summary>Member <paramref name="sender"/>'s VIEW-CHANGE(<paramref name="newView"/>) with only its own suspicion, and <paramref name="evidence"/>.</summary>
    public static byte[] ViewChangeWithEvidence(int sender, ulong newView, EquivocationEvidence? evidence) =>
        ViewChangeMessage.Encode(sender, newView, null, null, null, T.ClusterId, T.NodeKeys[sender],
            new SuspicionProof(newView - 1, SuspicionSignature(sender, newView - 1), []), evidence);

    /// <summary>A signed message's bytes without its signature: the envelope and body it signs.</summary>
    public static byte[] Unsigned(byte[] signed) => signed.AsSpan(0, signed.Length - SigningKey.SignatureSize).ToArray();

    /// <summary>
    /// <paramref name="unsigned"/> (envelope and body, as <see cref="Unsigned"/> gives, perhaps altered) signed by member
    /// <paramref name="sender"/>: a valid envelope signature around whatever the body says.
    /// </summary>
    public static byte[] Resigned(int sender, ReadOnlySpan<byte> unsigned)
    {
        var w = new Heraclius.KvStore.Encoding.CanonicalWriter(unsigned.Length + SigningKey.SignatureSize);
        w.Fixed(unsigned);
        return Envelope.Finish(w, T.ClusterId, T.NodeKeys[sender]);
    }

    /// <summary>Member <paramref name="signer"/>'s vote signature of <paramref name="hash"/> (a prepare unless <paramref name="kind"/> says otherwise).</summary>
    public static byte[] VoteSignature(int signer, ulong view, ulong height, Hash32 hash, VoteKind kind = VoteKind.Prepare) =>
        T.NodeKeys[signer].Sign(VoteStatement.Bytes(kind, T.ClusterId, view, height, hash));

    /// <summary>Member <paramref name="sender"/>'s PREPARE of <paramref name="hash"/> on its own (a leader's prepare travels in its pre-prepare).</summary>
    public static byte[] LonePrepare(int sender, ulong view, ulong height, Hash32 hash)
    {
        var w = Envelope.Begin(MessageType.Prepare, sender, Envelope.Size(MessageType.Prepare, 8 + 8 + Hash32.Size + SigningKey.SignatureSize));
        w.U64(view);
        w.U64(height);
        w.Hash(hash);
        w.Fixed(VoteSignature(sender, view, height, hash));
        return w.Detach();
    }

    /// <summary>
    /// The view and whole proposal of a pre-prepare <paramref name="prePrepare"/> sent: its own when whole, otherwise the
    /// one its sender prepared (a lean pre-prepare carries the header and at most the inputs).
    /// </summary>
    public (ulong View, Proposal Proposal) ProposalOf(byte[] prePrepare)
    {
        var (_, sender, body) = Envelope.Open(prePrepare);
        var pp = PrePrepareMessage.Read(body);
        if (pp.Proposal is { } whole)
        {
            return (pp.View, whole);
        }

        var accepted = Replicas[sender].AcceptedProposal;
        Assert.True(accepted is not null && accepted.Header.Hash == pp.Header.Hash, "the sender no longer holds the proposal of that pre-prepare");
        return (pp.View, accepted!);
    }

    /// <summary>The same proposal with another state root, pre-prepared with <paramref name="leader"/>'s key: a second header for its height.</summary>
    public static (byte[] PrePrepare, Hash32 Hash) TwinOf(Proposal proposal, ulong view, int leader)
    {
        var h = proposal.Header;
        var other = new DecisionHeader(h.Cluster, h.Height, h.PrevHeaderHash, h.InputsDigest, h.OutputsRoot, Hash32.Of("another state"u8));
        var p = new Proposal(other, proposal.Inputs, proposal.Outputs);
        return (PrePrepareMessage.Sign(T.ClusterId, leader, view, p, T.NodeKeys[leader]), other.Hash);
    }

    /// <summary>Leader 0's followers, and every member.</summary>
    public static readonly int[] Followers = [1, 2, 3];
    public static readonly int[] All = [0, 1, 2, 3];

    /// <summary>How many messages <paramref name="r"/> dropped for <paramref name="reason"/>.</summary>
    public static long Rejected(Replica r, RejectReason reason) => r.Rejections.GetValueOrDefault(reason);

    /// <summary>
    /// Ticks every member but <paramref name="down"/> each 5 ms from <paramref name="now"/> and delivers among them, until
    /// <paramref name="done"/> holds or 20,000 steps have passed; returns the time reached.
    /// </summary>
    public long RunUntil(long now, Func<bool> done, int down = -1)
    {
        for (var step = 0; step < 20_000 && !done(); step++)
        {
            now += 5;
            for (var i = 0; i < Replicas.Length; i++)
            {
                if (i != down)
                {
                    Replicas[i].Tick(now);
                }
            }

            Pump(now, (from, to, _) => from != down && to != down);
        }

        return now;
    }

    /// <summary>One line per member: view, whether changing, decided height (for a failure message).</summary>
    public string Describe() => string.Join(", ", Enumerable.Range(0, Replicas.Length).Select(i =>
        $"node {i}: view {Replicas[i].View}{(Replicas[i].InViewChange ? " (changing)" : "")}, decided {Replicas[i].DecidedHeight}"));

    /// <summary>What an inputs-ahead message (envelope and all) holds.</summary>
    public static InputsAhead InputsAheadOf(byte[] message) => InputsAheadMessage.Read(Envelope.Open(message).Body);

    /// <summary>Whether a status says its sender suspects the leader (the flag after view ‖ in view change ‖ decided).</summary>
    public static bool StatusSuspects(byte[] status) => status[Envelope.HeaderSize + 8 + 1 + 8] == 1;

    /// <summary>Delivers everything not yet delivered, through <paramref name="filter"/> (a lossy network) or all of it, until nothing more is sent.</summary>
    public void Pump(long now, Func<int, int, byte[], bool>? filter = null) => Pump(Replicas, Outboxes, _delivered, now, filter);

    /// <summary>
    /// Delivers what each of <paramref name="replicas"/> sent past <paramref name="delivered"/> (one count per sender), through
    /// <paramref name="filter"/> or all of it, until nothing more is sent: any cluster driven message by message.
    /// </summary>
    public static void Pump(Replica[] replicas, RecordingOutbox[] outboxes, int[] delivered, long now, Func<int, int, byte[], bool>? filter = null)
    {
        bool progress;
        do
        {
            progress = false;
            for (var from = 0; from < replicas.Length; from++)
            {
                var sent = outboxes[from].Sent;
                for (; delivered[from] < sent.Count; delivered[from]++)
                {
                    var (to, message) = sent[delivered[from]];
                    if (filter is null || filter(from, to, message))
                    {
                        replicas[to].OnMessage(from, message, now);
                    }

                    progress = true;
                }
            }
        }
        while (progress);
    }

    /// <summary>
    /// Decides <paramref name="count"/> more heights, one client batch each submitted to the leader, after
    /// <paramref name="done"/> already decided; checks that each of <paramref name="nodes"/> decided each height.
    /// </summary>
    public void DecideBatches(int done, int count, params int[] nodes)
    {
        for (var i = done; i < done + count; i++)
        {
            var now = 10 + (i * 10);
            Replicas[0].SubmitBatch(Batch().Bytes, now);
            Replicas[0].Tick(now + 2);
            Pump(now + 2);
            Assert.All(nodes, n => Assert.Equal((ulong)i + 1, Replicas[n].DecidedHeight));
        }
    }
}
