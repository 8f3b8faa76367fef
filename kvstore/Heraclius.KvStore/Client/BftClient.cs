using System.Collections.Concurrent;
using System.Threading.Channels;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Client;

/// <summary>
/// A BFT client of one cluster: packs concurrent operations into batches signed once, submits
/// them to one node (and retries there), and completes an operation only from a compact decision
/// for its own destination whose QC and Merkle proof it verified, echoing the request's hash.
/// </summary>
public sealed class BftClient : IAsyncDisposable
{
    private readonly ClusterTopology _topology;
    private readonly string _cluster;
    private readonly string _clientId;
    private readonly SigningKey _key;
    private readonly GrpcNodeClient _node;
    private readonly BftClientOptions _options;
    private readonly Channel<(byte[] Op, TaskCompletionSource<ClientReply> Done)> _queue;
    private readonly ConcurrentDictionary<ulong, (Hash32 Hash, TaskCompletionSource<ClientReply> Done)> _pending = new();
    private readonly ConcurrentDictionary<Hash32, (ClientBatch Batch, long SentAt)> _inFlight = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private ulong _nextSeq;
    private long _rejectedDecisions;

    // Operations answered by decisions since the batcher last gathered: their callers are likely to send again at once.
    private int _answered;

    // While the batcher gathers: how many queued operations end the wait (0 when it is not gathering), and the signal.
    private int _gatherTarget;
    private TaskCompletionSource? _gathered;

    public BftClient(ClusterTopology topology, string cluster, string clientId, SigningKey key, GrpcNodeClient node, BftClientOptions? options = null)
    {
        _topology = topology;
        _cluster = cluster;
        _clientId = clientId;
        _key = key;
        _node = node;
        _options = options ?? new BftClientOptions();
        _nextSeq = _options.FirstSeq ?? (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
        _queue = Channel.CreateBounded<(byte[], TaskCompletionSource<ClientReply>)>(new BoundedChannelOptions(_options.MaxQueued) { SingleReader = true });
    }

    /// <summary>Compact decisions refused because their QC, proof or destination did not verify.</summary>
    public long RejectedDecisions => Interlocked.Read(ref _rejectedDecisions);

    public long BatchesSent { get; private set; }

    public async Task StartAsync(CancellationToken ct = default)
    {
        var status = await _node.StatusAsync(ct);
        // The node's decision feed replays from this height, so answers decided before the stream opens are not lost.
        _loops.Add(Task.Run(() => ReceiveLoop(status.DecidedHeight), CancellationToken.None));
        _loops.Add(Task.Run(SendLoop, CancellationToken.None));
        _loops.Add(Task.Run(RetryLoop, CancellationToken.None));
    }

    /// <summary>
    /// Submits one operation under a new request id and waits for its verified answer, whatever its status: an
    /// <see cref="ReplyStatus.Overloaded"/> answer is final for that id and means the operation did not run (a saturated
    /// shard, or a decision whose outputs reached the cluster's budget), so the caller decides whether to call again (a
    /// new id) after a back-off; the ledger client and the kv command do.
    /// </summary>
    public async Task<ClientReply> SendAsync(byte[] operation, CancellationToken ct = default)
    {
        var done = new TaskCompletionSource<ClientReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.Writer.WriteAsync((operation, done), ct);
        var target = Volatile.Read(ref _gatherTarget);
        if (target > 0 && _queue.Reader.Count >= target)
        {
            Volatile.Read(ref _gathered)?.TrySetResult();
        }

        using var reg = ct.Register(() => done.TrySetCanceled(ct));
        return await done.Task;
    }

    private async Task SendLoop()
    {
        var reader = _queue.Reader;
        var requests = new List<ClientRequest>();
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token))
            {
                if (_options.BatchDelay > TimeSpan.Zero)
                {
                    await GatherAsync(reader);
                }

                requests.Clear();
                while (requests.Count < _options.MaxBatch && reader.TryRead(out var item))
                {
                    var request = new ClientRequest(_nextSeq++, item.Op);
                    _pending[request.Seq] = (request.Hash(_clientId), item.Done);
                    requests.Add(request);
                }

                if (requests.Count == 0)
                {
                    continue;
                }

                var batch = ClientBatch.Create(_clientId, _cluster, [.. requests], _key);
                _inFlight[batch.Digest] = (batch, Environment.TickCount64);
                BatchesSent++;
                await SubmitAsync(batch);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Waits for more operations before signing a batch. After decisions answered n operations, until n are queued:
    /// their callers send their next ones within a millisecond or two, and a batch cut before them would leave the
    /// rest for a second batch (a signature and a check on every member each); at most the batch delay. An operation
    /// that no answer released (an open-loop caller, the first after an idle spell) waits the whole delay.
    /// </summary>
    private async Task GatherAsync(ChannelReader<(byte[] Op, TaskCompletionSource<ClientReply> Done)> reader)
    {
        var answered = Interlocked.Exchange(ref _answered, 0);
        if (answered <= 0)
        {
            await Task.Delay(_options.BatchDelay, _stop.Token);
            return;
        }

        var target = Math.Min(answered, _options.MaxBatch);
        var gathered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _gathered, gathered);
        Volatile.Write(ref _gatherTarget, target);
        try
        {
            if (reader.Count >= target)
            {
                return;
            }

            using var delay = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var timeout = Task.Delay(_options.BatchDelay, delay.Token);
            if (await Task.WhenAny(gathered.Task, timeout) == timeout)
            {
                _stop.Token.ThrowIfCancellationRequested();
            }

            await delay.CancelAsync();
        }
        finally
        {
            Volatile.Write(ref _gatherTarget, 0);
            Volatile.Write(ref _gathered, null);
        }
    }

    private async Task SubmitAsync(ClientBatch batch)
    {
        try
        {
            var result = await _node.SubmitAsync(batch.Bytes, _stop.Token);
            if (!result.Accepted && result.ErrorCode != SubmitErrorCodes.Overloaded)
            {
                Fail(batch, new InvalidOperationException($"{result.ErrorCode}: {result.ErrorMessage}"));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The node may be down; the retry loop submits again.
        }
    }

    private void Fail(ClientBatch batch, Exception error)
    {
        _inFlight.TryRemove(batch.Digest, out _);
        foreach (var r in batch.Requests)
        {
            if (_pending.TryRemove(r.Seq, out var p))
            {
                p.Done.TrySetException(error);
            }
        }
    }

    private async Task RetryLoop()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(_options.RetryAfter / 4, _stop.Token);
                var now = Environment.TickCount64;
                foreach (var (digest, entry) in _inFlight)
                {
                    if (entry.Batch.Requests.All(r => !_pending.ContainsKey(r.Seq)))
                    {
                        _inFlight.TryRemove(digest, out _);
                    }
                    else if (now - entry.SentAt > _options.RetryAfter.TotalMilliseconds)
                    {
                        _inFlight[digest] = (entry.Batch, now);
                        await SubmitAsync(entry.Batch);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReceiveLoop(ulong afterHeight)
    {
        var answers = new List<(TaskCompletionSource<ClientReply> Done, ClientReply Reply)>();
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await foreach (var bytes in _node.SubscribeAsync(_clientId, afterHeight, _stop.Token))
                {
                    // A view, not a copy: the frame's bytes are this loop's own and only the replies are kept.
                    var compact = CompactDecision.FromMemory(bytes);
                    if (compact.Header.Cluster != _cluster || compact.Verify(_topology, _clientId, _options.SignatureCache) != CompactDecisionCheck.Valid)
                    {
                        Interlocked.Increment(ref _rejectedDecisions);
                        continue;
                    }

                    afterHeight = Math.Max(afterHeight, compact.Header.Height);
                    answers.Clear();
                    foreach (var reply in ClientReply.DecodeGroup(compact.Group.Payload.Span))
                    {
                        // WindowFull is not an answer: the retry loop sends the same request again.
                        if (reply.Status != ReplyStatus.WindowFull
                            && _pending.TryGetValue(reply.Seq, out var p) && p.Hash == reply.RequestHash && _pending.TryRemove(reply.Seq, out _))
                        {
                            answers.Add((p.Done, reply));
                        }
                    }

                    // Counted before any caller runs on: the batcher, woken by the first of them, waits for them all.
                    Interlocked.Add(ref _answered, answers.Count);
                    foreach (var (done, reply) in answers)
                    {
                        done.TrySetResult(reply);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception)
            {
                try
                {
                    await Task.Delay(200, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _queue.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_loops);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var p in _pending.Values)
        {
            p.Done.TrySetCanceled();
        }

        _stop.Dispose();
    }
}
