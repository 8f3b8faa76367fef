using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The whole replicated state of a cluster as one byte-keyed map, split into a fixed number of
/// buckets by the stable key hash. A bucket is a snapshot chunk; its leaf is H(0x00 ‖ the bucket's
/// entries in key order), and the state root is the Merkle root over the buckets. Only buckets
/// written since the last root are re-encoded and re-hashed.
/// </summary>
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

    private readonly Dictionary<byte[], byte[]>[] _buckets;
    private readonly Hash32[] _bucketHashes;
    // The buffer holding each bucket's encoding (valid while not dirty) and its length.
    private readonly byte[]?[] _chunks;
    private readonly int[] _chunkLengths;
    // The buffers the last capture handed out, never written until the next capture; and a free
    // buffer per bucket (a capture's, once the next capture released it) for the next encoding.
    private readonly byte[]?[] _captured;
    private readonly byte[]?[] _spare;
    private readonly bool[] _dirty;
    private readonly int _mask;
    private long _count;

    // The undo log of the open transaction, kept for the next one: a proposal of thousands of
    // requests grows it to thousands of entries, and regrowing it per proposal showed in allocations.
    private List<(byte[] Key, byte[]? Old)>? _spareUndoLog;

    public ReplicatedState(int bucketCount = 1024)
    {
        if (bucketCount <= 0 || (bucketCount & (bucketCount - 1)) != 0)
        {
            throw new ArgumentException("bucket count must be a power of two", nameof(bucketCount));
        }

        _mask = bucketCount - 1;
        _buckets = new Dictionary<byte[], byte[]>[bucketCount];
        _bucketHashes = new Hash32[bucketCount];
        _chunks = new byte[bucketCount][];
        _chunkLengths = new int[bucketCount];
        _captured = new byte[bucketCount][];
        _spare = new byte[bucketCount][];
        _dirty = new bool[bucketCount];
        for (var i = 0; i < bucketCount; i++)
        {
            _buckets[i] = new Dictionary<byte[], byte[]>(ByteArrayComparer.Instance);
            _dirty[i] = true;
        }
    }

    public int BucketCount => _buckets.Length;

    /// <summary>An empty undo log for a new transaction: the one the last closed transaction returned, if any.</summary>
    internal List<(byte[] Key, byte[]? Old)> TakeUndoLog()
    {
        var log = _spareUndoLog ?? [];
        _spareUndoLog = null;
        return log;
    }

    internal void ReturnUndoLog(List<(byte[] Key, byte[]? Old)> log)
    {
        // An exceptional proposal's log is not worth keeping at its size.
        if (log.Capacity <= 1 << 20)
        {
            _spareUndoLog = log;
        }
    }

    /// <summary>Counts entries whose key starts with <paramref name="prefix"/> (diagnostics and tests; not for execution).</summary>
    public long CountWithPrefix(byte prefix) => _buckets.Sum(b => b.Keys.Count(k => k.Length > 0 && k[0] == prefix));

    public long Count => _count;

    public int BucketOf(ReadOnlySpan<byte> key) => (int)(StableHash.Of(key) & (ulong)_mask);

    public byte[]? Get(byte[] key) => _buckets[BucketOf(key)].TryGetValue(key, out var v) ? v : null;

    /// <summary>
    /// The value under a key given as bytes anywhere (a reused buffer), and <paramref name="storedKey"/>, the
    /// state's own array of that key (null when absent): writing an existing key with it needs no new array.
    /// </summary>
    public byte[]? Get(ReadOnlySpan<byte> key, out byte[]? storedKey)
    {
        if (_buckets[BucketOf(key)].GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(key, out var actual, out var value))
        {
            storedKey = actual;
            return value;
        }

        storedKey = null;
        return null;
    }

    /// <summary>Sets or (with null) removes a key; returns the previous value.</summary>
    public byte[]? Set(byte[] key, byte[]? value)
    {
        var b = BucketOf(key);
        var bucket = _buckets[b];
        _dirty[b] = true;
        if (value is null)
        {
            if (bucket.Remove(key, out var old))
            {
                _count--;
                return old;
            }

            return null;
        }

        // One lookup: the hot path of every Put and answer slot, on a map far larger than the caches.
        ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(bucket, key, out var existed);
        var previous = existed ? slot : null;
        slot = value;
        if (!existed)
        {
            _count++;
        }

        return previous;
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
        var hashes = new Hash32[_buckets.Length];
        for (var i = 0; i < hashes.Length; i++)
        {
            hashes[i] = BucketHash(i);
        }

        return hashes;
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
        // Sorted by each key's first 8 bytes, read once into an array of (prefix, index): the sort then
        // compares integers in one small array instead of following two key arrays scattered over the
        // heap per comparison (that was most of a state root's cost). Keys whose prefixes tie are
        // compared whole. Keys are distinct, so the order is the keys' order alone.
        var entries = _buckets[bucket];
        var count = entries.Count;
        var pairs = System.Buffers.ArrayPool<KeyValuePair<byte[], byte[]>>.Shared.Rent(Math.Max(count, 1));
        var order = System.Buffers.ArrayPool<KeyPrefix>.Shared.Rent(Math.Max(count, 1));
        try
        {
            ((ICollection<KeyValuePair<byte[], byte[]>>)entries).CopyTo(pairs, 0);
            long size = 4;
            for (var i = 0; i < count; i++)
            {
                var key = pairs[i].Key;
                order[i] = new KeyPrefix(KeyPrefix.Of(key), i);
                size += 8L + key.Length + pairs[i].Value.Length;
            }

            order.AsSpan(0, count).Sort(new KeyPrefixOrder(pairs));
            var buffer = BufferFor(bucket, checked((int)size));
            var span = buffer.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)count);
            var offset = 4;
            for (var i = 0; i < count; i++)
            {
                var pair = pairs[order[i].Index];
                offset = Put(span, offset, pair.Key);
                offset = Put(span, offset, pair.Value);
            }

            _chunks[bucket] = buffer;
            _chunkLengths[bucket] = offset;
        }
        finally
        {
            System.Buffers.ArrayPool<KeyValuePair<byte[], byte[]>>.Shared.Return(pairs, clearArray: true);
            System.Buffers.ArrayPool<KeyPrefix>.Shared.Return(order);
        }
    }

    private static int Put(Span<byte> span, int offset, byte[] bytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(span[offset..], (uint)bytes.Length);
        bytes.CopyTo(span[(offset + 4)..]);
        return offset + 4 + bytes.Length;
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

    /// <summary>A key's first 8 bytes as a big-endian integer (zero-padded), and where the key is.</summary>
    /// <remarks>
    /// Padding with the smallest byte keeps the order: a smaller prefix means a smaller key, and only
    /// equal prefixes need the whole keys compared.
    /// </remarks>
    private readonly record struct KeyPrefix(ulong Prefix, int Index)
    {
        public static ulong Of(byte[] key)
        {
            if (key.Length >= 8)
            {
                return BinaryPrimitives.ReadUInt64BigEndian(key);
            }

            Span<byte> padded = stackalloc byte[8];
            padded.Clear();
            key.CopyTo(padded);
            return BinaryPrimitives.ReadUInt64BigEndian(padded);
        }
    }

    private readonly struct KeyPrefixOrder(KeyValuePair<byte[], byte[]>[] pairs) : IComparer<KeyPrefix>
    {
        public int Compare(KeyPrefix x, KeyPrefix y) =>
            x.Prefix != y.Prefix
                ? x.Prefix.CompareTo(y.Prefix)
                : ByteArrayComparer.Instance.Compare(pairs[x.Index].Key, pairs[y.Index].Key);
    }

    /// <summary>Replaces one bucket with a chunk read elsewhere; the chunk must be canonical and belong here.</summary>
    public void WriteChunk(int bucket, ReadOnlySpan<byte> chunk)
    {
        var r = new CanonicalReader(chunk);
        var count = r.Count(int.MaxValue / 16);
        var replacement = new Dictionary<byte[], byte[]>(count, ByteArrayComparer.Instance);
        byte[]? previous = null;
        for (var i = 0; i < count; i++)
        {
            var key = r.Bytes(MaxKeyBytes);
            var value = r.Bytes(MaxValueBytes);
            if (BucketOf(key) != bucket || (previous is not null && ByteArrayComparer.Instance.Compare(previous, key) >= 0))
            {
                throw new MalformedMessageException("chunk entries out of order or in the wrong bucket");
            }

            replacement[key] = value;
            previous = key;
        }

        r.End();
        _count += replacement.Count - _buckets[bucket].Count;
        _buckets[bucket] = replacement;
        _dirty[bucket] = true;
    }
}
