using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Concurrent clients on a logical clock, deterministic for a seed. Each client invokes an
/// operation, the store executes it at a random later tick (its linearization point, if the store
/// is atomic) and the answer arrives at a random tick after that; clients overlap freely. Some
/// operations time out, either lost before the store saw them or executed with the answer lost,
/// and stay pending. Clients compare-and-set on the last version they saw, as a read-modify-write
/// loop would, so Cas both succeeds and fails.
/// </summary>
public sealed class SimulatedKvClients
{
    private const int MaxLatency = 60;
    private const int MaxThink = 20;
    private const int Timeout = 4 * MaxLatency;

    private readonly Random _random;
    private readonly int _clients;
    private readonly int _keys;
    private readonly double _pendingRate;

    public SimulatedKvClients(int seed, int clients, int keys, double pendingRate)
    {
        _random = new Random(seed);
        _clients = clients;
        _keys = keys;
        _pendingRate = pendingRate;
    }

    /// <summary>Runs until <paramref name="operations"/> operations have been invoked; returns what the clients recorded.</summary>
    public History Run(int operations, Func<KvOperation, KvResult> store)
    {
        long now = 0;
        var recorder = new HistoryRecorder(() => now);
        var events = new PriorityQueue<(EventKind Kind, int Client), (long Tick, long Seq)>();
        long seq = 0;
        var inFlight = new (KvOperation Op, CallHandle Handle, bool AnswerLost, KvResult? Result)[_clients];
        var lastSeen = new Dictionary<string, ulong>[_clients];
        var invoked = 0;
        for (var c = 0; c < _clients; c++)
        {
            lastSeen[c] = [];
            events.Enqueue((EventKind.Invoke, c), (_random.Next(MaxThink), seq++));
        }

        while (events.TryDequeue(out var e, out var at))
        {
            now = at.Tick;
            var c = e.Client;
            switch (e.Kind)
            {
                case EventKind.Invoke:
                    if (invoked == operations)
                    {
                        break;
                    }

                    invoked++;
                    var op = NextOperation(c, lastSeen[c]);
                    var handle = recorder.Invoke(c, KvInput.From(op));
                    var fate = _random.NextDouble();
                    var lost = fate < _pendingRate / 2;
                    var answerLost = !lost && fate < _pendingRate;
                    inFlight[c] = (op, handle, answerLost, null);
                    if (!lost)
                    {
                        events.Enqueue((EventKind.Execute, c), (now + 1 + _random.Next(MaxLatency), seq++));
                    }

                    if (lost || answerLost)
                    {
                        // The client gives up and moves on; its operation stays pending in the history.
                        events.Enqueue((EventKind.Invoke, c), (now + Timeout, seq++));
                    }

                    break;
                case EventKind.Execute:
                    inFlight[c].Result = store(inFlight[c].Op);
                    if (!inFlight[c].AnswerLost)
                    {
                        events.Enqueue((EventKind.Return, c), (now + 1 + _random.Next(MaxLatency), seq++));
                    }

                    break;
                case EventKind.Return:
                    var (sent, h, _, result) = inFlight[c];
                    var output = KvOutput.From(result!, KvInput.From(sent).Kind);
                    recorder.Return(h, output);
                    // Every answer tells the key's version at that moment; after Delete it is absent.
                    lastSeen[c][Convert.ToHexString(sent.Key)] = sent.Op == KvOpCode.Delete ? 0 : output.Version;

                    events.Enqueue((EventKind.Invoke, c), (now + _random.Next(MaxThink), seq++));
                    break;
            }
        }

        return recorder.ToHistory();
    }

    private KvOperation NextOperation(int client, Dictionary<string, ulong> lastSeen)
    {
        var key = System.Text.Encoding.UTF8.GetBytes($"k{_random.Next(_keys)}");
        var value = System.Text.Encoding.UTF8.GetBytes($"c{client}-{_random.Next(1_000_000)}");
        var dice = _random.Next(100);
        return dice switch
        {
            < 40 => KvOperation.Get(key),
            < 65 => KvOperation.Put(key, value),
            < 90 => KvOperation.Cas(key, lastSeen.GetValueOrDefault(Convert.ToHexString(key)), value),
            _ => KvOperation.Delete(key),
        };
    }

    private enum EventKind
    {
        Invoke,
        Execute,
        Return,
    }
}
