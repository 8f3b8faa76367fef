using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The whole replicated state of a cluster as one byte-keyed map, split into a fixed number of
/// buckets by the stable key hash. A bucket is a snapshot chunk; its leaf is H(0x00 ‖ the bucket's
/// entries in key order), and the state root is the Merkle root over the buckets. A capture (see
/// <see cref="Capture"/>) re-encodes and re-hashes only the buckets written since the capture before. A bucket keeps
/// its entries packed in a byte array (see <see cref="StateBucket"/>), so <c>Get</c> returns copies (<c>TryRead</c> a view
/// valid until the next write) and writes copy their bytes in.
/// </summary>
/// <remarks>
/// A bucket's entries whose key starts with 0x00 (the engine's: client session slots, cursors, flow state) live in
/// a band of their own beside it, and its chunk merges the two (such keys sort together, before every other key
/// but the empty one), so the chunk bytes and the roots are what one bucket would give. Why: every request reads
/// and writes its client's session slot, and with the slots spread among the service's records (a state of
/// hundreds of megabytes in bench kv) each read missed the caches and the TLB, ~0.9 µs, 6% of a node's CPU; the
/// bands of all buckets hold a few hundred kilobytes.
/// </remarks>
/// <remarks>
/// A capture's chunks are encoded into buffers that retired captures gave back (see <see cref="ChunkBuffer"/> and
/// <see cref="StateCapture.Retire"/>): allocating the whole state's chunks afresh at every checkpoint (tens of
/// megabytes that survived into gen2) cost the collector more than encoding and hashing them did.
/// </remarks>
public sealed class ReplicatedState
{
    public const int MaxKeyBytes = 4096;
    public const int MaxValueBytes = 16 * 1024 * 1024;

    private readonly StateBucket[] _buckets;
    // Each bucket's entries whose key starts with 0x00 (see the remarks).
    private readonly StateBucket[] _bands;
    // The chunk buffers retired captures gave back, for the buckets the next captures encode.
    private readonly ChunkBufferPool _chunkBuffers = new();
    // Each bucket's count of writes (and replacements): a capture reuses the chunk of the one before when it is unchanged.
    private readonly long[] _versions;
    private readonly int _mask;
    private long _count;

    // The undo log of the open transaction, kept for the next one: a proposal of thousands of
    // requests grows it to thousands of entries, and regrowing it per proposal showed in allocations.
    private UndoLog? _spareUndoLog;

    public ReplicatedState(int bucketCount = 1024)
    {
        if (bucketCount <= 0 || (bucketCount & (bucketCount - 1)) != 0)
        {
            throw new ArgumentException("bucket count must be a power of two", nameof(bucketCount));
        }

        _mask = bucketCount - 1;
        _buckets = new StateBucket[bucketCount];
        _bands = new StateBucket[bucketCount];
        _versions = new long[bucketCount];
        for (var i = 0; i < bucketCount; i++)
        {
            _buckets[i] = new StateBucket();
            _bands[i] = new StateBucket();
        }
    }

    public int BucketCount => _buckets.Length;

    /// <summary>How many buckets a capture encoded into a buffer a retired capture gave back (tests, diagnostics).</summary>
    public long RecycledChunkBuffers => _chunkBuffers.Reused;

    /// <summary>The bytes of the chunk buffers kept for later captures (tests, diagnostics).</summary>
    public long FreeChunkBufferBytes => _chunkBuffers.FreeBytes;

    /// <summary>Keeps a chunk buffer no held capture reads any more for a later capture (see <see cref="ChunkBufferPool"/>).</summary>
    internal void Recycle(ChunkBuffer buffer) => _chunkBuffers.Return(buffer);

    /// <summary>An empty undo log for a new transaction: the one the last closed transaction returned, if any.</summary>
    internal UndoLog TakeUndoLog()
    {
        var log = _spareUndoLog ?? new UndoLog();
        _spareUndoLog = null;
        return log;
    }

    internal void ReturnUndoLog(UndoLog log)
    {
        log.Clear();
        _spareUndoLog = log;
    }

    /// <summary>Counts entries whose key starts with <paramref name="prefix"/> (diagnostics and tests; not for execution).</summary>
    public long CountWithPrefix(byte prefix) => _buckets.Concat(_bands).Sum(b => b.Keys().Count(k => k.Length > 0 && k[0] == prefix));

    public long Count => _count;

    public int BucketOf(ReadOnlySpan<byte> key) => (int)(StableHash.Of(key) & (ulong)_mask);

    /// <summary>
    /// Captures the state as it is now (<paramref name="height"/>'s) without encoding it: buckets unchanged since
    /// <paramref name="previous"/> (a capture of this state) keep its chunk, the others are frozen (see
    /// <see cref="StateCapture"/>). Call between writes; writes after it change nothing the capture holds.
    /// </summary>
    public StateCapture Capture(ulong height, StateCapture? previous)
    {
        var buckets = _buckets.Length;
        // Versions count this state's writes only: a capture of another state (one replaced by an installed snapshot) shares nothing.
        if (previous is not null && !ReferenceEquals(previous.Source, this))
        {
            previous = null;
        }

        var main = new StateBucket?[buckets];
        var band = new StateBucket?[buckets];
        var chunks = new ReadOnlyMemory<byte>[buckets];
        var buffers = new ChunkBuffer?[buckets];
        var hashes = new Hash32[buckets];
        var versions = (long[])_versions.Clone();
        var pending = new List<int>();
        var stateBytes = 0L;
        for (var i = 0; i < buckets; i++)
        {
            // The bucket's chunk size now is its twin's, if it is frozen below (a freeze changes no byte).
            var size = EncodedSizeOf(i);
            stateBytes += size;
            if (previous is not null && previous.VersionOf(i) == versions[i] && previous.IsComplete && !previous.IsRetired)
            {
                chunks[i] = previous.ChunkOf(i);
                hashes[i] = previous.HashOf(i);
                if (previous.BufferOf(i) is { } shared)
                {
                    shared.Holders++;
                    buffers[i] = shared;
                }
            }
            else
            {
                main[i] = _buckets[i].Freeze();
                band[i] = _bands[i].Freeze();
                pending.Add(i);
                // Sized now, from what the bucket holds at the freeze, so no encoder ever allocates.
                buffers[i] = _chunkBuffers.Rent(size, previous is { IsComplete: true } ? previous.ChunkOf(i).Length : size);
            }
        }

        // Up to two captures' buffers (each with room for half again its chunk, or as much again): a replica may retire
        // two captures at one checkpoint (a save's and a served one's) and none at the next; more would wait for captures
        // that never need it.
        _chunkBuffers.MaxFreeBytes = 4 * stateBytes;

        return new StateCapture(this, height, main, band, chunks, buffers, hashes, versions, [.. pending]);
    }

    /// <summary>
    /// A complete capture of this state as of <paramref name="height"/> from the chunks it was just built from (with
    /// <see cref="WriteChunk"/>, and nothing written since) and their leaf hashes.
    /// </summary>
    public StateCapture CaptureFromChunks(ulong height, ReadOnlyMemory<byte>[] chunks, Hash32[] hashes)
    {
        if (chunks.Length != _buckets.Length || hashes.Length != _buckets.Length)
        {
            throw new ArgumentException("a capture needs one chunk and one leaf hash per bucket");
        }

        return StateCapture.FromChunks(this, height, chunks, hashes, (long[])_versions.Clone());
    }

    private StateBucket Locate(ReadOnlySpan<byte> key, out int bucket, out uint tag)
    {
        var hash = StableHash.Of(key);
        bucket = (int)(hash & (ulong)_mask);
        tag = StateBucket.TagOf(hash);
        return InBand(key) ? _bands[bucket] : _buckets[bucket];
    }

    private static bool InBand(ReadOnlySpan<byte> key) => !key.IsEmpty && key[0] == 0x00;

    /// <summary>A copy of the value under a key; null when absent.</summary>
    public byte[]? Get(ReadOnlySpan<byte> key) =>
        Locate(key, out _, out var tag).TryGet(key, tag, out var value) ? value.ToArray() : null;

    public byte[]? Get(byte[] key) => Get(key.AsSpan());

    /// <summary>The value under a key as a view into the state, valid only until the next write; false when absent.</summary>
    public bool TryRead(ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value) =>
        Locate(key, out _, out var tag).TryGet(key, tag, out value);

    /// <summary>
    /// A copy of the value under a key given as bytes anywhere (a reused buffer), and <paramref name="storedKey"/>,
    /// an array of that key when it is present (null when absent).
    /// </summary>
    public byte[]? Get(ReadOnlySpan<byte> key, out byte[]? storedKey)
    {
        var value = Get(key);
        storedKey = value is null ? null : key.ToArray();
        return value;
    }

    /// <summary>Sets or (with null) removes a key.</summary>
    public void Set(ReadOnlySpan<byte> key, byte[]? value) => Set(key, value, value is null, undo: null);

    /// <summary>Sets or (with <paramref name="delete"/>) removes a key, handing what it replaced to <paramref name="undo"/>.</summary>
    internal void Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool delete, UndoLog? undo)
    {
        var bucket = Locate(key, out var b, out var tag);
        var before = bucket.Count;
        bucket.Set(key, tag, value, delete, undo);
        _count += bucket.Count - before;
        _versions[b]++;
    }

    /// <summary>
    /// The root of the state as of now, every bucket encoded afresh: for comparing replicas' states (tests, the
    /// simulation, diagnostics). Checkpoints certify the root of a <see cref="Capture"/>, which encodes only the buckets
    /// written since the capture before.
    /// </summary>
    public Hash32 ComputeRoot()
    {
        var hashes = new Hash32[_buckets.Length];
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            for (var i = 0; i < hashes.Length; i++)
            {
                var size = EncodedSizeOf(i);
                if (buffer.Length < size)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
                }

                var length = _buckets[i].Encode(buffer, _bands[i]);
                hashes[i] = MerkleTree.LeafHash(buffer.AsSpan(0, length));
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        return MerkleTree.Root(hashes);
    }

    /// <summary>The canonical bytes of one bucket as of now (a new array): its entries sorted by key.</summary>
    public byte[] ReadChunk(int bucket)
    {
        var chunk = new byte[EncodedSizeOf(bucket)];
        var length = _buckets[bucket].Encode(chunk, _bands[bucket]);
        return length == chunk.Length ? chunk : throw new InvalidOperationException("a bucket encoded to another length than it holds");
    }

    private int EncodedSizeOf(int bucket) => StateBucket.ChunkSize(_buckets[bucket], _bands[bucket]);

    /// <summary>Replaces one bucket with a chunk read elsewhere; the chunk must be canonical and belong here.</summary>
    public void WriteChunk(int bucket, ReadOnlySpan<byte> chunk)
    {
        var r = new CanonicalReader(chunk);
        var count = r.Count(int.MaxValue / 16);
        // Each key's hash is taken once: it places the key in its bucket here and in the bucket's table below.
        // Sized by the bytes there are (an entry takes at least 8), not by the count the chunk claims.
        var tags = new List<uint>(Math.Min(count, chunk.Length / 8));
        var bandTags = new List<uint>();
        // The band's entries (keys starting with 0x00) are one run of the sorted chunk: [bandStart, bandEnd) in its bytes.
        int bandStart = -1, bandEnd = -1;
        ReadOnlySpan<byte> previous = default;
        for (var i = 0; i < count; i++)
        {
            var start = chunk.Length - r.Remaining;
            var key = r.BytesSpan(MaxKeyBytes);
            _ = r.BytesSpan(MaxValueBytes);
            var hash = StableHash.Of(key);
            if ((int)(hash & (ulong)_mask) != bucket || (i > 0 && previous.SequenceCompareTo(key) >= 0))
            {
                throw new MalformedMessageException("chunk entries out of order or in the wrong bucket");
            }

            if (InBand(key))
            {
                bandStart = bandStart < 0 ? start : bandStart;
                bandEnd = chunk.Length - r.Remaining;
                bandTags.Add(StateBucket.TagOf(hash));
            }
            else
            {
                tags.Add(StateBucket.TagOf(hash));
            }

            previous = key;
        }

        r.End();
        // The chunk's entries are the bucket's records, byte for byte.
        if (bandStart < 0)
        {
            bandStart = bandEnd = 4;
        }

        var replacement = StateBucket.FromRecords(
            chunk[4..bandStart], chunk[bandEnd..], System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tags));
        var band = StateBucket.FromRecords(
            chunk[bandStart..bandEnd], [], System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bandTags));
        _count += replacement.Count + band.Count - _buckets[bucket].Count - _bands[bucket].Count;
        _buckets[bucket] = replacement;
        _bands[bucket] = band;
        _versions[bucket]++;
    }
}
