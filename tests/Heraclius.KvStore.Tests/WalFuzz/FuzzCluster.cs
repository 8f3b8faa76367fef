using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Tests.Simulation;
using Heraclius.Testing.Faults;

namespace Heraclius.KvStore.Tests.WalFuzz;

public sealed class FuzzNode : IReplicaOutbox
{
    private readonly FuzzCluster _sim;

    public FuzzNode(FuzzCluster sim, int index)
    {
        _sim = sim;
        Index = index;
    }

    public int Index { get; }

    public CrashingWal Wal { get; } = new();

    public DeferredSnapshotStore Snapshots { get; } = new();

    public Replica? Replica { get; private set; }

    public bool Alive => Replica is not null;

    public ByzantineRewriter? Byzantine { get; set; }

    public int Incarnation { get; private set; }

    public Dictionary<ulong, Hash32> Decided { get; } = [];

    /// <summary>Every vote this node ever signed: (kind, view, height) → hash. Two hashes = equivocation.</summary>
    public Dictionary<(byte Kind, ulong View, ulong Height), Hash32> Votes { get; } = [];

    public void Boot(long now)
    {
        Incarnation++;
        Snapshots.Random = _sim.Random;
        var r = new Replica(_sim.Topology.Topology, _sim.Topology.ClusterId, Index, _sim.Topology.NodeKeys[Index],
            new KeyValueService(), Wal, Snapshots, this, _sim.Options, DebugLogger.Enabled ? new DebugLogger(() => _sim.Now) : null);
        Replica = r;
        try
        {
            r.Start(now);
        }
        catch (SimCrashException)
        {
            Crash();
            _sim.ScheduleReboot(this);
        }
        catch (Exception e)
        {
            _sim.Violations.Add($"node {Index} failed to recover at {now}: {e.GetType().Name}: {e.Message}");
            Replica = null;
            throw;
        }

        _sim.Arm(this);
        _abstainAtBoot = r.AbstainsThroughView;
        _durablePreparesAtBoot.Clear();
        foreach (var w in Wal.Inner.ReadAll())
        {
            if (w.Type == (byte)WalRecordType.PrepareSent)
            {
                var pr = new Heraclius.KvStore.Encoding.CanonicalReader(w.Payload);
                var view = pr.U64();
                _durablePreparesAtBoot.Add((view, Proposal.Read(ref pr).Header.Hash));
            }
        }
    }

    // One fsync per decision: after a crash the replica abstains through this view (null after a clean boot), except
    // for re-sending the prepares whose records were durable at boot.
    private ulong? _abstainAtBoot;
    private readonly HashSet<(ulong View, Hash32 Hash)> _durablePreparesAtBoot = [];

    public void Run(Action<Replica> action)
    {
        var r = Replica;
        if (r is null)
        {
            return;
        }

        var heldBefore = r.VotesHeld;
        var installsBefore = r.SnapshotsInstalled;
        try
        {
            action(r);
        }
        catch (SimCrashException)
        {
            Crash();
            _sim.ScheduleReboot(this);
            return;
        }

        ObserveHold(r, heldBefore, installsBefore);

        if (Snapshots.Scheduler.Pending > 0 && !_saveScheduled)
        {
            // One disk latency per save (a slow disk sometimes), not one per step: the hold lasts that long.
            _saveScheduled = true;
            var inc = Incarnation;
            _sim.At(_sim.Now + (_sim.Random.Next(4) == 0 ? _sim.Random.Next(1500) : _sim.Random.Next(300)), () =>
            {
                if (inc == Incarnation)
                {
                    _saveScheduled = false;
                    if (Alive)
                    {
                        Snapshots.Scheduler.RunAll();
                    }
                }
            });
        }
    }

    /// <summary>Counts installs, holds and their ends; sometimes schedules a crash while the hold lasts.</summary>
    private void ObserveHold(Replica r, bool heldBefore, long installsBefore)
    {
        if (r.SnapshotsInstalled > installsBefore)
        {
            _installUnchecked = r.DecidedHeight;
            CrashingWal.Count(_sim.Healed ? "install (after heal)" : "install (fault phase)");
            if (heldBefore)
            {
                CrashingWal.Count("install while already held");
            }

            if (r.VotesHeld)
            {
                CrashingWal.Count("install held (save in flight)");
                if (!_sim.Healed && _sim.Random.NextDouble() < _sim.HoldCrashRate)
                {
                    // Power loss before or after the save completes, while the hold may still last.
                    var inc = Incarnation;
                    _sim.At(_sim.Now + 1 + _sim.Random.Next(600), () =>
                    {
                        if (inc == Incarnation && Alive)
                        {
                            CrashingWal.Count(Replica!.VotesHeld ? "targeted crash: still held" : "targeted crash: hold over");
                            Crash();
                            _sim.ScheduleReboot(this);
                        }
                    });
                }
            }
        }

        if (heldBefore && !r.VotesHeld)
        {
            CrashingWal.Count("hold ended");
        }

        if (r.VotesHeld && r.DecidedHeight > HeldAtHeight(r))
        {
            CrashingWal.Count("decision applied while held");
        }
    }

    private ulong HeldAtHeight(Replica r) => _heldAt.TryGetValue(r, out var h) ? h : (_heldAt[r] = r.DecidedHeight);

    private readonly Dictionary<Replica, ulong> _heldAt = new(ReferenceEqualityComparer.Instance);

    private bool _saveScheduled;

    /// <summary>The height of the last snapshot installed whose durability no vote checked yet.</summary>
    private ulong? _installUnchecked;

    /// <summary>A graceful stop: the replica writes its clean-stop mark (or only flushes, when it still abstains) and nothing is lost.</summary>
    public void Stop()
    {
        if (Replica is { } stopping)
        {
            try
            {
                Wal.Countdown = -1;
                stopping.RecordCleanStop();
            }
            catch (SimCrashException)
            {
            }
        }

        _saveScheduled = false;
        _installUnchecked = null;
        Replica = null;
        Snapshots.Scheduler.Drop();
        // As a node process's stop closes its log: a compaction still being written is dropped, not completed later.
        Wal.Dispose();
    }

    public void Crash()
    {
        _saveScheduled = false;
        _installUnchecked = null;
        if (Replica is { } dying)
        {
            CrashingWal.Count(dying.VotesHeld ? "crash while VotesHeld" : "crash (not held)");
            if (dying.VotesHeld && dying.DecidedHeight > HeldAtHeight(dying))
            {
                CrashingWal.Count("crash while held, after decisions applied in the hold");
            }

            if (dying.SnapshotSavePending)
            {
                CrashingWal.Count("crash with a save pending");
            }
        }

        Replica = null;
        Snapshots.Scheduler.Drop();
        Wal.Countdown = -1;
        if (_sim.Random.NextDouble() < 0.5)
        {
            Wal.Inner.Crash();
        }
        else
        {
            Wal.Inner.CrashTorn(_sim.Random);
        }
    }

    void IReplicaOutbox.Send(int toNodeIndex, byte[] message)
    {
        if (Byzantine is null)
        {
            RecordSigned(message);
            RecordVote(message);
            _sim.Transmit(Index, toNodeIndex, message);
            return;
        }

        foreach (var m in Byzantine.Rewrite(toNodeIndex, message))
        {
            _sim.Transmit(Index, toNodeIndex, m);
        }
    }

    /// <summary>Hashes of every signed consensus message this node ever sent (all incarnations), and the highest view it signed in.</summary>
    private readonly HashSet<Hash32> _signedSent = [];
    private ulong _maxSignedView;

    private void RecordSigned(byte[] message)
    {
        var type = (Heraclius.KvStore.Consensus.Messages.MessageType)message[0];
        if (type is not (Heraclius.KvStore.Consensus.Messages.MessageType.PrePrepare or Heraclius.KvStore.Consensus.Messages.MessageType.Prepare
            or Heraclius.KvStore.Consensus.Messages.MessageType.Commit or Heraclius.KvStore.Consensus.Messages.MessageType.ViewChange
            or Heraclius.KvStore.Consensus.Messages.MessageType.NewView))
        {
            return;
        }

        var env = Heraclius.KvStore.Consensus.Messages.Envelope.Open(message);
        if (env.Sender != Index)
        {
            return; // a relayed NEW-VIEW
        }

        var digest = Hash32.Of(message);
        if (!_signedSent.Add(digest))
        {
            return; // a re-send of bytes signed before
        }

        CrashingWal.Count($"signed {type}");
        // A VIEW-CHANGE a restart signed and logged before the install may be sent for the first time by a
        // retransmission during the hold: what counts is that it was signed and durable before.
        var loggedBefore = type == Heraclius.KvStore.Consensus.Messages.MessageType.ViewChange
            && Wal.Inner.ReadAll().Any(w => w.Type == (byte)WalRecordType.ViewChangeSent && w.Payload.AsSpan().SequenceEqual(message));
        if (Replica is { VotesHeld: true } && !loggedBefore)
        {
            _sim.Violations.Add($"SAFETY: node {Index} signed a new {type} while VotesHeld (incarnation {Incarnation}, decided {Replica.DecidedHeight})"
                + (Environment.GetEnvironmentVariable("FUZZ_TRACE") == "1" ? "\n" + Environment.StackTrace : ""));
        }

        var r = new Heraclius.KvStore.Encoding.CanonicalReader(env.Body.Span);
        var view = type == Heraclius.KvStore.Consensus.Messages.MessageType.ViewChange
            ? Heraclius.KvStore.Consensus.Messages.ViewChangeMessage.Parse(message).NewView
            : type == Heraclius.KvStore.Consensus.Messages.MessageType.NewView
                ? Heraclius.KvStore.Consensus.Messages.NewViewMessage.Parse(message).View
                : r.U64();
        // A commit for a prepared certificate of an older view is re-sent in later views by design (the
        // same statement, though after a crash between its WAL record and its send, sent for the first time).
        if (view < _maxSignedView && type != Heraclius.KvStore.Consensus.Messages.MessageType.Commit)
        {
            _sim.Violations.Add($"SAFETY: node {Index} signed a new {type} in view {view} after signing in view {_maxSignedView} (incarnation {Incarnation})");
        }

        _maxSignedView = Math.Max(_maxSignedView, view);
        if (type == Heraclius.KvStore.Consensus.Messages.MessageType.Prepare && _abstainAtBoot is { } through && view <= through)
        {
            r.U64();
            if (!_durablePreparesAtBoot.Contains((view, r.Hash())))
            {
                _sim.Violations.Add($"SAFETY: node {Index}, restarted after a crash in view {through}, signed a new prepare in view {view} (incarnation {Incarnation})");
            }
        }

        if (type == Heraclius.KvStore.Consensus.Messages.MessageType.PrePrepare)
        {
            var header = Heraclius.KvStore.Consensus.Messages.PrePrepareMessage.Read(env.Body).Header;
            if (_abstainAtBoot is { } abstained && view <= abstained && !_durablePreparesAtBoot.Contains((view, header.Hash)))
            {
                _sim.Violations.Add($"SAFETY: node {Index}, restarted after a crash in view {abstained}, signed a new pre-prepare in view {view} (incarnation {Incarnation})");
            }

            var key = ((byte)0, view, header.Height);
            if (Votes.TryGetValue(key, out var prev) && prev != header.Hash)
            {
                // A restarted leader abstains in the views it had entered, so it never signs another header
                // for one (view, height) whether or not its PrepareSent reached the disk.
                _sim.Violations.Add($"honest leader {Index} proposed two headers in view {view} height {header.Height} (incarnation {Incarnation})");
            }

            Votes[key] = header.Hash;
        }
    }

    private void RecordVote(byte[] message)
    {
        var type = (Heraclius.KvStore.Consensus.Messages.MessageType)message[0];
        if (type is not (Heraclius.KvStore.Consensus.Messages.MessageType.Prepare or Heraclius.KvStore.Consensus.Messages.MessageType.Commit
            or Heraclius.KvStore.Consensus.Messages.MessageType.PrePrepare))
        {
            return;
        }

        // Envelope: type ‖ sender ‖ ... find the body the same way the replica does.
        var env = Heraclius.KvStore.Consensus.Messages.Envelope.Open(message);
        ulong view, height;
        Hash32 hash;
        var kind = message[0];
        if (type == Heraclius.KvStore.Consensus.Messages.MessageType.PrePrepare)
        {
            // A pre-prepare carries its leader's prepare: checked as that prepare, against the ones sent alone.
            var prePrepare = Heraclius.KvStore.Consensus.Messages.PrePrepareMessage.Read(env.Body);
            (view, height, hash) = (prePrepare.View, prePrepare.Header.Height, prePrepare.Header.Hash);
            kind = (byte)Heraclius.KvStore.Consensus.Messages.MessageType.Prepare;
        }
        else
        {
            var r = new Heraclius.KvStore.Encoding.CanonicalReader(env.Body.Span);
            (view, height, hash) = (r.U64(), r.U64(), r.Hash());
        }

        // What the hold is for: a vote above an installed snapshot only once a crash can no longer lose it
        // (recovery restores a vote only for the height after the state it loads).
        if (_installUnchecked is { } installed && height > installed)
        {
            if (Snapshots.DurableHeight < installed)
            {
                _sim.Violations.Add($"SAFETY: node {Index} signed a {type} for {height} while its installed snapshot of {installed} was not durable (a crash would forget it)");
            }

            _installUnchecked = null;
        }

        var key = (kind, view, height);
        if (Votes.TryGetValue(key, out var prev) && prev != hash)
        {
            _sim.Violations.Add($"SAFETY: honest node {Index} signed two {type} votes in view {view} height {height} (incarnation {Incarnation})");
        }

        Votes[key] = hash;
    }

    void IReplicaOutbox.Decided(Decision decision)
    {
        if (Decided.TryGetValue(decision.Height, out var previous) && previous != decision.Header.Hash)
        {
            _sim.Violations.Add($"node {Index} decided two headers at height {decision.Height}");
        }

        Decided[decision.Height] = decision.Header.Hash;
        _sim.OnDecided(this, decision);
    }
}

public sealed class FuzzCluster
{
    private const int TickMs = 5;
    private readonly PriorityQueue<Action, (long Time, long Seq)> _events = new();
    private readonly SimulationSettings _settings;
    private long _seq;
    private bool _healed;
    private double _armRate;

    // A node cut off from the others for a while: it falls behind by more than the peers retain and
    // catches up by snapshot, with its own votes and VIEW-CHANGEs of before still in its WAL.
    private int _isolated = -1;

    public FuzzCluster(int seed, double armRate = 0.5)
    {
        Seed = seed;
        Random = new Random(seed);
        // Its own stream, so the seeds' earlier scenarios (crash times, messages) stay as they were.
        _stops = new Random(unchecked((seed * 7919) + 211));
        _armRate = armRate;
        var s = SimulationSettings.FromSeed(seed);
        // Crashes always; a byzantine equivocating leader half the time.
        var byz = seed % 2 == 0 ? Random.Next(4) : -1;
        _settings = s with
        {
            CrashRestart = true,
            ByzantineNode = byz,
            FaultPhaseMs = s.FaultPhaseMs * PhaseFactor,
            Byzantine = byz >= 0 ? (ByzantineMode.Equivocate | (seed % 4 == 0 ? ByzantineMode.LyingViewChanges : ByzantineMode.None)) : ByzantineMode.None,
        };
        Topology = SharedTopology.Value;
        Nodes = [.. Enumerable.Range(0, Topology.Cluster.N).Select(i => new FuzzNode(this, i))];
        Clients = [.. Topology.Topology.Clients.Select((c, i) => new SimulatedClient(c.Id, Topology.ClusterId, Topology.ClientKeys[i]))];
        if (_settings.ByzantineNode >= 0)
        {
            Nodes[_settings.ByzantineNode].Byzantine = new ByzantineRewriter(_settings.Byzantine, Topology.NodeKeys[_settings.ByzantineNode],
                Topology.ClusterId, _settings.ByzantineNode, new Random(seed * 31 + 7));
        }

        Options.RetainDecisions = Environment.GetEnvironmentVariable("FUZZ_RETAIN4") == "1" ? 12 : 12 + Random.Next(3);
        // Member 1 saves each snapshot a decision after its checkpoint (the interval is 4, so the default stagger never applies).
        Options.SaveStaggerDecisions = Environment.GetEnvironmentVariable("FUZZ_STAGGER") == "1" ? 1 : 0;
        // Seeds 2 and 3 mod 4: each member saves one checkpoint in three, so crashes find snapshots up to three intervals
        // old and the WAL holding every decision since. The regression seeds (0 mod 4) keep their schedules.
        Options.SaveEveryCheckpoints = Environment.GetEnvironmentVariable("FUZZ_SAVE_EVERY") is { } every ? int.Parse(every) : (seed / 2) % 2 == 1 ? 3 : 1;
        if (Environment.GetEnvironmentVariable("FUZZ_ARM") is { } arm) { _armRate = double.Parse(arm); }
    }

    private static readonly Lazy<TestTopology> SharedTopology = new(() => new TestTopology(4, 2));

    public Random Random { get; }

    private readonly Random _stops;

    /// <summary>Graceful stops (a clean-stop record, nothing lost) among the faults: a third of the whole-node faults.</summary>
    public int GracefulStops { get; private set; }

    /// <summary>How many times the seed's fault phase lasts (env FUZZ_PHASE).</summary>
    private static int PhaseFactor => int.Parse(Environment.GetEnvironmentVariable("FUZZ_PHASE") ?? "2", System.Globalization.CultureInfo.InvariantCulture);

    public bool Healed => _healed;

    /// <summary>Client batches per batch of the seed's settings (env FUZZ_LOAD): more heights, so partitioned nodes need snapshots.</summary>
    public int Load { get; } = int.Parse(Environment.GetEnvironmentVariable("FUZZ_LOAD") ?? "10", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>How often an install whose save stays in flight is followed by a crash soon after (env FUZZ_HOLDCRASH).</summary>
    public double HoldCrashRate { get; } = double.Parse(Environment.GetEnvironmentVariable("FUZZ_HOLDCRASH") ?? "0.5", System.Globalization.CultureInfo.InvariantCulture);

    public int Seed { get; }

    public long Now { get; private set; }

    public TestTopology Topology { get; }

    public ReplicaOptions Options { get; } = SimulatedCluster.NewOptions();

    public FuzzNode[] Nodes { get; }

    public SimulatedClient[] Clients { get; }

    public List<string> Violations { get; } = [];

    public IEnumerable<FuzzNode> Honest => Nodes.Where(n => n.Byzantine is null);

    public long Crashes { get; private set; }

    public long Events { get; private set; }

    /// <summary>A seed stops (as a violation) after this many events (env FUZZ_MAXEVENTS): a view-change storm must not hold a CI run for minutes.</summary>
    private static long MaxEvents => long.Parse(Environment.GetEnvironmentVariable("FUZZ_MAXEVENTS") ?? "1500000", System.Globalization.CultureInfo.InvariantCulture);

    public override string ToString() => $"fuzz seed {Seed}: {_settings} retain {Options.RetainDecisions}";

    internal void At(long time, Action action) => _events.Enqueue(action, (time, _seq++));

    internal void Arm(FuzzNode node)
    {
        if (!_healed && node.Byzantine is null && Random.NextDouble() < _armRate)
        {
            node.Wal.Countdown = Random.Next(120);
            node.Wal.CrashAfter = Random.Next(2) == 0;
        }
    }

    internal void ScheduleReboot(FuzzNode node)
    {
        Crashes++;
        At(Now + 20 + Random.Next(400), () =>
        {
            if (!node.Alive)
            {
                node.Boot(Now);
            }
        });
    }

    internal void Transmit(int from, int to, byte[] message)
    {
        if (!_healed && (Random.NextDouble() < _settings.DropRate || _isolated == from || _isolated == to))
        {
            return;
        }

        var copies = !_healed && Random.NextDouble() < _settings.DuplicateRate ? 2 : 1;
        for (var c = 0; c < copies; c++)
        {
            var delay = 1 + Random.Next(_healed ? 3 : _settings.MaxDelayMs);
            At(Now + delay, () => Nodes[to].Run(r => r.OnMessage(from, message, Now)));
        }
    }

    internal void OnDecided(FuzzNode node, Decision decision)
    {
        if (node.Byzantine is not null)
        {
            return;
        }

        for (var i = 0; i < decision.Proposal.Outputs.Count; i++)
        {
            var group = decision.Proposal.Outputs[i];
            var client = Clients.FirstOrDefault(c => c.Id == group.Destination);
            if (client is null)
            {
                continue;
            }

            var compact = CompactDecision.FromBytes(decision.Proposal.Compact(decision.Qc, i).ToBytes());
            if (compact.Verify(Topology.Topology, client.Id) != CompactDecisionCheck.Valid)
            {
                Violations.Add($"honest node {node.Index} produced an unverifiable compact decision at {decision.Height}");
                continue;
            }

            foreach (var reply in ClientReply.DecodeGroup(compact.Group.Payload.Span))
            {
                client.Accept(reply);
            }
        }
    }

    public List<string> Run(int? maxSettleMs = null, bool checkLiveness = true)
    {
        // Safety needs little time after healing; liveness gets the time to settle a slow recovery.
        var settle = maxSettleMs ?? int.Parse(Environment.GetEnvironmentVariable("FUZZ_SETTLE") ?? (checkLiveness ? "30000" : "5000"), System.Globalization.CultureInfo.InvariantCulture);
        foreach (var n in Nodes)
        {
            n.Boot(0);
        }

        for (var i = 0; i < Nodes.Length; i++)
        {
            var node = Nodes[i];
            void Tick()
            {
                node.Run(r => r.Tick(Now));
                At(Now + TickMs, Tick);
            }

            At(i, Tick);
        }

        for (var b = 0; b < _settings.Batches * Load; b++)
        {
            var client = Clients[b % Clients.Length];
            var time = (long)(Random.NextDouble() * _settings.FaultPhaseMs);
            At(time, () =>
            {
                var batch = client.NewBatch(Random, _settings.RequestsPerBatch, 6);
                SubmitWithRetry(batch, client);
            });
        }

        // One fault at a time, never two (with f = 1 two would stop the cluster): a whole-node crash of an
        // honest node, or a partition that cuts one off long enough for it to need a snapshot to catch up
        // (with its own votes and VIEW-CHANGEs of before still in its WAL).
        var t = 200L;
        while (t < _settings.FaultPhaseMs)
        {
            var victim = Honest.ElementAt(Random.Next(Honest.Count()));
            if (Random.Next(2) == 0)
            {
                var down = 50 + Random.Next(500);
                At(t, () =>
                {
                    if (victim.Alive)
                    {
                        if (_stops.Next(3) == 0)
                        {
                            // A graceful stop after a crash in the same view must not forget the abstention (review of rule R).
                            victim.Stop();
                            GracefulStops++;
                        }
                        else
                        {
                            victim.Crash();
                            Crashes++;
                        }
                    }
                });
                At(t + down, () =>
                {
                    if (!victim.Alive)
                    {
                        victim.Boot(Now);
                    }
                });

                // Now and then a graceful restart right after the reboot, still in the view it crashed in: the clean-stop
                // mark must not make the next start forget what a crash may have lost (the review of rule R found that).
                if (_stops.Next(2) == 0)
                {
                    var stopAt = t + down + 1 + _stops.Next(20);
                    var rebootAt = stopAt + 1 + _stops.Next(20);
                    At(stopAt, () =>
                    {
                        if (victim.Alive)
                        {
                            victim.Stop();
                            GracefulStops++;
                        }
                    });
                    At(rebootAt, () =>
                    {
                        if (!victim.Alive)
                        {
                            victim.Boot(Now);
                        }
                    });
                }

                t += down + 50 + Random.Next(400);
            }
            else
            {
                var length = 300 + Random.Next(1200);
                At(t, () => _isolated = victim.Index);
                At(t + length, () => _isolated = -1);
                t += length + 300 + Random.Next(600);
            }
        }

        At(_settings.FaultPhaseMs, () =>
        {
            _healed = true;
            _isolated = -1;
            foreach (var n in Nodes)
            {
                n.Wal.Countdown = -1;
                if (!n.Alive)
                {
                    n.Boot(Now);
                }
            }
        });
        var deadline = _settings.FaultPhaseMs + settle;
        while (_events.Count > 0 && Now <= deadline)
        {
            if (++Events > MaxEvents)
            {
                // A view-change storm (liveness): stop here, and check what was decided and signed so far.
                CrashingWal.Count("runaway seeds stopped early");
                if (checkLiveness)
                {
                    Violations.Add($"runaway: {Events} events by {Now} ms");
                }

                break;
            }

            _events.TryDequeue(out var action, out var at);
            Now = Math.Max(Now, at.Time);
            try
            {
                action!();
            }
            catch (Exception e) when (e is not SimCrashException)
            {
                Violations.Add($"exception at {Now}: {e}");
                return Violations;
            }

            if (_healed && Now % 100 == 0 && Settled())
            {
                break;
            }
        }

        CheckSafety();
        if (checkLiveness)
        {
            var pending = Clients.Sum(c => c.Pending.Count);
            var honest = Honest.Select(n => n.Replica!).ToList();
            if (pending > 0 || honest.Any(r => r.DecidedHeight != honest[0].DecidedHeight))
            {
                Violations.Add($"LIVENESS: pending {pending}, heights {string.Join(",", honest.Select(r => r.DecidedHeight))} " + string.Join("; ", Nodes.Where(n => n.Replica is not null).Select(n => $"n{n.Index}{(n.Byzantine is null ? "" : "B")} v{n.Replica!.View} vc={n.Replica.InViewChange} installs={n.Replica.SnapshotsInstalled} held={n.Replica.VotesHeld} leader={n.Replica.LeaderIndex} pool={n.Replica.PoolBatches} rej={string.Join(",", n.Replica.Rejections.Select(kv => $"{kv.Key}={kv.Value}"))}")));
            }
            else if (honest.Select(r => r.ComputeDecidedStateRoot()).Distinct().Count() != 1)
            {
                Violations.Add("SAFETY: different state roots at the same height");
            }
        }

        return Violations;
    }

    private void SubmitWithRetry(ClientBatch batch, SimulatedClient client)
    {
        var node = Nodes[Random.Next(Nodes.Length)];
        node.Run(r => r.SubmitBatch(batch.Bytes, Now));
        At(Now + 400, () =>
        {
            if (batch.Requests.Any(r => client.Pending.ContainsKey(r.Seq)))
            {
                SubmitWithRetry(batch, client);
            }
        });
    }

    private bool Settled() => ClusterInvariants.Settled(Clients, [.. Honest.Select(n => n.Replica)]);

    private void CheckSafety() => ClusterInvariants.CheckSafety([.. Honest.Select(n => n.Decided)], Clients, Violations);
}
