using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Tests.Consensus;

namespace Heraclius.KvStore.Tests.WalFuzz;

/// <summary>Thrown by the storage to stop the replica at an arbitrary point, as power loss would.</summary>
public sealed class SimCrashException : Exception
{
    public SimCrashException() : base("simulated crash") { }
}

/// <summary>A WAL that can crash the node just before or after its Nth operation.</summary>
public sealed class CrashingWal : IWriteAheadLog
{
    public MemoryWriteAheadLog Inner { get; } = new();

    /// <summary>Operations left before a crash; negative: disarmed.</summary>
    public int Countdown { get; set; } = -1;

    public bool CrashAfter { get; set; }

    public long FlushCount => Inner.FlushCount;

    public long BytesWritten => Inner.BytesWritten;

    public long PendingBytes => Inner.PendingBytes;

    public List<string> Ops { get; } = [];

    public static readonly Dictionary<string, long> Stats = [];

    public static void Count(string k)
    {
        lock (Stats)
        {
            Stats[k] = Stats.GetValueOrDefault(k) + 1;
        }
    }

    private string _op = "";

    private void Tick(bool after)
    {
        if (Countdown < 0)
        {
            return;
        }

        if (Countdown == 0 && after == CrashAfter)
        {
            Countdown = -1;
            Count($"crash {(after ? "after" : "before")} {_op} pending={Inner.PendingCount > 0}");
            throw new SimCrashException();
        }

        if (after)
        {
            Countdown--;
        }
    }

    public void Append(byte type, ReadOnlySpan<byte> payload)
    {
        _op = $"Append{type}";
        Count($"append {type}");
        Tick(false);
        Inner.Append(type, payload);
        Tick(true);
    }

    public void Flush()
    {
        _op = "Flush";
        Tick(false);
        Inner.Flush();
        Tick(true);
    }

    public IReadOnlyList<WalRecord> ReadAll() => Inner.ReadAll();

    public void Rewrite(IEnumerable<WalRecord> records)
    {
        _op = "Rewrite";
        Count("rewrite");
        Tick(false);
        Inner.Rewrite(records);
        Tick(true);
    }

    public void BeginRewrite(IEnumerable<WalRecord> records)
    {
        _op = "BeginRewrite";
        Count("begin rewrite");
        Tick(false);
        Inner.BeginRewrite(records);
        _readyIn = _slowRewrite.Next(SlowRewrite + 1);
        Tick(true);
    }

    public bool RewriteInFlight => Inner.RewriteInFlight;

    // A compacted log is written on another thread in production and swapped in at a later decision or tick: here it
    // reports ready only after up to SlowRewrite checks (FUZZ_SLOWREWRITE, default 8), so decisions, view changes,
    // installs, stops and crashes happen while it is in flight. Its own random stream, so the scenarios stay the seeds'.
    private static readonly int SlowRewrite = int.Parse(Environment.GetEnvironmentVariable("FUZZ_SLOWREWRITE") ?? "8", System.Globalization.CultureInfo.InvariantCulture);
    private readonly Random _slowRewrite = new(12345);
    private int _readyIn;

    public bool RewriteReady
    {
        get
        {
            if (!Inner.RewriteReady)
            {
                return false;
            }

            if (_readyIn > 0)
            {
                _readyIn--;
                Count("rewrite not ready yet");
                return false;
            }

            return true;
        }
    }

    public bool CompleteRewrite()
    {
        _op = "CompleteRewrite";
        Count("complete rewrite");
        Tick(false);
        var replaced = Inner.CompleteRewrite();
        Tick(true);
        return replaced;
    }

    /// <summary>A node's stop: a rewrite in flight is abandoned, as the file log's is; the "disk" stays for the next start.</summary>
    public void Dispose() => Inner.Dispose();
}

/// <summary>Snapshot saves that complete when the simulation runs them (or when the replica waits on them).</summary>
public sealed class DeferredSnapshotStore : ISnapshotStore
{
    private readonly MemorySnapshotStore _durable = new();

    public DeferredScheduler Scheduler { get; } = new();

    public Random? Random { get; set; }

    public void Save(ulong height, ReadOnlySpan<byte> snapshot) => _durable.Save(height, snapshot);

    public Task SaveAsync(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        if (Random is not null && Random.NextDouble() < 0.4)
        {
            return _durable.SaveAsync(height, parts);
        }

        // Copy now? No: the replica promises not to touch the parts until the task completes.
        return Task.Factory.StartNew(() => _durable.SaveAsync(height, parts).GetAwaiter().GetResult(), CancellationToken.None, TaskCreationOptions.None, Scheduler);
    }

    public (ulong Height, byte[] Bytes)? LoadLatest() => _durable.LoadLatest();

    /// <summary>The height of the snapshot a crash now would recover (0: none).</summary>
    public ulong DurableHeight => _durable.LoadLatest()?.Height ?? 0;
}
