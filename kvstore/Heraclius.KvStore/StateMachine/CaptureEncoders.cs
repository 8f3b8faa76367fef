using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The process's threads that encode and hash captures in the background, one per core, each at the lowest
/// scheduling priority the OS gives it (nice 19 on Linux): they take only the CPU that consensus, execution and the
/// transport leave.
/// </summary>
/// <remarks>
/// Why: at a checkpoint every replica of a cluster re-encodes the buckets written in the interval (in `bench kv`
/// nearly the whole state, tens of megabytes) at the same moment. Encoded at normal priority, by a thread-pool task and
/// by the replica thread between messages, that burst took both cores from the leader and the followers for 30-110 ms,
/// and the round under way took as long: one slow round in every checkpoint interval, which was the p99 of `bench kv`.
/// The capture's root is due an interval later (its chunks are what the format says whoever encodes them and when);
/// if these threads are starved until then, <see cref="StateCapture.Root"/> encodes what is left on the replica's
/// thread, as before.
/// </remarks>
internal static class CaptureEncoders
{
    private const int PriorityProcess = 0;
    private const int LowestNice = 19;

    private static readonly BlockingCollection<StateCapture> Queue = [];
    private static readonly Lock StartLock = new();
    private static bool _started;
    private static int _lowered;

    /// <summary>Captures waiting for an encoder thread.</summary>
    public static int Queued => Queue.Count;

    /// <summary>How many encoder threads run at a lowered priority (all of them, unless the OS refused).</summary>
    public static int Lowered => Volatile.Read(ref _lowered);

    /// <summary>Has the capture's buckets encoded on an encoder thread (others may claim some meanwhile).</summary>
    public static void Post(StateCapture capture)
    {
        EnsureStarted();
        Queue.Add(capture);
    }

    private static void EnsureStarted()
    {
        lock (StartLock)
        {
            if (_started)
            {
                return;
            }

            for (var i = 0; i < Environment.ProcessorCount; i++)
            {
                new Thread(Run) { IsBackground = true, Name = $"capture-encoder-{i}", Priority = ThreadPriority.Lowest }.Start();
            }

            _started = true;
        }
    }

    private static void Run()
    {
        if (LowerPriority())
        {
            Interlocked.Increment(ref _lowered);
        }

        foreach (var capture in Queue.GetConsumingEnumerable())
        {
            // An encoder's failure completes the capture with it (see StateCapture.Encode), and Root() rethrows it on the
            // replica's thread; this thread goes on with the next capture.
            capture.EncodeSome(int.MaxValue);
        }
    }

    // Thread.Priority is ignored on Linux; a thread is a task there, and setpriority(PRIO_PROCESS, tid) sets its nice
    // value alone. Raising the value needs no privilege.
    private static bool LowerPriority()
    {
        if (!OperatingSystem.IsLinux())
        {
            // Windows honours ThreadPriority.Lowest, set when the thread was made.
            return OperatingSystem.IsWindows();
        }

        try
        {
            return SetPriority(PriorityProcess, GetTid(), LowestNice) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    // DllImport rather than LibraryImport: the generated marshalling of LibraryImport needs unsafe code, which the build forbids.
    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetTid();
}
