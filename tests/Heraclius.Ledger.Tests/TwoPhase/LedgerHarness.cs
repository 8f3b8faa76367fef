using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Topology;
using Heraclius.Ledger.Coordinator;
using Heraclius.Ledger.Protocol;
using Heraclius.Ledger.Shard;
using ExecutionContext = Heraclius.KvStore.StateMachine.ExecutionContext;

namespace Heraclius.Ledger.Tests.TwoPhase;

/// <summary>
/// One coordinator (c0) and S shard services in memory, without consensus: every request and every
/// delivered group is one "decision" of its cluster (its timers run at its end, like the executor's).
/// Messages travel FIFO per (source, destination), as certified groups do; which queue moves next, and
/// how many of its messages go in one decision, is a seeded choice. Time is <see cref="Now"/>, set by the test.
/// Clients are modelled as the executor treats them: a request runs once, a deferred one is answered
/// later through <see cref="IServiceOutputs.Answer"/>.
/// </summary>
internal sealed class LedgerHarness
{
    public const string Coordinator = "c0";

    private static readonly VerifyingKey SomeKey = CreateKey();

    private readonly Random _random;
    private readonly List<Channel> _channels = [];
    private readonly Dictionary<(string Source, string Destination), Channel> _channelOf = [];
    private readonly Dictionary<string, Cluster> _clusters = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Client, ulong Seq), ClientRequest> _requests = [];
    private ulong _nextSeq;

    public LedgerHarness(int shards = 3, int seed = 1, LedgerCoordinatorOptions? options = null, int coordinators = 1, Func<ClusterTopology, string, IReplicatedService>? shardFactory = null)
    {
        _random = new Random(seed);
        var clusters = new List<ClusterInfo>();
        for (var i = 0; i < coordinators; i++)
        {
            clusters.Add(Info($"c{i}", ClusterKind.Coordinator));
        }

        for (var i = 0; i < shards; i++)
        {
            clusters.Add(Info($"s{i}", ClusterKind.Shard));
        }

        Topology = new ClusterTopology(clusters, []);
        Router = new ShardRouter(Topology);
        CoordinatorService = new LedgerCoordinatorService(Topology, Coordinator, options);
        _clusters.Add(Coordinator, new Cluster(CoordinatorService));
        shardFactory ??= DefaultShards;
        foreach (var shard in Router.Shards)
        {
            _clusters.Add(shard, new Cluster(shardFactory(Topology, shard)));
        }
    }

    /// <summary>The shard each harness runs unless told otherwise.</summary>
    public static Func<ClusterTopology, string, IReplicatedService> DefaultShards { get; } =
        (topology, id) => new LedgerShardService(topology, id);

    public ClusterTopology Topology { get; }

    public ShardRouter Router { get; }

    public IReadOnlyList<string> Shards => Router.Shards;

    public LedgerCoordinatorService CoordinatorService { get; }

    public DictionaryState CoordinatorState => _clusters[Coordinator].State;

    /// <summary>The decision time every following decision gets.</summary>
    public ulong Now { get; set; } = 1_700_000_000_000;

    /// <summary>Destinations the coordinator's CanSend refuses (their window is full).</summary>
    public HashSet<string> Blocked { get; } = new(StringComparer.Ordinal);

    public List<(string Cluster, byte[] Record)> Audits { get; } = [];

    /// <summary>Answers that named a request never deferred, or came twice: every one is a bug.</summary>
    public List<string> Anomalies { get; } = [];

    public int Queued
    {
        get
        {
            var n = 0;
            foreach (var c in _channels)
            {
                n += c.Messages.Count;
            }

            return n;
        }
    }

    public IReplicatedService Service(string cluster) => _clusters[cluster].Service;

    public DictionaryState State(string cluster) => _clusters[cluster].State;

    public string ShardOf(UInt128 account) => Router.ShardOf(LedgerCodec.IdBytes(account));

    /// <summary>Runs a client request at the coordinator as one decision; returns its id.</summary>
    public (string Client, ulong Seq) Submit(byte[] operation, string client = "client-0")
    {
        var seq = ++_nextSeq;
        var hash = Hash32.Of([.. operation, .. BitConverter.GetBytes(seq)]);
        var request = new ClientRequest(hash);
        _requests.Add((client, seq), request);
        var cluster = _clusters[Coordinator];
        var outputs = new ClusterOutputs(this, Coordinator);
        var outcome = CoordinatorService.ExecuteRequest(cluster.State, new ExecutionContext(client, seq, hash, ++cluster.Height, Now), operation, outputs);
        request.Outcome = outcome.Kind;
        if (outcome.Kind == RequestOutcomeKind.Answered)
        {
            request.Answers.Add(outcome.Result);
        }

        CoordinatorService.ExecuteTimers(cluster.State, new TimerContext(cluster.Height, Now), outputs);
        return (client, seq);
    }

    public RequestOutcomeKind OutcomeOf((string Client, ulong Seq) id) => _requests[id].Outcome;

    /// <summary>The request's answer, or null while it has none.</summary>
    public byte[]? AnswerOf((string Client, ulong Seq) id)
    {
        var answers = _requests[id].Answers;
        return answers.Count == 0 ? null : answers[0];
    }

    public int AnswerCount((string Client, ulong Seq) id) => _requests[id].Answers.Count;

    /// <summary>Submits and delivers until nothing moves; the answer it got.</summary>
    public byte[] Run(byte[] operation, string client = "client-0")
    {
        var id = Submit(operation, client);
        RunToQuiescence();
        return AnswerOf(id) ?? throw new InvalidOperationException($"request {id} has no answer after quiescence ({OutcomeOf(id)})");
    }

    /// <summary>Delivers one seeded choice of queue: 1 to all of its messages as one decision. False when nothing is queued.</summary>
    public bool Step()
    {
        var ready = 0;
        foreach (var c in _channels)
        {
            ready += c.Messages.Count > 0 ? 1 : 0;
        }

        if (ready == 0)
        {
            return false;
        }

        var pick = _random.Next(ready);
        foreach (var c in _channels)
        {
            if (c.Messages.Count > 0 && pick-- == 0)
            {
                Deliver(c, 1 + _random.Next(c.Messages.Count));
                break;
            }
        }

        return true;
    }

    public void RunToQuiescence(int maxSteps = 1_000_000)
    {
        for (var i = 0; i < maxSteps; i++)
        {
            if (!Step())
            {
                return;
            }
        }

        throw new InvalidOperationException($"still {Queued} messages queued after {maxSteps} steps");
    }

    /// <summary>Delivers every message queued from <paramref name="source"/> to <paramref name="destination"/> as one decision.</summary>
    public void DeliverAll(string source, string destination)
    {
        if (_channelOf.TryGetValue((source, destination), out var c) && c.Messages.Count > 0)
        {
            Deliver(c, c.Messages.Count);
        }
    }

    /// <summary>Delivers the oldest message queued from <paramref name="source"/> to <paramref name="destination"/> as one decision.</summary>
    public void DeliverOne(string source, string destination)
    {
        if (_channelOf.TryGetValue((source, destination), out var c) && c.Messages.Count > 0)
        {
            Deliver(c, 1);
        }
    }

    public IReadOnlyList<byte[]> QueuedBetween(string source, string destination) =>
        _channelOf.TryGetValue((source, destination), out var c) ? [.. c.Messages] : [];

    /// <summary>Forgets what is queued between two clusters (a test that wants a message never to arrive).</summary>
    public void Drop(string source, string destination)
    {
        if (_channelOf.TryGetValue((source, destination), out var c))
        {
            c.Messages.Clear();
        }
    }

    /// <summary>A timestamp-only decision at every cluster: their timers run at <see cref="Now"/>.</summary>
    public void Tick()
    {
        foreach (var (id, cluster) in _clusters.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            cluster.Service.ExecuteTimers(cluster.State, new TimerContext(++cluster.Height, Now), new ClusterOutputs(this, id));
        }
    }

    /// <summary>Queues a message as if <paramref name="source"/> had sent it (a source the harness does not run, too).</summary>
    public void Enqueue(string source, string destination, byte[] message)
    {
        if (!_channelOf.TryGetValue((source, destination), out var c))
        {
            c = new Channel(source, destination);
            _channels.Add(c);
            _channelOf.Add((source, destination), c);
        }

        c.Messages.Enqueue(message);
    }

    internal void RecordAnswer(string client, ulong seq, Hash32 requestHash, byte[] result)
    {
        if (!_requests.TryGetValue((client, seq), out var request) || request.Hash != requestHash)
        {
            Anomalies.Add($"answer for unknown request {client}/{seq}");
            return;
        }

        if (request.Outcome != RequestOutcomeKind.Deferred || request.Answers.Count > 0)
        {
            Anomalies.Add($"request {client}/{seq} ({request.Outcome}) answered again");
        }

        request.Answers.Add(result);
    }

    private void Deliver(Channel channel, int count)
    {
        // A destination the harness does not run (another coordinator) swallows what it is sent.
        if (!_clusters.TryGetValue(channel.Destination, out var cluster))
        {
            channel.Messages.Clear();
            return;
        }

        var height = ++cluster.Height;
        var outputs = new ClusterOutputs(this, channel.Destination);
        var context = new MessageContext(channel.Source, 0, height, Now);
        for (var i = 0; i < count; i++)
        {
            cluster.Service.ExecuteMessage(cluster.State, context, channel.Messages.Dequeue(), outputs);
        }

        cluster.Service.ExecuteTimers(cluster.State, new TimerContext(height, Now), outputs);
    }

    private static ClusterInfo Info(string id, ClusterKind kind) =>
        new(id, kind, [new NodeInfo($"{id}-n0", id, 0, SomeKey, "http://127.0.0.1:1")]);

    private static VerifyingKey CreateKey()
    {
        using var key = SigningKey.Generate();
        return key.PublicKey;
    }

    private sealed class Channel(string source, string destination)
    {
        public string Source { get; } = source;

        public string Destination { get; } = destination;

        public Queue<byte[]> Messages { get; } = new();
    }

    private sealed class Cluster(IReplicatedService service)
    {
        public IReplicatedService Service { get; } = service;

        public DictionaryState State { get; } = new();

        public ulong Height { get; set; }
    }

    private sealed class ClientRequest(Hash32 hash)
    {
        public Hash32 Hash { get; } = hash;

        public RequestOutcomeKind Outcome { get; set; }

        public List<byte[]> Answers { get; } = [];
    }
}
