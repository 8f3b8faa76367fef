using System.Diagnostics;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Records a history from concurrent clients. A client calls <see cref="Invoke"/> just before it
/// sends an operation and <see cref="Return"/> just after the answer arrives; an operation that
/// never gets an answer stays pending. Thread-safe.
/// </summary>
public sealed class HistoryRecorder
{
    // Guards _calls: clients on many threads append and complete entries.
    private readonly Lock _lock = new();
    private readonly List<Call> _calls = [];
    private readonly Func<long> _clock;

    /// <param name="clock">
    /// A monotonic clock shared by every client; <see cref="Stopwatch.GetTimestamp"/> by default.
    /// Soundness only needs the invoke tick to be read before the operation starts and the return
    /// tick after it ends, which holds because both are read inside these calls.
    /// </param>
    public HistoryRecorder(Func<long>? clock = null)
    {
        _clock = clock ?? Stopwatch.GetTimestamp;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _calls.Count;
            }
        }
    }

    public CallHandle Invoke(int clientId, KvInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var now = _clock();
        lock (_lock)
        {
            _calls.Add(new Call(clientId, input, now));
            return new CallHandle(_calls.Count - 1);
        }
    }

    public void Return(CallHandle handle, KvOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var now = _clock();
        lock (_lock)
        {
            if ((uint)handle.Index >= (uint)_calls.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(handle), "not a call of this recorder");
            }

            var call = _calls[handle.Index];
            if (call.Output is not null)
            {
                throw new InvalidOperationException($"call {handle.Index} already returned");
            }

            _calls[handle.Index] = call with { Output = output, ReturnTicks = now };
        }
    }

    /// <summary>A snapshot of what has been recorded; calls without an answer are pending in it.</summary>
    public History ToHistory()
    {
        lock (_lock)
        {
            return new History(_calls.Select(c => c.Output is null
                ? HistoryOperation.Pending(c.ClientId, c.InvokeTicks, c.Input)
                : HistoryOperation.Completed(c.ClientId, c.InvokeTicks, c.ReturnTicks, c.Input, c.Output)));
        }
    }

    private sealed record Call(int ClientId, KvInput Input, long InvokeTicks)
    {
        public KvOutput? Output { get; init; }

        public long ReturnTicks { get; init; }
    }
}
