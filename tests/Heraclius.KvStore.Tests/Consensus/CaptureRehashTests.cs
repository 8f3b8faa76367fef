using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>A checkpoint's captured chunks stay as they were while the state is written, encoded ahead and rooted until the next capture.</summary>
public sealed class CaptureRehashTests
{
    [Fact]
    public void EncodingAhead_NeverWritesTheCapturedChunks()
    {
        var random = new Random(3);
        var state = new ReplicatedState(16);
        var keys = Enumerable.Range(0, 400).Select(i => BitConverter.GetBytes(i)).ToArray();
        for (var cycle = 0; cycle < 30; cycle++)
        {
            var (chunks, _) = state.CaptureChunks();
            var copies = chunks.Select(c => c.ToArray()).ToArray();
            for (var op = 0; op < 300; op++)
            {
                var value = new byte[random.Next(0, 200)];
                random.NextBytes(value);
                state.Set(keys[random.Next(keys.Length)], random.Next(5) == 0 ? null : value);
                if (random.Next(4) == 0)
                {
                    state.RehashSome(random.Next(1, 16));
                }
            }

            if (cycle % 3 == 0)
            {
                state.ComputeRoot();
            }

            for (var b = 0; b < chunks.Length; b++)
            {
                Assert.Equal(copies[b], chunks[b].ToArray());
            }
        }
    }
}
