using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A capture started in the background is encoded by the process's encoder threads, with nobody asking for its root,
/// and those threads run at the lowest OS priority, so that a checkpoint's encoding takes only CPU the replicas leave.
/// </summary>
public sealed class CaptureEncodersTests
{
    [Fact]
    public async Task ACaptureStartedInTheBackground_IsEncodedWithoutItsRootBeingAsked()
    {
        var state = new ReplicatedState(64);
        for (var i = 0; i < 2000; i++)
        {
            state.Set(BitConverter.GetBytes(i), BitConverter.GetBytes(i * 7));
        }

        var capture = state.Capture(8, previous: null);
        Assert.False(capture.IsComplete);
        capture.StartInBackground();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!capture.IsComplete && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.True(capture.IsComplete, "the encoder threads did not encode the capture");
        Assert.Equal(state.ComputeRoot(), capture.Root());
    }

    [Fact]
    public async Task EncoderThreads_RunAtTheLowestPriority()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "nice values are read from /proc");
        var capture = new ReplicatedState(4).Capture(8, previous: null);
        capture.StartInBackground();
        capture.Root();

        // Each thread lowers its own priority as it starts: wait until all have.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (CaptureEncoders.Lowered < Environment.ProcessorCount && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.Equal(Environment.ProcessorCount, CaptureEncoders.Lowered);
        // The kernel's own view: /proc/self/task/<tid>/stat, field 19 is the nice value (comm, field 2, is the thread's
        // name cut to 15 bytes and in parentheses; the fields after it are counted from its closing one).
        // Other tests run in this process, and a thread of theirs may exit between the listing and the read (seen in a
        // clean-clone run): a task gone meanwhile is not an encoder, which never exits.
        static string? ReadTask(string task, string file)
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, file));
            }
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
            {
                return null;
            }
        }

        var nices = Directory.GetDirectories("/proc/self/task")
            .Where(t => ReadTask(t, "comm")?.Trim().StartsWith("capture-encod", StringComparison.Ordinal) == true)
            .Select(t =>
            {
                var stat = ReadTask(t, "stat") ?? throw new InvalidOperationException($"encoder thread {t} exited");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture);
            })
            .ToArray();
        Assert.Equal(Environment.ProcessorCount, nices.Length);
        Assert.All(nices, n => Assert.Equal(19, n));
    }
}
