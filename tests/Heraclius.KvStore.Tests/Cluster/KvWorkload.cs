using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Tests.Linearizability;

namespace Heraclius.KvStore.Tests.Cluster;

/// <summary>
/// Concurrent workers doing Put, Get, Cas and Delete through real BFT clients. Every call is
/// recorded for the linearizability checker; on its own key a worker knows the exact answer and
/// checks it at once, and on shared keys the checker judges the answers together.
/// </summary>
public sealed class KvWorkload
{
    // Generous: a call may wait out several view changes and a subscription rotation, never a fixed sleep.
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

    private readonly IReadOnlyList<string> _shared;
    private readonly Func<Task<string>> _describe;
    private readonly Lock _lock = new();
    private readonly HashSet<int> _neverExecuted = [];

    /// <param name="sharedKeys">Keys every worker reads and writes.</param>
    /// <param name="describe">The clusters' state, for the message of a call that times out.</param>
    public KvWorkload(IReadOnlyList<string> sharedKeys, Func<Task<string>> describe)
    {
        _shared = sharedKeys;
        _describe = describe;
    }

    public HistoryRecorder Recorder { get; } = new();

    public static byte[] B(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    /// <summary>
    /// Sends one operation, records it, and returns the reply. Executed answers are recorded as
    /// outputs; Overloaded ones are noted as never executed (final for that id, by contract); any
    /// other status fails the test, as does no answer within <paramref name="timeout"/> (20 s by default).
    /// </summary>
    public async Task<ClientReply> CallAsync(BftClient client, int worker, KvOperation op, TimeSpan? timeout = null)
    {
        var limit = timeout ?? CallTimeout;
        var input = KvInput.From(op);
        var call = Recorder.Invoke(worker, input);
        ClientReply reply;
        try
        {
            reply = await client.SendAsync(op.ToBytes(), TestContext.Current.CancellationToken).WaitAsync(limit, TestContext.Current.CancellationToken);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"worker {worker}: {input} unanswered after {limit.TotalSeconds:0} s\n{await _describe()}");
            throw;
        }

        switch (reply.Status)
        {
            case ReplyStatus.Executed:
                Recorder.Return(call, KvOutput.From(KvResult.Parse(reply.Result), input.Kind));
                break;
            case ReplyStatus.Overloaded:
                lock (_lock)
                {
                    _neverExecuted.Add(call.Index);
                }

                break;
            default:
                Assert.Fail($"worker {worker}: {input} answered {reply.Status}");
                break;
        }

        return reply;
    }

    /// <summary>Like <see cref="CallAsync"/>, and fails unless the operation was executed.</summary>
    public async Task<KvResult> RunAsync(BftClient client, int worker, KvOperation op)
    {
        var reply = await CallAsync(client, worker, op);
        Assert.True(reply.Status == ReplyStatus.Executed, $"worker {worker}: {KvInput.From(op)} answered {reply.Status}");
        return KvResult.Parse(reply.Result);
    }

    /// <summary>
    /// Runs <paramref name="op"/> until the cluster admits it, each attempt under a new request id
    /// (overloaded is final for an id), and fails if it is still refused after <paramref name="timeout"/>.
    /// </summary>
    public async Task<KvResult> RunAdmittedAsync(BftClient client, int worker, KvOperation op, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var reply = await CallAsync(client, worker, op);
            if (reply.Status == ReplyStatus.Executed)
            {
                return KvResult.Parse(reply.Result);
            }

            Assert.True(DateTime.UtcNow < deadline, $"worker {worker}: {KvInput.From(op)} still overloaded after {timeout.TotalSeconds:0} s\n{await _describe()}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>
    /// One closed-loop worker: <paramref name="operations"/> random operations, a third of them on
    /// <paramref name="ownKey"/> (checked exactly against a model of that key) and the rest on the
    /// shared keys. Returns the own key's final version and value.
    /// </summary>
    public async Task<OwnKey> WorkerAsync(BftClient client, int worker, string ownKey, int operations, int seed)
    {
        var random = new Random(seed);
        var own = new OwnKey(ownKey, 0, null);
        var seen = new Dictionary<string, ulong>(StringComparer.Ordinal);
        for (var n = 0; n < operations; n++)
        {
            var mine = random.Next(3) == 0;
            var key = mine ? ownKey : _shared[random.Next(_shared.Count)];
            var value = $"w{worker}-{n}";
            var roll = random.Next(100);
            var op = roll < 30 ? KvOperation.Get(B(key))
                : roll < 60 ? KvOperation.Put(B(key), B(value))
                : roll < 85 ? KvOperation.Cas(B(key), mine ? own.Version + (random.Next(4) == 0 ? 1UL : 0UL) : seen.GetValueOrDefault(key), B(value))
                : KvOperation.Delete(B(key));
            var result = await RunAsync(client, worker, op);
            if (mine)
            {
                own = Check(own, op, result, worker);
            }
            else
            {
                // The next Cas on this key expects what was last seen, so it sometimes wins a race and sometimes loses one.
                seen[key] = op.Op == KvOpCode.Delete ? 0 : result.Version;
            }
        }

        return own;
    }

    /// <summary>The answer a single writer of a key must get, and the key after it.</summary>
    public static OwnKey Check(OwnKey own, KvOperation op, KvResult result, int worker)
    {
        var what = $"worker {worker}: {KvInput.From(op)} on a key at v{own.Version} answered {result.Status} v{result.Version}";
        switch (op.Op)
        {
            case KvOpCode.Get when own.Version == 0:
                Assert.True(result.Status == KvStatus.NotFound, what);
                return own;
            case KvOpCode.Get:
                Assert.True(result.Status == KvStatus.Ok && result.Version == own.Version, what);
                Assert.Equal(own.Value, System.Text.Encoding.UTF8.GetString(result.Value));
                return own;
            case KvOpCode.Put:
                Assert.True(result.Status == KvStatus.Ok && result.Version == own.Version + 1, what);
                return own with { Version = own.Version + 1, Value = System.Text.Encoding.UTF8.GetString(op.Value!) };
            case KvOpCode.Cas when op.ExpectedVersion == own.Version:
                Assert.True(result.Status == KvStatus.Ok && result.Version == own.Version + 1, what);
                return own with { Version = own.Version + 1, Value = System.Text.Encoding.UTF8.GetString(op.Value!) };
            case KvOpCode.Cas:
                Assert.True(result.Status == KvStatus.VersionMismatch && result.Version == own.Version, what);
                return own;
            case KvOpCode.Delete when own.Version == 0:
                Assert.True(result.Status == KvStatus.NotFound, what);
                return own;
            default:
                Assert.True(result.Status == KvStatus.Ok && result.Version == own.Version, what);
                return own with { Version = 0, Value = null };
        }
    }

    /// <summary>Reads <paramref name="own"/> back (through another coordinator, say) and checks it holds what its writer left.</summary>
    public async Task AssertReadsBackAsync(BftClient client, int worker, OwnKey own) =>
        Check(own, KvOperation.Get(B(own.Key)), await RunAsync(client, worker, KvOperation.Get(B(own.Key))), worker);

    /// <summary>Operations answered Overloaded so far.</summary>
    public int NeverExecuted
    {
        get
        {
            lock (_lock)
            {
                return _neverExecuted.Count;
            }
        }
    }

    /// <summary>
    /// Every call got an answer, and the history without the calls answered Overloaded (which the
    /// store guarantees never ran) is linearizable; Unknown fails like NotLinearizable.
    /// </summary>
    public void AssertLinearizable()
    {
        var history = Recorder.ToHistory();
        HashSet<int> dropped;
        lock (_lock)
        {
            dropped = [.. _neverExecuted];
        }

        var unanswered = history.Operations.Where((op, i) => op.IsPending && !dropped.Contains(i)).ToList();
        Assert.True(unanswered.Count == 0, $"unanswered calls:\n{string.Join("\n", unanswered)}");
        LinearizabilityAssert.Linearizable(new History(history.Operations.Where((_, i) => !dropped.Contains(i))));
    }
}
