using System.Numerics;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The chunk buffers retired captures gave back, for any bucket of the state's next captures, kept by size class
/// (the floor of the length's base-2 logarithm). Used on the replica's thread only: a capture rents its buffers when
/// it is taken and gives them back when it is retired.
/// </summary>
/// <remarks>
/// Why a pool for the whole state and not one buffer per bucket: a bucket's buffers rotate through three captures
/// (the one whose root is pending, the served checkpoint, a save), a bucket kept only the largest one given back, and a
/// growing bucket outgrew it; in `bench kv` at 512 users the captures' new buffers were 21% of all bytes allocated,
/// each living two intervals or more, so the collector copied them into gen1 and gen2 on the way. Any free buffer
/// that fits now serves any bucket.
/// <para>
/// A state that keeps growing still outgrows the buffers given back, every bucket at about the same capture (hashing
/// spreads keys evenly): `bench kv --vus 512` allocated 20-33 MB of new buffers at one capture in three, on the
/// replica's thread, and the gen0 collection that burst set off paused every replica 40-90 ms. New buffers are
/// therefore slices of 4 MB arenas on the large object heap, which gen0 and gen1 collections neither copy nor scan
/// (they hold bytes, no references); an arena is freed once no capture and no free list holds a slice of it.
/// </para>
/// </remarks>
internal sealed class ChunkBufferPool
{
    // A buffer at most this many classes above a request's serves it (at most eight times its size): beyond that a
    // new one is cheaper than the memory a huge buffer would hold for a small chunk.
    private const int MaxClassesAbove = 2;
    // Free buffers a class's scan looks at for one large enough before it moves to the classes above.
    private const int ScanPerClass = 8;

    // New buffers are cut from arenas of this size: above the large-object threshold, so the collector never copies them.
    private const int ArenaSize = 4 * 1024 * 1024;

    private byte[] _arena = [];
    private int _arenaUsed;
    private readonly List<ChunkBuffer>[] _free = Enumerable.Range(0, 32).Select(_ => new List<ChunkBuffer>()).ToArray();
    private long _freeBytes;

    /// <summary>The most free bytes the pool keeps; a buffer given back beyond it goes to the collector.</summary>
    public long MaxFreeBytes { get; set; }

    public long FreeBytes => _freeBytes;

    /// <summary>How many rents a free buffer served (tests, diagnostics).</summary>
    public long Reused { get; private set; }

    /// <summary>
    /// A buffer of at least <paramref name="size"/> bytes, held once: a free one when one fits, else a new one with room
    /// for the bucket to grow (<paramref name="previousSize"/>, its chunk's length at the capture before, tells how fast).
    /// </summary>
    public ChunkBuffer Rent(int size, int previousSize)
    {
        var first = ClassOf(Math.Max(size, 1));
        for (var c = first; c <= Math.Min(first + MaxClassesAbove, _free.Length - 1); c++)
        {
            var list = _free[c];
            for (var i = list.Count - 1; i >= Math.Max(0, list.Count - ScanPerClass); i--)
            {
                var buffer = list[i];
                if (buffer.Memory.Length >= size)
                {
                    list[i] = list[^1];
                    list.RemoveAt(list.Count - 1);
                    _freeBytes -= buffer.Memory.Length;
                    buffer.Holders = 1;
                    Reused++;
                    return buffer;
                }
            }
        }

        return new ChunkBuffer(Carve(size, previousSize));
    }

    /// <summary>Takes back a buffer no capture holds any more (or lets it go, when the pool holds enough).</summary>
    public void Return(ChunkBuffer buffer)
    {
        if (_freeBytes + buffer.Memory.Length > MaxFreeBytes)
        {
            return;
        }

        _free[ClassOf(buffer.Memory.Length)].Add(buffer);
        _freeBytes += buffer.Memory.Length;
    }

    private static int ClassOf(int length) => BitOperations.Log2((uint)length);

    // Room for half again the chunk, or for as much again when the bucket grew by more than an eighth since the capture
    // before: a buffer given back is encoded into again three or four captures after its own, half again holds three
    // intervals' growth of an eighth each, and a state that grows faster (`bench transfers`, by a transfer record and
    // its history entries per side) outgrew it in most buckets.
    // Uninitialized, as only the bytes up to a chunk's length are ever read. Carved from an arena of at least
    // ArenaSize bytes (a large-object-heap array), not allocated alone: see the class remarks.
    private Memory<byte> Carve(int size, int previousSize)
    {
        var room = size > previousSize + (previousSize / 8L) ? (long)size : size / 2L;
        var length = (int)Math.Min(Array.MaxLength, size + room + 64);
        if (_arena.Length - _arenaUsed < length)
        {
            _arena = GC.AllocateUninitializedArray<byte>(Math.Max(ArenaSize, length));
            _arenaUsed = 0;
        }

        var slice = _arena.AsMemory(_arenaUsed, length);
        _arenaUsed += length;
        return slice;
    }
}
