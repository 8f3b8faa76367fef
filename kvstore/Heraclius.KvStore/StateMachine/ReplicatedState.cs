using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The whole replicated state of a cluster as one byte-keyed map, split into a fixed number of
/// buckets by the stable key hash. A bucket is a snapshot chunk; its leaf is H(0x00 ‖ the bucket's
/// entries in key order), and the state root is the Merkle root over the buckets. Only buckets
/// written since the last root are re-encoded and re-hashed. A bucket keeps its entries packed in a
/// byte array (see <see cref="StateBucket"/>), so reads return copies and writes copy their bytes in.
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
/// Each bucket's encoding lives in a buffer the state reuses: allocating the whole state's chunks
/// afresh at every checkpoint (tens of megabytes that survive into gen2) cost several times what
/// encoding and hashing them did. A captured checkpoint's buffers are never written until the next
/// capture (see <see cref="CaptureChunks"/>), so they can be saved and served meanwhile.
/// </remarks>
public sealed class ReplicatedState
{
    public const int MaxKeyBytes = 4096;
    public const int MaxValueBytes = 16 * 1024 * 1024;

    private readonly StateBucket[] _buckets;
    // Each bucket's entries whose key starts with 0x00 (see the remarks).
    private readonly StateBucket[] _bands;
    private readonly Hash32[] _bucketHashes;
    // The buffer holding each bucket's encoding (valid while not dirty) and its length.
    private readonly byte[]?[] _chunks;
    private readonly int[] _chunkLengths;
    // The buffers the last capture handed out, never written until the next capture; and a free
    // buffer per bucket (a capture's, once the next capture released it) for the next encoding.
    private readonly byte[]?[] _captured;
    private readonly byte[]?[] _spare;
    private readonly bool[] _dirty;
    // Per bucket, a chunk buffer that retired captures gave back, for the next capture that encodes the bucket.
    private readonly ChunkBuffer?[] _recycled;
    // Each bucket's count of writes (and replacements): a capture reuses the chunk of the one before when it is unchanged.
    private readonly long[] _versions;
    // The count of buckets written since TakeWrittenBucketCount, each counted once: the epoch it was last written in.
    private readonly int[] _writtenInEpoch;
    private int _epoch = 1;
    private int _writtenBuckets;
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
        _bucketHashes = new Hash32[bucketCount];
        _chunks = new byte[bucketCount][];
        _chunkLengths = new int[bucketCount];
        _captured = new byte[bucketCount][];
        _spare = new byte[bucketCount][];
        _dirty = new bool[bucketCount];
        _recycled = new ChunkBuffer?[bucketCount];
        _versions = new long[bucketCount];
        _writtenInEpoch = new int[bucketCount];
        for (var i = 0; i < bucketCount; i++)
        {
            _buckets[i] = new StateBucket();
            _bands[i] = new StateBucket();
            _dirty[i] = true;
        }
    }

    public int BucketCount => _buckets.Length;

    /// <summary>How many buckets a capture encoded into a buffer a retired capture gave back (tests, diagnostics).</summary>
    public long RecycledChunkBuffers { get; private set; }

    /// <summary>
    /// Keeps a chunk buffer no held capture reads any more for the bucket's next capture (the larger, when one is
    /// kept already: a bucket's chunks grow with it).
    /// </summary>
    internal void Recycle(int bucket, ChunkBuffer buffer)
    {
        if (_recycled[bucket] is not { } kept || kept.Array.Length < buffer.Array.Length)
        {
            _recycled[bucket] = buffer;
        }
    }

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
        for (var i = 0; i < buckets; i++)
        {
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
                if (_recycled[i] is { } recycled)
                {
                    _recycled[i] = null;
                    recycled.Holders = 1;
                    buffers[i] = recycled;
                    RecycledChunkBuffers++;
                }
            }
        }

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
        _dirty[b] = true;
        _versions[b]++;
        if (_writtenInEpoch[b] != _epoch)
        {
            _writtenInEpoch[b] = _epoch;
            _writtenBuckets++;
        }
    }

    /// <summary>How many distinct buckets were written since the last call (a decision's share of the state it touched).</summary>
    public int TakeWrittenBucketCount()
    {
        var count = _writtenBuckets;
        _writtenBuckets = 0;
        _epoch++;
        return count;
    }

    public Hash32 BucketHash(int bucket)
    {
        if (_dirty[bucket])
        {
            // The chunk bytes are kept with their hash: a checkpoint right after the root needs both.
            EncodeChunk(bucket);
            _bucketHashes[bucket] = MerkleTree.LeafHash(_chunks[bucket].AsSpan(0, _chunkLengths[bucket]));
            _dirty[bucket] = false;
        }

        return _bucketHashes[bucket];
    }

    public Hash32 ComputeRoot() => MerkleTree.Root(AllBucketHashes());

    private Hash32[] AllBucketHashes()
    {
        RehashDirtyBuckets();
        var hashes = new Hash32[_buckets.Length];
        for (var i = 0; i < hashes.Length; i++)
        {
            hashes[i] = BucketHash(i);
        }

        return hashes;
    }

    /// <summary>
    /// Encodes and hashes the written buckets on every core: a checkpoint's root hashes the whole state when
    /// writes touched every bucket (SHA-256 at ~0.5-1 GB/s here), and the proposal waits for it. Buckets are
    /// independent, so the result is the same as one bucket after another.
    /// </summary>
    private void RehashDirtyBuckets()
    {
        var dirty = new List<int>();
        for (var i = 0; i < _dirty.Length; i++)
        {
            if (_dirty[i])
            {
                dirty.Add(i);
            }
        }

        if (dirty.Count < ParallelRehashMin || Environment.ProcessorCount == 1)
        {
            return;
        }

        Parallel.ForEach(
            System.Collections.Concurrent.Partitioner.Create(0, dirty.Count, Math.Max(16, dirty.Count / (4 * Environment.ProcessorCount))),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            range =>
            {
                for (var i = range.Item1; i < range.Item2; i++)
                {
                    BucketHash(dirty[i]);
                }
            });
    }

    private const int ParallelRehashMin = 64;

    private int _rehashCursor;

    /// <summary>
    /// Encodes and hashes up to <paramref name="max"/> of the buckets written since their last encoding, so that a
    /// root later has fewer to do (a bucket written again in between is simply encoded again); whether it found that
    /// many, so that more may be left. Results are the same whenever it runs.
    /// </summary>
    public bool RehashSome(int max)
    {
        var done = 0;
        for (var scanned = 0; scanned < _dirty.Length && done < max; scanned++)
        {
            var bucket = _rehashCursor;
            _rehashCursor = (_rehashCursor + 1) & _mask;
            if (_dirty[bucket])
            {
                BucketHash(bucket);
                done++;
            }
        }

        return done == max;
    }

    public MerkleProof ProveChunk(int bucket) => MerkleTree.Prove(AllBucketHashes(), bucket);

    /// <summary>A copy of the canonical bytes of one bucket: its entries sorted by key.</summary>
    public byte[] ReadChunk(int bucket)
    {
        BucketHash(bucket);
        return _chunks[bucket].AsSpan(0, _chunkLengths[bucket]).ToArray();
    }

    /// <summary>
    /// The canonical bytes and leaf hash of every bucket as of now, for a checkpoint. The bytes are
    /// not copied: they stay unchanged, whatever the state does, until the next capture, which
    /// reuses their buffers; so the caller must be done with them (a save finished) by then.
    /// </summary>
    public (ReadOnlyMemory<byte>[] Chunks, Hash32[] Hashes) CaptureChunks()
    {
        RehashDirtyBuckets();
        var chunks = new ReadOnlyMemory<byte>[_buckets.Length];
        var hashes = new Hash32[_buckets.Length];
        for (var i = 0; i < chunks.Length; i++)
        {
            hashes[i] = BucketHash(i);
            var released = _captured[i];
            _captured[i] = _chunks[i];
            if (released is not null && !ReferenceEquals(released, _chunks[i]))
            {
                KeepSpare(i, released);
            }

            chunks[i] = _chunks[i].AsMemory(0, _chunkLengths[i]);
        }

        return (chunks, hashes);
    }

    private void KeepSpare(int bucket, byte[] buffer)
    {
        if (_spare[bucket] is null || _spare[bucket]!.Length < buffer.Length)
        {
            _spare[bucket] = buffer;
        }
    }

    /// <summary>Encodes a bucket into a buffer no capture holds: its current one, its spare, or a new one.</summary>
    private void EncodeChunk(int bucket)
    {
        // Both sizes count the 4-byte count; the chunk has one.
        var buffer = BufferFor(bucket, checked((int)(_buckets[bucket].EncodedSize + _bands[bucket].EncodedSize - 4)));
        _chunkLengths[bucket] = _buckets[bucket].Encode(buffer, _bands[bucket]);
        _chunks[bucket] = buffer;
    }

    private byte[] BufferFor(int bucket, int size)
    {
        var current = _chunks[bucket];
        if (current is not null && !ReferenceEquals(current, _captured[bucket]))
        {
            if (current.Length >= size)
            {
                return current;
            }

            KeepSpare(bucket, current);
        }

        var spare = _spare[bucket];
        if (spare is not null && spare.Length >= size)
        {
            _spare[bucket] = null;
            return spare;
        }

        // Room to grow: a bucket that gains entries at every checkpoint is not reallocated at each.
        // Half again its size: a growing state outgrows every bucket's two buffers at about the same
        // checkpoint, and with a quarter the reallocations came so often that, in a checkpoint's
        // window of bench transfers, they were a quarter of all bytes allocated (each buffer costs
        // 1.5 / 0.5 = 3 bytes per byte the bucket grows instead of 1.25 / 0.25 = 5; the buffers hold
        // 1.25 times the encoding on average instead of 1.125).
        // Uninitialized, as every byte up to the length is written.
        _spare[bucket] = null;
        return GC.AllocateUninitializedArray<byte>((int)Math.Min(Array.MaxLength, size + (size / 2L) + 64));
    }

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
        _dirty[bucket] = true;
        _versions[bucket]++;
    }
}
