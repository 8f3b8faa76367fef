using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The replicated state as of one height, taken between two decisions without waiting for its encoding: each bucket
/// either reuses the chunk of the capture before (not written since) or is a frozen twin (see
/// <see cref="StateBucket.Freeze"/>) that is encoded and hashed later, on whichever thread gets to it first: a
/// low-priority encoder thread (see <see cref="CaptureEncoders"/>) or <see cref="Root"/>, which finishes what is left.
/// </summary>
/// <remarks>
/// The chunks, leaves and root are the format's (a bucket's entries in key order), the same whenever and wherever
/// each bucket is encoded: a capture's result never depends on timing. Its chunk buffers are its own and never
/// written once encoded, so a later capture may share them, and a save or a peer may read them for as long as it
/// holds the capture.
/// </remarks>
public sealed class StateCapture
{
    private readonly StateBucket?[] _main;
    private readonly StateBucket?[] _band;
    private readonly ReadOnlyMemory<byte>[] _chunks;
    // The buffer behind each chunk when the state's captures own it (null for chunks read elsewhere): this capture's
    // own, rented from the state's pool when taken (see ChunkBufferPool), or the capture before's when the bucket is unchanged.
    private readonly ChunkBuffer?[] _buffers;
    private readonly Hash32[] _hashes;
    private readonly long[] _versions;
    // The buckets to encode, claimed in order by whoever encodes next.
    private readonly int[] _pending;
    private int _claimed;
    private int _remaining;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Hash32? _root;
    private bool _retired;

    internal StateCapture(
        ReplicatedState source, ulong height, StateBucket?[] main, StateBucket?[] band, ReadOnlyMemory<byte>[] chunks, ChunkBuffer?[] buffers,
        Hash32[] hashes, long[] versions, int[] pending)
    {
        Source = source;
        Height = height;
        _main = main;
        _band = band;
        _chunks = chunks;
        _buffers = buffers;
        _hashes = hashes;
        _versions = versions;
        _pending = pending;
        _remaining = pending.Length;
        if (pending.Length == 0)
        {
            _done.SetResult();
        }
    }

    /// <summary>The state captured (its later writes are not in the capture).</summary>
    internal ReplicatedState Source { get; }

    /// <summary>The height whose state this is.</summary>
    public ulong Height { get; }

    public int BucketCount => _chunks.Length;

    /// <summary>How many buckets the capture had to encode (the others were the capture before's).</summary>
    public int EncodedBuckets => _pending.Length;

    /// <summary>Whether every bucket is encoded and hashed.</summary>
    public bool IsComplete => _done.Task.IsCompletedSuccessfully;

    internal long VersionOf(int bucket) => _versions[bucket];

    internal ReadOnlyMemory<byte> ChunkOf(int bucket) => _chunks[bucket];

    internal ChunkBuffer? BufferOf(int bucket) => _buffers[bucket];

    /// <summary>Whether <see cref="Retire"/> gave this capture's buffers back.</summary>
    public bool IsRetired => _retired;

    internal Hash32 HashOf(int bucket) => _hashes[bucket];

    /// <summary>Has the buckets encoded by the process's low-priority encoder threads (see <see cref="CaptureEncoders"/>); the owner goes on meanwhile.</summary>
    public void StartInBackground()
    {
        if (!IsComplete)
        {
            CaptureEncoders.Post(this);
        }
    }

    /// <summary>Encodes and hashes up to <paramref name="max"/> buckets not yet claimed; whether any is left to claim.</summary>
    public bool EncodeSome(int max)
    {
        for (var i = 0; i < max; i++)
        {
            var index = Interlocked.Increment(ref _claimed) - 1;
            if (index >= _pending.Length)
            {
                return false;
            }

            Encode(_pending[index]);
        }

        return Volatile.Read(ref _claimed) < _pending.Length;
    }

    /// <summary>The state root of the captured height: encodes what nobody has claimed, then waits for what others are encoding.</summary>
    public Hash32 Root()
    {
        if (_root is { } root)
        {
            return root;
        }

        // Many left (a capture nobody encoded ahead, an installed snapshot's): on every core, as buckets are independent.
        var left = _pending.Length - Volatile.Read(ref _claimed);
        for (var i = 1; i < Environment.ProcessorCount && left >= ParallelMin; i++)
        {
            _ = Task.Run(() => EncodeSome(int.MaxValue));
        }

        EncodeSome(int.MaxValue);
        // An encoder's exception (see Encode) surfaces here, as it did when the root was computed on this thread.
        _done.Task.GetAwaiter().GetResult();
        root = MerkleTree.Root(_hashes);
        _root = root;
        return root;
    }

    /// <summary>Every chunk (views of the capture's own buffers) and leaf hash, once <see cref="Root"/> has returned.</summary>
    public (ReadOnlyMemory<byte>[] Chunks, Hash32[] Hashes) Chunks()
    {
        ObjectDisposedException.ThrowIf(_retired, this);
        Root();
        return ((ReadOnlyMemory<byte>[])_chunks.Clone(), (Hash32[])_hashes.Clone());
    }

    private const int ParallelMin = 64;

    /// <summary>
    /// Gives the chunk buffers back to the state once the owner holds this capture nowhere (not as its capture, its
    /// served checkpoint or a save): each is encoded into again by a later capture once no capture that shares it is
    /// held. Call on the owner's thread, and never read the chunks afterwards. A capture not yet complete is left
    /// alone (an encoder may still be writing), its buffers to the collector.
    /// </summary>
    /// <remarks>
    /// Why: a checkpoint re-encodes every bucket written in its interval, and in `bench transfers` each bucket's
    /// chunk was a fresh array that lived two intervals (captured, then served), so it was copied into gen1 and
    /// gen2 before it died: at 64 users 4.5 GB of chunks in 15 s, and gen1 collections of 60-200 ms.
    /// </remarks>
    public void Retire()
    {
        if (_retired || !IsComplete)
        {
            return;
        }

        _retired = true;
        for (var i = 0; i < _buffers.Length; i++)
        {
            if (_buffers[i] is { } buffer && --buffer.Holders == 0)
            {
                Source.Recycle(buffer);
            }
        }
    }

    /// <summary>
    /// A capture of <paramref name="state"/> as of <paramref name="height"/> made of its chunks read elsewhere (a snapshot
    /// loaded or fetched, whose chunks the state was built from): complete at once.
    /// </summary>
    internal static StateCapture FromChunks(ReplicatedState state, ulong height, ReadOnlyMemory<byte>[] chunks, Hash32[] hashes, long[] versions)
    {
        var buckets = chunks.Length;
        return new StateCapture(state, height, new StateBucket?[buckets], new StateBucket?[buckets], chunks, new ChunkBuffer?[buckets], hashes, versions, []);
    }

    private void Encode(int bucket)
    {
        try
        {
            EncodeBucket(bucket);
        }
        catch (Exception e)
        {
            // Encoders run fire-and-forget: without this the capture would never complete, and the replica would wait
            // in Root() at the height that certifies it, silently, for ever. Root() rethrows it on the replica's thread.
            _done.TrySetException(e);
        }
    }

    private void EncodeBucket(int bucket)
    {
        var main = _main[bucket]!;
        var band = _band[bucket]!;
        var size = StateBucket.ChunkSize(main, band);
        var buffer = _buffers[bucket]!;
        if (buffer.Memory.Length < size)
        {
            throw new InvalidOperationException("a captured bucket outgrew the buffer it was given at the capture");
        }

        var chunk = buffer.Memory[..size];
        var length = main.Encode(chunk.Span, band);
        // Read in full: the live buckets may write their slabs in place again.
        main.ReleaseTwin();
        band.ReleaseTwin();
        if (length != size)
        {
            throw new InvalidOperationException("a captured bucket encoded to another length than it holds");
        }

        _hashes[bucket] = MerkleTree.LeafHash(chunk.Span);
        _chunks[bucket] = chunk;
        // The twins are done with: their slabs go once the live buckets have moved on.
        _main[bucket] = null;
        _band[bucket] = null;
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _done.TrySetResult();
        }
    }
}
